"""RIMEProject: a project in the RIME backend."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_rime.proto.v1 import project_pb2


@dataclass(frozen=True)
class RIMEProject:
    """This object describes a project in the RIME backend.

    Attributes:
        project_id: How to refer to the project in the backend. Use this attribute to specify
            the project for the backend in ``start_stress_test()`` and
            ``list_stress_test_jobs()``.
        name: Name of the project.
        description: Description of the project.
    """

    project_id: str
    name: str
    description: str

    @classmethod
    def from_proto(cls, project: project_pb2.Project) -> RIMEProject:
        """The project a ``Project`` message describes."""
        return cls(project_id=project.id, name=project.name, description=project.description)
