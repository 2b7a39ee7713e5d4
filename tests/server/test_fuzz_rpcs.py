"""Fuzz every RPC of every v1 service: no request gets UNKNOWN or INTERNAL, or leaks a path.

Requests are built by hypothesis from the services' message descriptors (found by iterating
the ``*_pb2`` modules of :mod:`pytest_rime.proto.v1`, so a new RPC is fuzzed without an edit
here): strings include long and odd Unicode, path tricks and near-valid or deeply nested JSON
configs; integers reach their type's limits; enums take unknown numbers too. One real server
(``max_concurrent_jobs=1``, the defaults of ``rime serve`` for paths and images, pip without
an index) answers them all. A request that starts a job is followed by ``CancelJob`` for it,
so at most one worker runs at a time and no job outlives its example.

The default suite runs :data:`EXAMPLES` examples per RPC; a longer run is one command::

    RIME_FUZZ_EXAMPLES=2000 pytest tests/server/test_fuzz_rpcs.py
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest_rime.proto.v1 as proto_v1
from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.registry import PARAM_RANGES
from pytest_rime.proto.v1 import (
    common_pb2,
    model_testing_pb2,
    model_testing_pb2_grpc,
    project_pb2,
    project_pb2_grpc,
)
from pytest_rime.server.app import RunningServer, create_server
from pytest_rime.server.settings import ServerSettings

EXAMPLES = int(os.environ.get("RIME_FUZZ_EXAMPLES", "25"))
"""Examples per RPC (``RIME_FUZZ_EXAMPLES`` overrides the default suite's 25)."""

FORBIDDEN_CODES = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)

ODD_STRINGS = (
    "",
    ".",
    "..",
    "../../../etc/passwd",
    "/etc/passwd",
    "/bin/sh",
    "~",
    "file:///etc/passwd",
    "simplecache::file:///etc/passwd",
    "memory://fuzz/ref.csv",
    "rime://uploads/../rime.db",
    "rime://uploads/0123456789abcdef/ref.csv",
    "rime://uploads/" + "/".join(["d"] * 2000),
    "rime://uploads/" + "a" * 253 + "/ref.csv",
    "x" * 256,
    "é" * 300,
    "/".join(["d"] * 2000),
    "a\x00b",
    "\u202e\ufeff\U0001f600",
    "%s%n{0}",
    "' OR 1=1 --",
    "==1.0",
    "-e .",
)

INT_LIMITS = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}

JOB_STARTING = {
    "StartStressTest",
    "StartFirewallFromReference",
    "RunFirewallIncrementalData",
    "CreateImage",
}
"""RPCs whose response carries the job they queued (cancelled at once by the fuzz test)."""

FINISHED = (
    common_pb2.JOB_STATUS_SUCCEEDED,
    common_pb2.JOB_STATUS_FAILED,
    common_pb2.JOB_STATUS_CANCELLED,
)


@dataclass(frozen=True)
class Rpc:
    """One RPC of a v1 service."""

    service: str
    method: MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.method.name}"

    def __str__(self) -> str:
        return f"{self.service.rsplit('.', 1)[-1]}.{self.method.name}"


def _rpcs() -> list[Rpc]:
    rpcs = []
    for module in pkgutil.iter_modules(proto_v1.__path__):
        if module.name.endswith("_pb2"):
            file = importlib.import_module(f"{proto_v1.__name__}.{module.name}").DESCRIPTOR
            for service in file.services_by_name.values():
                rpcs += [Rpc(service.full_name, method) for method in service.methods]
    return rpcs


RPCS = _rpcs()

# -- strategies -------------------------------------------------------------------------------


def _texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=40),
        st.sampled_from(ODD_STRINGS),
        st.text(min_size=200, max_size=3000),
    )


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        _texts(),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=12,
    )


def _near_valid_config() -> st.SearchStrategy[dict[str, Any]]:
    """Configs with the real keys, test ids and parameters, and fuzzed values.

    Paths and numbers are often valid, so requests also get past validation (and start jobs).
    """
    paths = st.one_of(
        st.sampled_from(["memory://fuzz/ref.csv", "memory://fuzz/eval.csv", "s3://b/k.csv"]),
        st.sampled_from(ODD_STRINGS),
        _texts(),
    )
    numbers = st.one_of(
        st.sampled_from([1, 0.5, 10, -1, 0, 10**7]),
        st.integers(min_value=-(2**64), max_value=2**64),
        st.floats(),
    )
    test_ids = sorted({spec.test_id for spec in all_tests()})
    tests_config = st.dictionaries(
        st.sampled_from(test_ids),
        st.dictionaries(st.sampled_from([*PARAM_RANGES, "enabled", "thresholds"]), numbers),
        max_size=3,
    )
    return st.fixed_dictionaries(
        {
            "data_info": st.fixed_dictionaries(
                {"ref_path": paths, "eval_path": paths},
                optional={"label_col": _texts(), "nrows": numbers, "timestamp_col": _texts()},
            )
        },
        optional={
            "model_info": st.fixed_dictionaries({"path": paths}),
            "tests_config": tests_config,
            "random_seed": numbers,
            "data_type": st.sampled_from(["tabular", "nlp", "images", "?"]),
            "monitoring_info": st.fixed_dictionaries(
                {}, optional={"timestamp_col": _texts(), "bin_size": numbers}
            ),
            "eval_path": paths,
            "timestamp_col": _texts(),
            "job_timeout_secs": numbers,
        },
    )


def _config_json() -> st.SearchStrategy[str]:
    deep = st.integers(min_value=60, max_value=100_000).map(
        lambda n: '{"a": ' + "[" * n + "]" * n + "}"
    )
    return st.one_of(
        _near_valid_config().map(json.dumps),
        _json_values().map(json.dumps),
        deep,
        st.integers(min_value=1, max_value=100_000).map(lambda n: "[" * n),
        _texts(),
    )


def _scalar(field: FieldDescriptor, ids: tuple[str, ...]) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        if field.name.endswith("_json"):
            return _config_json()
        if field.name.endswith("_id"):
            return st.one_of(st.sampled_from(ids), _texts())
        return _texts()
    if kind in INT_LIMITS:
        low, high = INT_LIMITS[kind]
        return st.one_of(
            st.integers(min_value=low, max_value=high),
            st.sampled_from([low, high, 0, -1 if low < 0 else 1, 2**31 - 1, 1_048_577]).filter(
                lambda value: low <= value <= high
            ),
        )
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(width=64 if kind == FieldDescriptor.TYPE_DOUBLE else 32)
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=2000)
    if kind == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        known = [value.number for value in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(min_value=-3, max_value=1000))
    raise AssertionError(f"no strategy for field {field.full_name} of type {kind}")


def _message(
    descriptor: Descriptor, ids: tuple[str, ...], depth: int = 0
) -> st.SearchStrategy[Any]:
    """A strategy for a message of ``descriptor`` (fields set or left at their defaults)."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        if field.message_type is not None:
            if depth >= 3:
                continue
            value = _message(field.message_type, ids, depth + 1)
        else:
            value = _scalar(field, ids)
        fields[field.name] = st.lists(value, max_size=3) if field.is_repeated else value
    cls = GetMessageClass(descriptor)
    return st.fixed_dictionaries({}, optional=fields).map(lambda values: _build(cls, values))


def _build(cls: type[Message], values: dict[str, Any]) -> Message:
    message = cls()
    for name, value in values.items():
        target = getattr(message, name)
        if isinstance(value, list):
            target.extend(value)
        elif isinstance(value, Message):
            target.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


# -- the server and the calls -----------------------------------------------------------------


@dataclass
class Target:
    """The fuzzed server, a channel to it and ids that exist on it."""

    server: RunningServer
    channel: grpc.Channel
    ids: tuple[str, ...]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = create_server(
        ServerSettings(
            data_dir=tmp_path_factory.mktemp("fuzz-data"),
            host="127.0.0.1",
            port=0,
            web_port=0,
            max_concurrent_jobs=1,
            no_pip_index=True,
            cancel_grace_secs=0.5,
        )
    )
    try:
        with grpc.insecure_channel(server.address) as channel:
            info = project_pb2_grpc.ServerInfoStub(channel).GetServerInfo(
                project_pb2.GetServerInfoRequest()
            )
            yield Target(server, channel, (info.default_project_id,))
    finally:
        server.stop(grace=0)


def _call(channel: grpc.Channel, rpc: Rpc, request: Message) -> Any:
    output = GetMessageClass(rpc.method.output_type)
    serializer: Callable[[Message], bytes] = type(request).SerializeToString
    kinds = (rpc.method.client_streaming, rpc.method.server_streaming)
    if kinds == (True, False):
        upload = channel.stream_unary(rpc.path, serializer, output.FromString)
        return upload(iter([request, request]), timeout=60)
    if kinds == (False, True):
        stream = channel.unary_stream(rpc.path, serializer, output.FromString)
        return list(stream(request, timeout=60))
    assert kinds == (False, False), f"{rpc}: bidirectional streaming is not fuzzed"
    return channel.unary_unary(rpc.path, serializer, output.FromString)(request, timeout=60)


def _cancel(channel: grpc.Channel, job_id: str) -> None:
    """Cancel a job the fuzz started; the answer comes once it has stopped."""
    request = model_testing_pb2.CancelJobRequest(job_id=job_id)
    job = model_testing_pb2_grpc.ModelTestingStub(channel).CancelJob(request, timeout=60).job
    assert job.status in FINISHED, job


def test_every_service_is_fuzzed() -> None:
    services = {rpc.service.rsplit(".", 1)[-1] for rpc in RPCS}
    assert {"FileUpload", "ModelTesting", "ImageRegistry", "FirewallService"} <= services
    assert len(RPCS) >= 25


@pytest.mark.parametrize("rpc", RPCS, ids=str)
def test_no_request_gets_unknown_or_internal_or_a_server_path(target: Target, rpc: Rpc) -> None:
    data_dir = str(target.server.data_dir)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=_message(rpc.method.input_type, target.ids))
    def check(request: Message) -> None:
        try:
            response = _call(target.channel, rpc, request)
        except grpc.RpcError as error:
            code, message = error.code(), str(error.details() or "")
            assert code not in FORBIDDEN_CODES, f"{rpc}: {code.name}: {message}"
            assert data_dir not in message, f"{rpc}: {code.name} names the data dir: {message}"
            return
        if rpc.method.name in JOB_STARTING:
            _cancel(target.channel, response.job.id)

    check()
