"""rime FileUpload: presigned-style upload URLs on the web port (see ``upload_urls``)."""

from __future__ import annotations

import grpc

from pytest_rime.proto.rime import file_upload_pb2, file_upload_pb2_grpc
from pytest_rime.server.upload_urls import UploadUrls


class FileUpload(file_upload_pb2_grpc.FileUploadServicer):
    """Hand out the URLs the client PUTs a dataset file or a model directory to.

    Args:
        upload_urls: The server's upload URLs (shared with the web app, which receives the PUTs).
    """

    def __init__(self, upload_urls: UploadUrls) -> None:
        self._upload_urls = upload_urls

    def GetDatasetFileUploadURL(
        self,
        request: file_upload_pb2.GetDatasetFileUploadURLRequest,
        context: grpc.ServicerContext,
    ) -> file_upload_pb2.GetDatasetFileUploadURLResponse:
        """URLs for one file (INVALID_ARGUMENT for a name that is not a plain file name)."""
        grant = self._upload_urls.dataset_file(request.file_name)
        return file_upload_pb2.GetDatasetFileUploadURLResponse(
            upload_url=grant.upload_urls[request.file_name],
            done_file_upload_url=grant.done_url,
            destination_url=grant.destination,
            upload_limit=grant.limit_bytes,
        )

    def GetModelDirectoryUploadURLs(
        self,
        request: file_upload_pb2.GetModelDirectoryUploadURLsRequest,
        context: grpc.ServicerContext,
    ) -> file_upload_pb2.GetModelDirectoryUploadURLsResponse:
        """URLs for each file of a directory (INVALID_ARGUMENT: none, a repeated or unsafe path)."""
        grant = self._upload_urls.model_directory(list(request.relative_file_paths))
        return file_upload_pb2.GetModelDirectoryUploadURLsResponse(
            upload_path_map=grant.upload_urls,
            done_file_upload_url=grant.done_url,
            destination_url=grant.destination,
            upload_limit=grant.limit_bytes,
        )
