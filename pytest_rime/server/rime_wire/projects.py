"""rime ProjectManager: create, get and list projects through the v1 servicer."""

from __future__ import annotations

import grpc

from pytest_rime.proto.rime import project_pb2, project_pb2_grpc, results_upload_pb2
from pytest_rime.proto.v1 import project_pb2 as v1
from pytest_rime.server.rime_wire.convert import page_size, timestamp
from pytest_rime.server.servicers.context import Backend
from pytest_rime.server.servicers.projects import ProjectManager as V1ProjectManager


def project_to_rime(project: v1.Project) -> project_pb2.Project:
    """A v1 project as the rime message."""
    return project_pb2.Project(
        id=project.id,
        name=project.name,
        description=project.description,
        created_time=timestamp(project.create_time_secs),
    )


class ProjectManager(project_pb2_grpc.ProjectManagerServicer):
    """Projects, annotated with their stress test run counts and web app links.

    Args:
        backend: The running server's parts.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._v1 = V1ProjectManager(backend)

    def _annotated(self, project: v1.Project, runs: int) -> project_pb2.AnnotatedProject:
        return project_pb2.AnnotatedProject(
            project=project_to_rime(project),
            test_run_count=runs,
            test_run_count_mapping=[
                project_pb2.TestRunCountMapping(
                    test_type=results_upload_pb2.STRESS_TESTING, test_run_count=runs
                )
            ],
            web_app_url=project_pb2.SafeURL(
                url=f"{self._backend.web_base_url}/projects/{project.id}"
            ),
        )

    def _run_counts(self) -> dict[str, int]:
        return {p.id: counts["runs"] for p, counts in self._backend.store.projects.with_counts()}

    def CreateProject(
        self, request: project_pb2.CreateProjectRequest, context: grpc.ServicerContext
    ) -> project_pb2.CreateProjectResponse:
        """Create a project (INVALID_ARGUMENT for an empty name)."""
        created = self._v1.CreateProject(
            v1.CreateProjectRequest(name=request.name, description=request.description), context
        )
        return project_pb2.CreateProjectResponse(project=project_to_rime(created.project))

    def GetProject(
        self, request: project_pb2.GetProjectRequest, context: grpc.ServicerContext
    ) -> project_pb2.GetProjectResponse:
        """One project (NOT_FOUND when there is no such project)."""
        found = self._v1.GetProject(v1.GetProjectRequest(project_id=request.project_id), context)
        runs = self._run_counts().get(found.project.id, 0)
        return project_pb2.GetProjectResponse(project=self._annotated(found.project, runs))

    def ListProjects(
        self, request: project_pb2.ListProjectsRequest, context: grpc.ServicerContext
    ) -> project_pb2.ListProjectsResponse:
        """One page of projects, oldest first."""
        page = self._v1.ListProjects(
            v1.ListProjectsRequest(
                page_token=request.page_token, page_size=page_size(request.page_size)
            ),
            context,
        )
        counts = self._run_counts()
        return project_pb2.ListProjectsResponse(
            projects=[self._annotated(p, counts.get(p.id, 0)) for p in page.projects],
            next_page_token=page.next_page_token,
        )
