"""API keys and TLS on the server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from server_helpers import details, write_self_signed_cert

from pytest_rime.proto.v1 import (
    model_testing_pb2,
    model_testing_pb2_grpc,
    project_pb2,
    project_pb2_grpc,
    upload_pb2,
    upload_pb2_grpc,
)
from pytest_rime.server.app import RunningServer

KEYS = ("first-key", "second-key")
Metadata = tuple[tuple[str, str], ...]


def _calls(channel: grpc.Channel, metadata: Metadata) -> list[Callable[[], object]]:
    """One call of each RPC shape: unary, server streaming, client streaming."""
    info = project_pb2_grpc.ServerInfoStub(channel)
    jobs = model_testing_pb2_grpc.ModelTestingStub(channel)
    uploads = upload_pb2_grpc.FileUploadStub(channel)
    logs_request = model_testing_pb2.GetLatestLogsRequest(job_id="x")
    return [
        lambda: info.GetServerInfo(project_pb2.GetServerInfoRequest(), metadata=metadata),
        lambda: list(jobs.GetLatestLogs(logs_request, metadata=metadata)),
        lambda: uploads.UploadFile(
            iter([upload_pb2.UploadChunk(relative_path="a", data=b"1")]), metadata=metadata
        ),
    ]


@pytest.mark.parametrize("metadata", [(), (("rime-api-key", "wrong"),), (("other", KEYS[0]),)])
def test_missing_or_wrong_api_key_is_unauthenticated(
    rime_server_factory: Callable[..., RunningServer], metadata: Metadata
) -> None:
    server = rime_server_factory(api_keys=KEYS)
    with grpc.insecure_channel(server.address) as channel:
        for call in _calls(channel, metadata):
            with pytest.raises(grpc.RpcError) as info:
                call()
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "rime-api-key" in details(info.value)
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("key", KEYS)
def test_a_configured_api_key_is_accepted(
    rime_server_factory: Callable[..., RunningServer], key: str
) -> None:
    server = rime_server_factory(api_keys=KEYS)
    with grpc.insecure_channel(server.address) as channel:
        unary, streaming, upload = _calls(channel, (("rime-api-key", key),))
        assert unary().default_project_id  # type: ignore[attr-defined]
        with pytest.raises(grpc.RpcError) as info:
            streaming()
        assert info.value.code() == grpc.StatusCode.NOT_FOUND  # past auth: the job is unknown
        assert upload().num_files == 1  # type: ignore[attr-defined]


@pytest.fixture
def self_signed_cert(tmp_path: Path) -> tuple[Path, Path]:
    return write_self_signed_cert(tmp_path)


def test_tls_server_accepts_tls_clients_only(
    rime_server_factory: Callable[..., RunningServer], self_signed_cert: tuple[Path, Path]
) -> None:
    cert, key = self_signed_cert
    server = rime_server_factory(tls_cert=cert, tls_key=key, api_keys=KEYS)
    credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    with grpc.secure_channel(f"localhost:{server.port}", credentials) as channel:
        info = project_pb2_grpc.ServerInfoStub(channel).GetServerInfo(
            project_pb2.GetServerInfoRequest(), metadata=(("rime-api-key", KEYS[0]),), timeout=10
        )
        assert info.default_project_id
    with grpc.insecure_channel(server.address) as plain:
        with pytest.raises(grpc.RpcError) as error:
            project_pb2_grpc.ServerInfoStub(plain).GetServerInfo(
                project_pb2.GetServerInfoRequest(), timeout=5
            )
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
