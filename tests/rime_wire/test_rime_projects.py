"""rime ProjectManager on a real server: create, get, list, and its errors."""

from __future__ import annotations

import grpc
from rime_wire_helpers import RimeStubs, code_of

from pytest_rime.proto.rime import project_pb2, results_upload_pb2
from pytest_rime.server.app import RunningServer


def test_create_get_and_list_projects(stubs: RimeStubs, rime_server: RunningServer) -> None:
    created = stubs.projects.CreateProject(
        project_pb2.CreateProjectRequest(name="fraud", description="card fraud")
    ).project
    assert (created.name, created.description) == ("fraud", "card fraud")
    assert created.id and created.created_time.seconds > 0

    got = stubs.projects.GetProject(project_pb2.GetProjectRequest(project_id=created.id)).project
    assert got.project == created
    assert got.test_run_count == 0
    assert [(m.test_type, m.test_run_count) for m in got.test_run_count_mapping] == [
        (results_upload_pb2.STRESS_TESTING, 0)
    ]
    assert got.web_app_url.url == f"{rime_server.web_base_url}/projects/{created.id}"

    for name in ("b", "c"):
        stubs.projects.CreateProject(project_pb2.CreateProjectRequest(name=name))
    first = stubs.projects.ListProjects(project_pb2.ListProjectsRequest(page_size=2))
    rest = stubs.projects.ListProjects(
        project_pb2.ListProjectsRequest(page_token=first.next_page_token, page_size=2)
    )
    names = [p.project.name for p in [*first.projects, *rest.projects]]
    # The server's default project is the oldest.
    assert names == ["default", "fraud", "b", "c"]
    assert first.next_page_token and not rest.next_page_token
    # page_size is an int64 on this wire: a huge one means "as many as allowed".
    everything = stubs.projects.ListProjects(project_pb2.ListProjectsRequest(page_size=2**40))
    assert len(everything.projects) == 4


def test_project_errors(stubs: RimeStubs) -> None:
    assert (
        code_of(lambda: stubs.projects.CreateProject(project_pb2.CreateProjectRequest(name=" ")))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        code_of(lambda: stubs.projects.GetProject(project_pb2.GetProjectRequest(project_id="nope")))
        == grpc.StatusCode.NOT_FOUND
    )
    for bad in (
        project_pb2.ListProjectsRequest(page_token="not-a-token"),
        project_pb2.ListProjectsRequest(page_size=-1),
    ):
        assert (
            code_of(lambda bad=bad: stubs.projects.ListProjects(bad))
            == grpc.StatusCode.INVALID_ARGUMENT
        )
