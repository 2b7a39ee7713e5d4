"""ProjectManager and ServerInfo servicers."""

from __future__ import annotations

import grpc

from pytest_rime.proto.v1 import project_pb2, project_pb2_grpc
from pytest_rime.server.convert import project_to_proto
from pytest_rime.server.distribution import VERSION
from pytest_rime.server.servicers.context import BackendServicer


class ProjectManager(BackendServicer, project_pb2_grpc.ProjectManagerServicer):
    """Create, get and list projects."""

    def CreateProject(
        self, request: project_pb2.CreateProjectRequest, context: grpc.ServicerContext
    ) -> project_pb2.CreateProjectResponse:
        """Create a project."""
        project = self._backend.store.projects.create(request.name, request.description)
        return project_pb2.CreateProjectResponse(project=project_to_proto(project))

    def GetProject(
        self, request: project_pb2.GetProjectRequest, context: grpc.ServicerContext
    ) -> project_pb2.GetProjectResponse:
        """Get one project."""
        project = self._backend.store.projects.get(request.project_id)
        return project_pb2.GetProjectResponse(project=project_to_proto(project))

    def ListProjects(
        self, request: project_pb2.ListProjectsRequest, context: grpc.ServicerContext
    ) -> project_pb2.ListProjectsResponse:
        """One page of projects."""
        page = self._backend.store.projects.page(request.page_token, request.page_size)
        return project_pb2.ListProjectsResponse(
            projects=[project_to_proto(p) for p in page.items],
            next_page_token=page.next_page_token,
        )


class ServerInfo(BackendServicer, project_pb2_grpc.ServerInfoServicer):
    """Version, web app address, default project and upload limit."""

    def GetServerInfo(
        self, request: project_pb2.GetServerInfoRequest, context: grpc.ServicerContext
    ) -> project_pb2.GetServerInfoResponse:
        """Facts about this server."""
        return project_pb2.GetServerInfoResponse(
            version=VERSION,
            web_base_url=self._backend.web_base_url,
            default_project_id=self._backend.store.default_project_id,
            upload_limit_bytes=self._backend.blobs.limit_bytes,
        )
