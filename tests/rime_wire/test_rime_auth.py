"""Every rime RPC needs the API key; health reports the rime services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from pytest_rime.proto.rime import project_pb2
from pytest_rime.server.app import RunningServer
from pytest_rime.server.rime_wire import RIME_SERVICE_NAMES

KEY = "secret-key"


def _rpcs() -> list[tuple[str, bool, type]]:
    """``(path, server streaming, request class)`` of every registered rime RPC."""
    pool = descriptor_pool.Default()
    found = []
    for service_name in RIME_SERVICE_NAMES:
        service = pool.FindServiceByName(service_name)
        for method in service.methods:
            request_class = message_factory.GetMessageClass(method.input_type)
            found.append(
                (f"/{service.full_name}/{method.name}", method.server_streaming, request_class)
            )
    return found


RPCS = _rpcs()


@pytest.fixture
def keyed_server(rime_server_factory: Callable[..., RunningServer]) -> RunningServer:
    return rime_server_factory(api_keys=(KEY,))


def _call(
    channel: grpc.Channel, path: str, streaming: bool, request: Message, **kwargs: Any
) -> Any:
    """Call ``path`` with ``request``; the raw response bytes (a list of them if streaming)."""
    serialize = type(request).SerializeToString
    if streaming:
        return list(channel.unary_stream(path, request_serializer=serialize)(request, **kwargs))
    return channel.unary_unary(path, request_serializer=serialize)(request, **kwargs)


def test_the_rime_wire_covers_what_the_client_calls() -> None:
    called = {
        "ProjectManager": ["CreateProject", "GetProject", "ListProjects"],
        "ModelTesting": [
            "GetTestJob",
            "ListTestJobs",
            "StartStressTest",
            "GetLatestLogs",
            "RunFirewallIncrementalData",
            "StartFirewallFromReference",
        ],
        "TestRunTracker": ["GetOperationState"],
        "ResultsReader": ["GetTestRun", "ListTestCases"],
        "ImageRegistry": ["CreateImage", "GetImage", "ListImages"],
        "FirewallService": ["CreateFirewall", "UpdateFirewall", "ListFirewalls", "ConvertIDs"],
    }
    expected = {f"/rime.{service}/{m}" for service, methods in called.items() for m in methods}
    assert expected <= {path for path, _, _ in RPCS}


@pytest.mark.parametrize(("path", "streaming", "request_class"), RPCS, ids=[r[0] for r in RPCS])
@pytest.mark.parametrize("metadata", [(), (("rime-api-key", "wrong"),)], ids=["none", "wrong"])
def test_every_rime_rpc_refuses_a_missing_or_wrong_key(
    keyed_server: RunningServer,
    path: str,
    streaming: bool,
    request_class: type,
    metadata: tuple[tuple[str, str], ...],
) -> None:
    with (
        grpc.insecure_channel(keyed_server.address) as channel,
        pytest.raises(grpc.RpcError) as info,
    ):
        _call(channel, path, streaming, request_class(), metadata=metadata)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_right_key_passes_and_health_reports_the_rime_services(
    keyed_server: RunningServer,
) -> None:
    with grpc.insecure_channel(keyed_server.address) as channel:
        request = project_pb2.CreateProjectRequest(name="keyed")
        created = _call(
            channel,
            "/rime.ProjectManager/CreateProject",
            False,
            request,
            metadata=(("rime-api-key", KEY),),
        )
        assert project_pb2.CreateProjectResponse.FromString(created).project.name == "keyed"
        health = health_pb2_grpc.HealthStub(channel)
        for service in RIME_SERVICE_NAMES:
            status = health.Check(health_pb2.HealthCheckRequest(service=service)).status
            assert status == health_pb2.HealthCheckResponse.SERVING, service
