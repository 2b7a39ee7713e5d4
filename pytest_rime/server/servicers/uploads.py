"""FileUpload servicer: client-streamed files into the blob store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import grpc

from pytest_rime.proto.v1 import upload_pb2, upload_pb2_grpc
from pytest_rime.server.blobs import UploadResult
from pytest_rime.server.servicers.context import BackendServicer


def _pairs(chunks: Iterable[upload_pb2.UploadChunk]) -> Iterator[tuple[str, bytes]]:
    for chunk in chunks:
        yield chunk.relative_path, chunk.data


def _response(result: UploadResult) -> upload_pb2.UploadResponse:
    return upload_pb2.UploadResponse(
        rime_uri=result.rime_uri, num_files=result.num_files, size_bytes=result.size_bytes
    )


class FileUpload(BackendServicer, upload_pb2_grpc.FileUploadServicer):
    """Upload a file or a directory; answer its stable ``rime://`` reference."""

    def UploadFile(
        self, request_iterator: Iterator[upload_pb2.UploadChunk], context: grpc.ServicerContext
    ) -> upload_pb2.UploadResponse:
        """Store one file."""
        return _response(self._backend.blobs.upload_file(_pairs(request_iterator)))

    def UploadDirectory(
        self, request_iterator: Iterator[upload_pb2.UploadChunk], context: grpc.ServicerContext
    ) -> upload_pb2.UploadResponse:
        """Store a directory tree."""
        return _response(self._backend.blobs.upload_directory(_pairs(request_iterator)))
