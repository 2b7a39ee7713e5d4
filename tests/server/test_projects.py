"""Projects, server info, pagination and error mapping through a real server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from server_helpers import details

from pytest_rime.proto.v1 import project_pb2, project_pb2_grpc


def test_default_project_is_in_server_info(rime_channel: grpc.Channel) -> None:
    info = project_pb2_grpc.ServerInfoStub(rime_channel).GetServerInfo(
        project_pb2.GetServerInfoRequest()
    )
    project = (
        project_pb2_grpc.ProjectManagerStub(rime_channel)
        .GetProject(project_pb2.GetProjectRequest(project_id=info.default_project_id))
        .project
    )
    assert project.name == "default"
    assert info.web_base_url.startswith("http://127.0.0.1:")
    assert info.upload_limit_bytes > 0


def test_create_get_and_paginate_projects(rime_channel: grpc.Channel) -> None:
    stub = project_pb2_grpc.ProjectManagerStub(rime_channel)
    created = [
        stub.CreateProject(
            project_pb2.CreateProjectRequest(name=f"p{i}", description=f"d{i}")
        ).project
        for i in range(5)
    ]
    fetched = stub.GetProject(project_pb2.GetProjectRequest(project_id=created[2].id)).project
    assert (fetched.name, fetched.description) == ("p2", "d2")

    seen, token, pages = [], "", 0
    while True:
        response = stub.ListProjects(project_pb2.ListProjectsRequest(page_size=2, page_token=token))
        assert len(response.projects) <= 2
        seen += [p.name for p in response.projects]
        pages += 1
        token = response.next_page_token
        if not token:
            break
    assert seen == ["default", "p0", "p1", "p2", "p3", "p4"]
    assert pages == 3
    everything = stub.ListProjects(project_pb2.ListProjectsRequest())
    assert len(everything.projects) == 6
    assert everything.next_page_token == ""


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (project_pb2.GetProjectRequest(project_id="nope"), grpc.StatusCode.NOT_FOUND),
        (project_pb2.CreateProjectRequest(name="  "), grpc.StatusCode.INVALID_ARGUMENT),
        (project_pb2.ListProjectsRequest(page_token="garbage!"), grpc.StatusCode.INVALID_ARGUMENT),
        (project_pb2.ListProjectsRequest(page_size=-1), grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_errors_map_to_status_codes(
    rime_channel: grpc.Channel, request_: object, code: grpc.StatusCode
) -> None:
    stub = project_pb2_grpc.ProjectManagerStub(rime_channel)
    methods: dict[str, Callable[[Any], object]] = {
        "GetProjectRequest": stub.GetProject,
        "CreateProjectRequest": stub.CreateProject,
        "ListProjectsRequest": stub.ListProjects,
    }
    with pytest.raises(grpc.RpcError) as info:
        methods[type(request_).__name__](request_)
    assert info.value.code() == code
    assert details(info.value)
