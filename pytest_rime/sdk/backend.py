"""RIMEBackend: one gRPC channel to a RIME server, a stub per service, and safe calls.

Every call made through :class:`RIMEBackend` has a timeout and turns ``grpc.RpcError`` into
:class:`~pytest_rime.sdk.errors.RIMEError` naming the RPC.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from pytest_rime.proto.v1 import (
    firewall_pb2_grpc,
    image_registry_pb2_grpc,
    model_testing_pb2,
    model_testing_pb2_grpc,
    project_pb2,
    project_pb2_grpc,
    results_pb2_grpc,
    upload_pb2,
    upload_pb2_grpc,
)
from pytest_rime.sdk.errors import from_rpc_error, rime_error

DEFAULT_RPC_TIMEOUT_SECS = 30.0
"""Deadline of every unary call."""

MIN_UPLOAD_BYTES_PER_SEC = 1 << 20
"""Uploads get ``DEFAULT_RPC_TIMEOUT_SECS`` plus one second per MiB sent."""

RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)


def _rpc_name(request: Message) -> str:
    return type(request).__name__.removesuffix("Request")


class RIMEBackend:
    """The RIME backend services reached over one gRPC channel.

    Attributes:
        address: ``host:port`` of the server, used in messages.
        rpc_timeout_secs: Deadline of each unary call in seconds.
    """

    def __init__(
        self,
        channel: grpc.Channel,
        *,
        address: str,
        rpc_timeout_secs: float = DEFAULT_RPC_TIMEOUT_SECS,
        owned_channel: grpc.Channel | None = None,
    ) -> None:
        """Wrap ``channel``.

        Args:
            channel: The channel to call on (may be an intercepted channel).
            address: ``host:port`` of the server, used in messages.
            rpc_timeout_secs: Deadline of each unary call in seconds.
            owned_channel: The underlying channel :meth:`close` closes (default ``channel``).
        """
        self.address = address
        self.rpc_timeout_secs = rpc_timeout_secs
        self._owned_channel = owned_channel or channel
        self._closed = False
        self.projects = project_pb2_grpc.ProjectManagerStub(channel)
        self.server_info = project_pb2_grpc.ServerInfoStub(channel)
        self.uploads = upload_pb2_grpc.FileUploadStub(channel)
        self.model_testing = model_testing_pb2_grpc.ModelTestingStub(channel)
        self.results = results_pb2_grpc.ResultsReaderStub(channel)
        self.images = image_registry_pb2_grpc.ImageRegistryStub(channel)
        self.firewalls = firewall_pb2_grpc.FirewallServiceStub(channel)

    def call(
        self, method: grpc.UnaryUnaryMultiCallable[RequestT, ResponseT], request: RequestT
    ) -> ResponseT:
        """Make one unary call with the backend's deadline.

        Raises:
            RIMEError: The call failed; the message names the RPC and the server's details.
        """
        self._check_open(_rpc_name(request))
        try:
            return method(request, timeout=self.rpc_timeout_secs)
        except grpc.RpcError as error:
            raise from_rpc_error(_rpc_name(request), error) from error

    def stream(
        self, method: grpc.UnaryStreamMultiCallable[RequestT, ResponseT], request: RequestT
    ) -> Iterator[ResponseT]:
        """Yield the responses of a server-streaming call made with the backend's deadline.

        Raises:
            RIMEError: The call failed; the message names the RPC and the server's details.
        """
        self._check_open(_rpc_name(request))
        try:
            yield from method(request, timeout=self.rpc_timeout_secs)
        except grpc.RpcError as error:
            raise from_rpc_error(_rpc_name(request), error) from error

    def upload(
        self,
        method: grpc.StreamUnaryMultiCallable[upload_pb2.UploadChunk, upload_pb2.UploadResponse],
        chunks: Iterator[upload_pb2.UploadChunk],
        *,
        rpc: str,
        size_bytes: int,
    ) -> upload_pb2.UploadResponse:
        """Stream ``chunks`` to a client-streaming upload RPC.

        Args:
            method: ``self.uploads.UploadFile`` or ``self.uploads.UploadDirectory``.
            chunks: The chunks to send.
            rpc: Name of the RPC for messages.
            size_bytes: Total bytes sent; the deadline grows with it.

        Raises:
            RIMEError: The upload failed; the message names the RPC and the server's details.
        """
        self._check_open(rpc)
        timeout = self.rpc_timeout_secs + size_bytes / MIN_UPLOAD_BYTES_PER_SEC
        try:
            return method(chunks, timeout=timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(rpc, error) from error

    @cached_property
    def info(self) -> project_pb2.GetServerInfoResponse:
        """The server's version, web app URL, default project and limits (fetched once).

        Raises:
            RIMEError: The ServerInfo request failed.
        """
        return self.call(self.server_info.GetServerInfo, project_pb2.GetServerInfoRequest())

    @property
    def web_base_url(self) -> str:
        """Base URL of the server's web app, without a trailing ``/``.

        Raises:
            RIMEError: The ServerInfo request failed.
        """
        return self.info.web_base_url.rstrip("/")

    def get_job(self, job_id: str) -> model_testing_pb2.Job:
        """Fetch one job.

        Raises:
            RIMEError: The job does not exist or the request failed.
        """
        request = model_testing_pb2.GetTestJobRequest(job_id=job_id)
        return self.call(self.model_testing.GetTestJob, request).job

    def get_job_logs(self, job_id: str, max_bytes: int = 0) -> str:
        """The log of a job (only its last ``max_bytes`` bytes when ``max_bytes`` > 0).

        Raises:
            RIMEError: The job does not exist or the request failed.
        """
        request = model_testing_pb2.GetLatestLogsRequest(job_id=job_id, max_bytes=max_bytes)
        return "".join(
            chunk.text for chunk in self.stream(self.model_testing.GetLatestLogs, request)
        )

    def _check_open(self, rpc: str) -> None:
        if self._closed:
            raise rime_error(
                f"RIME backend request {rpc} not sent: the client of {self.address} is closed",
                code=grpc.StatusCode.CANCELLED,
                details="client closed",
                rpc=rpc,
            )

    def close(self) -> None:
        """Close the channel; calls made afterwards raise :class:`RIMEError`."""
        self._closed = True
        self._owned_channel.close()

    def __repr__(self) -> str:
        return f"RIMEBackend(address={self.address!r})"
