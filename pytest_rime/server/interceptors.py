"""Server interceptors: API key authentication and domain error -> gRPC status mapping.

The error mapping also answers any other exception a servicer lets escape: the exception is
logged with its traceback on the server, and the client gets INTERNAL (RESOURCE_EXHAUSTED for
``MemoryError`` / ``RecursionError``) with a fixed message, so no exception text (which may
hold a server path) reaches a client. Messages are cut to :data:`MAX_DETAILS_CHARS`.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import grpc

from pytest_rime.server.errors import ServerError

API_KEY_METADATA = "rime-api-key"
"""Metadata key that carries the API key."""

_HEALTH_PREFIX = "/grpc.health.v1.Health/"

MAX_DETAILS_CHARS = 2000
"""Longest status message sent (longer ones are cut): gRPC limits trailer sizes."""

_log = logging.getLogger(__name__)

_Behavior = Callable[..., Any]
if TYPE_CHECKING:
    _Handler = grpc.RpcMethodHandler[Any, Any]
    _ServerInterceptor = grpc.ServerInterceptor[Any, Any]
else:  # the runtime classes are not generic
    _ServerInterceptor = grpc.ServerInterceptor


def _wrap_handler(handler: _Handler, wrap: Callable[[_Behavior, bool], _Behavior]) -> _Handler:
    """A handler of the same kind whose behaviour is ``wrap(behaviour, response_streaming)``."""
    factories: dict[tuple[bool, bool], tuple[str, Callable[..., _Handler]]] = {
        (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
        (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
        (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
        (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
    }
    kind = (handler.request_streaming, handler.response_streaming)
    attribute, factory = factories[kind]
    return factory(
        wrap(getattr(handler, attribute), handler.response_streaming),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _abort_for(error: ServerError, context: grpc.ServicerContext) -> None:
    message = str(error)
    if len(message) > MAX_DETAILS_CHARS:
        message = message[: MAX_DETAILS_CHARS - 3] + "..."
    context.abort(getattr(grpc.StatusCode, error.grpc_code), message)


def _abort_unexpected(error: Exception, context: grpc.ServicerContext) -> None:
    """Answer an exception no servicer mapped, without its text; re-raise ``context.abort``."""
    if context.code() not in (None, grpc.StatusCode.OK):  # type: ignore[attr-defined]
        raise error  # the servicer aborted the call itself: keep its status
    _log.error("unexpected error in an RPC", exc_info=error)
    if isinstance(error, MemoryError | RecursionError):
        context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"the request needs more resources than the server has ({type(error).__name__})",
        )
    context.abort(
        grpc.StatusCode.INTERNAL,
        f"internal server error ({type(error).__name__}); the server log has the details",
    )


def _map_errors(behavior: _Behavior, response_streaming: bool) -> _Behavior:
    if response_streaming:

        def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from behavior(request, context)
            except ServerError as error:
                _abort_for(error, context)
            except Exception as error:
                _abort_unexpected(error, context)

        return streaming

    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return behavior(request, context)
        except ServerError as error:
            _abort_for(error, context)
        except Exception as error:
            _abort_unexpected(error, context)

    return unary


class ErrorInterceptor(_ServerInterceptor):
    """Turns a :class:`ServerError` raised by a servicer into its status code and message.

    Any other exception becomes INTERNAL (or RESOURCE_EXHAUSTED) with a fixed message.
    """

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], _Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        """Wrap the handler's behaviour in the error mapping."""
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return _wrap_handler(handler, _map_errors)


class ApiKeyInterceptor(_ServerInterceptor):
    """Rejects every RPC but health checks that lacks a configured ``rime-api-key``.

    Args:
        api_keys: The accepted keys.
    """

    def __init__(self, api_keys: Sequence[str]) -> None:
        self._keys = [key.encode() for key in api_keys]

    def _authorized(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> bool:
        presented = [
            value.encode() if isinstance(value, str) else value
            for key, value in metadata or ()
            if key == API_KEY_METADATA
        ]
        # Compare against every key so the time taken does not depend on which one matched.
        matches = [hmac.compare_digest(p, k) for p in presented[:1] for k in self._keys]
        return any(matches)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], _Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        """Pass authorized calls and health checks on; answer others UNAUTHENTICATED."""
        method = handler_call_details.method
        if method.startswith(_HEALTH_PREFIX) or self._authorized(
            handler_call_details.invocation_metadata
        ):
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        _log.warning("rejected %s: missing or wrong %s", method, API_KEY_METADATA)

        def reject(_behavior: _Behavior, _streaming: bool) -> _Behavior:
            def abort(request: Any, context: grpc.ServicerContext) -> Any:
                context.abort(
                    grpc.StatusCode.UNAUTHENTICATED,
                    f"missing or wrong API key: send it as '{API_KEY_METADATA}' metadata",
                )

            return abort

        return _wrap_handler(handler, reject)
