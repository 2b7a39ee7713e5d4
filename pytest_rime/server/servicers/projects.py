"""ProjectManager and ServerInfo servicers."""

from __future__ import annotations

import grpc

import pytest_rime
from pytest_rime.proto.v1 import project_pb2, project_pb2_grpc
from pytest_rime.server.convert import project_to_proto
from pytest_rime.server.servicers.context import Backend


class ProjectManager(project_pb2_grpc.ProjectManagerServicer):
    """Create, get and list projects."""

    def __init__(self, backend: Backend) -> None:
        self._store = backend.store

    def CreateProject(
        self, request: project_pb2.CreateProjectRequest, context: grpc.ServicerContext
    ) -> project_pb2.CreateProjectResponse:
        """Create a project."""
        project = self._store.create_project(request.name, request.description)
        return project_pb2.CreateProjectResponse(project=project_to_proto(project))

    def GetProject(
        self, request: project_pb2.GetProjectRequest, context: grpc.ServicerContext
    ) -> project_pb2.GetProjectResponse:
        """Get one project."""
        project = self._store.get_project(request.project_id)
        return project_pb2.GetProjectResponse(project=project_to_proto(project))

    def ListProjects(
        self, request: project_pb2.ListProjectsRequest, context: grpc.ServicerContext
    ) -> project_pb2.ListProjectsResponse:
        """One page of projects."""
        page = self._store.list_projects(request.page_token, request.page_size)
        return project_pb2.ListProjectsResponse(
            projects=[project_to_proto(p) for p in page.items],
            next_page_token=page.next_page_token,
        )


class ServerInfo(project_pb2_grpc.ServerInfoServicer):
    """Version, web app address, default project and upload limit."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def GetServerInfo(
        self, request: project_pb2.GetServerInfoRequest, context: grpc.ServicerContext
    ) -> project_pb2.GetServerInfoResponse:
        """Facts about this server."""
        return project_pb2.GetServerInfoResponse(
            version=pytest_rime.__version__,
            web_base_url=self._backend.web_base_url,
            default_project_id=self._backend.store.default_project_id,
            upload_limit_bytes=self._backend.blobs.limit_bytes,
        )
