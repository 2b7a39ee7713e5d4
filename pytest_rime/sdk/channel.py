"""Opening the gRPC channel to a RIME backend: address parsing, TLS, API key, readiness."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc

from pytest_rime.sdk.errors import RIMEError, rime_error

API_KEY_METADATA_KEY = "rime-api-key"
"""The metadata key the API key travels in (lowercase, as gRPC requires)."""

if TYPE_CHECKING:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.UnaryStreamClientInterceptor[Any, Any]
    _StreamUnary = grpc.StreamUnaryClientInterceptor[Any, Any]
    _StreamStream = grpc.StreamStreamClientInterceptor[Any, Any]
else:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.UnaryStreamClientInterceptor
    _StreamUnary = grpc.StreamUnaryClientInterceptor
    _StreamStream = grpc.StreamStreamClientInterceptor


def parse_domain(domain: str, disable_tls: bool) -> tuple[str, bool]:
    """Split a RIME domain into the gRPC target and whether to use TLS.

    ``"host:port"`` uses TLS unless ``disable_tls``; an ``http://`` or ``https://`` prefix is
    tolerated and decides TLS by itself. A trailing ``/`` is dropped.

    Args:
        domain: ``"host:port"``, ``"http://host:port"`` or ``"https://host:port"``.
        disable_tls: Connect without TLS when the domain has no scheme.

    Returns:
        ``(target, use_tls)``, e.g. ``("127.0.0.1:5000", False)``.

    Raises:
        ValueError: The domain is empty or names another scheme.
    """
    address = domain.strip()
    use_tls = not disable_tls
    scheme, separator, rest = address.partition("://")
    if separator:
        if scheme.lower() not in ("http", "https"):
            raise ValueError(
                f"Unsupported scheme {scheme!r} in RIME domain {domain!r}; "
                "expected 'host:port', 'http://host:port' or 'https://host:port'"
            )
        address, use_tls = rest, scheme.lower() == "https"
    address = address.rstrip("/")
    if not address:
        raise ValueError(f"RIME domain {domain!r} names no address; expected 'host:port'")
    return address, use_tls


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: Any
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class ApiKeyInterceptor(_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream):
    """Client interceptor that sends the API key as ``rime-api-key`` metadata on every call."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def _with_key(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [*(details.metadata or ()), (API_KEY_METADATA_KEY, self._api_key)]
        return _CallDetails(
            method=details.method,
            timeout=details.timeout,
            metadata=metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
            compression=details.compression,
        )

    def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        client_call_details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        """Forward a unary call with the API key added."""
        return continuation(self._with_key(client_call_details), request)

    def intercept_unary_stream(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        client_call_details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        """Forward a server-streaming call with the API key added."""
        return continuation(self._with_key(client_call_details), request)

    def intercept_stream_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        client_call_details: grpc.ClientCallDetails,
        request_iterator: Iterator[Any],
    ) -> Any:
        """Forward a client-streaming call with the API key added."""
        return continuation(self._with_key(client_call_details), request_iterator)

    def intercept_stream_stream(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        client_call_details: grpc.ClientCallDetails,
        request_iterator: Iterator[Any],
    ) -> Any:
        """Forward a bidirectional call with the API key added."""
        return continuation(self._with_key(client_call_details), request_iterator)


def open_channel(
    target: str, *, use_tls: bool, api_key: str, ready_timeout: float
) -> tuple[grpc.Channel, grpc.Channel]:
    """Open a channel to ``target`` and wait until it is ready.

    Args:
        target: ``"host:port"``.
        use_tls: Use TLS with the system's root certificates.
        api_key: Sent as ``rime-api-key`` metadata on every call when not empty.
        ready_timeout: Seconds to wait for the connection.

    Returns:
        ``(raw, intercepted)``: the raw channel (close it when done) and the channel to make
        calls on (it adds the API key).

    Raises:
        RIMEError: With code ``UNAVAILABLE`` (a ``ValueError``) naming the address when the
            channel is not ready within ``ready_timeout`` seconds.
    """
    if use_tls:
        raw = grpc.secure_channel(target, grpc.ssl_channel_credentials())
    else:
        raw = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(raw).result(timeout=ready_timeout)
    except grpc.FutureTimeoutError:
        raw.close()
        raise _not_ready(target, use_tls, ready_timeout) from None
    if not api_key:
        return raw, raw
    return raw, grpc.intercept_channel(raw, ApiKeyInterceptor(api_key))


def _not_ready(target: str, use_tls: bool, ready_timeout: float) -> RIMEError:
    scheme = "TLS" if use_tls else "plaintext (TLS disabled)"
    details = f"no {scheme} gRPC connection to {target} within {ready_timeout} s"
    return rime_error(
        f"Could not connect to the RIME backend at {target}: {details}. "
        "Check that the server is running and the domain (and TLS setting) is right.",
        code=grpc.StatusCode.UNAVAILABLE,
        details=details,
    )
