"""gRPC failures become RIMEError (a ValueError) and the API key travels on every call kind.

A tiny real gRPC server with raw-bytes methods stands in for the backend here, so the mapping
of every status code can be exercised; the integration tests use the real RIME server.
"""

from __future__ import annotations

import json
import pickle
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from pytest_rime.sdk import errors
from pytest_rime.sdk.channel import API_KEY_METADATA_KEY, open_channel

_SERVICE = "test.Probe"


def _abort(request: bytes, context: grpc.ServicerContext) -> bytes:
    context.abort(grpc.StatusCode[request.decode()], f"probe says {request.decode()}")
    raise AssertionError("abort returns only by raising")


def _metadata(request: bytes, context: grpc.ServicerContext) -> bytes:
    return json.dumps(dict(context.invocation_metadata())).encode()


def _hang(request: bytes, context: grpc.ServicerContext) -> bytes:
    ended = threading.Event()
    context.add_callback(ended.set)  # runs when the client's deadline ends the call
    ended.wait(5)
    return b""


def _stream_metadata(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield _metadata(request, context)


def _collect_metadata(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
    assert list(requests) == [b"a", b"b"]
    return _metadata(b"", context)


@pytest.fixture(scope="module")
def probe_address() -> Iterator[str]:
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    handler = grpc.method_handlers_generic_handler(
        _SERVICE,
        {
            "Abort": grpc.unary_unary_rpc_method_handler(_abort),
            "Metadata": grpc.unary_unary_rpc_method_handler(_metadata),
            "Hang": grpc.unary_unary_rpc_method_handler(_hang),
            "StreamMetadata": grpc.unary_stream_rpc_method_handler(_stream_metadata),
            "UploadMetadata": grpc.stream_unary_rpc_method_handler(_collect_metadata),
        },
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


@pytest.fixture(scope="module")
def plain_channel(probe_address: str) -> Iterator[grpc.Channel]:
    raw, channel = open_channel(probe_address, use_tls=False, api_key="", ready_timeout=5)
    yield channel
    raw.close()


def _rpc_error(channel: grpc.Channel, code: grpc.StatusCode) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        channel.unary_unary(f"/{_SERVICE}/Abort")(code.name.encode(), timeout=5)
    return info.value


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        (grpc.StatusCode.NOT_FOUND, errors.RIMENotFoundError),
        (grpc.StatusCode.INVALID_ARGUMENT, errors.RIMEInvalidArgumentError),
        (grpc.StatusCode.ALREADY_EXISTS, errors.RIMEAlreadyExistsError),
        (grpc.StatusCode.FAILED_PRECONDITION, errors.RIMEFailedPreconditionError),
        (grpc.StatusCode.UNAUTHENTICATED, errors.RIMEUnauthenticatedError),
        (grpc.StatusCode.PERMISSION_DENIED, errors.RIMEUnauthenticatedError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, errors.RIMEResourceExhaustedError),
        (grpc.StatusCode.UNAVAILABLE, errors.RIMEUnavailableError),
        (grpc.StatusCode.INTERNAL, errors.RIMEError),
        (grpc.StatusCode.UNIMPLEMENTED, errors.RIMEError),
    ],
)
def test_status_codes_map_to_error_classes(
    plain_channel: grpc.Channel, code: grpc.StatusCode, error_class: type[errors.RIMEError]
) -> None:
    error = errors.from_rpc_error("StartStressTest", _rpc_error(plain_channel, code))
    assert type(error) is error_class
    assert isinstance(error, ValueError)
    assert error.code == code
    assert error.details == f"probe says {code.name}"
    assert error.rpc == "StartStressTest"
    assert str(error) == (
        f"RIME backend request StartStressTest failed ({code.name}): probe says {code.name}"
    )


def test_deadline_exceeded_is_unavailable(plain_channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as info:
        plain_channel.unary_unary(f"/{_SERVICE}/Hang")(b"", timeout=0.05)
    error = errors.from_rpc_error("GetTestJob", info.value)
    assert isinstance(error, errors.RIMEUnavailableError)
    assert error.code == grpc.StatusCode.DEADLINE_EXCEEDED


def _sent_metadata(channel: grpc.Channel) -> list[dict[str, str]]:
    unary = channel.unary_unary(f"/{_SERVICE}/Metadata")(b"", timeout=5)
    (streamed,) = channel.unary_stream(f"/{_SERVICE}/StreamMetadata")(b"", timeout=5)
    uploaded = channel.stream_unary(f"/{_SERVICE}/UploadMetadata")(iter([b"a", b"b"]), timeout=5)
    return [json.loads(raw) for raw in (unary, streamed, uploaded)]


def test_api_key_sent_on_unary_streaming_and_upload_calls(probe_address: str) -> None:
    raw, channel = open_channel(probe_address, use_tls=False, api_key="s3cret", ready_timeout=5)
    try:
        for metadata in _sent_metadata(channel):
            assert metadata[API_KEY_METADATA_KEY] == "s3cret"
    finally:
        raw.close()


def test_no_api_key_header_without_a_key(plain_channel: grpc.Channel) -> None:
    for metadata in _sent_metadata(plain_channel):
        assert API_KEY_METADATA_KEY not in metadata


def test_errors_survive_pickling() -> None:
    error = errors.rime_error(
        "GetFirewall failed", code=grpc.StatusCode.NOT_FOUND, details="no fw", rpc="GetFirewall"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is errors.RIMENotFoundError
    assert (str(copy), copy.code, copy.details, copy.rpc) == (
        "GetFirewall failed",
        grpc.StatusCode.NOT_FOUND,
        "no fw",
        "GetFirewall",
    )
    assert errors.RIMEError("plain").code == grpc.StatusCode.UNKNOWN
