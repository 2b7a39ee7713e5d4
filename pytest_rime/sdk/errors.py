"""Errors the SDK raises when the RIME backend refuses or fails a request.

Every backend failure is a :class:`RIMEError`, a subclass of ``ValueError`` as the seed SDK
promised, carrying the gRPC status code and the server's message. Subclasses name the common
code families so callers can ``except RIMENotFoundError`` instead of comparing codes.
"""

from __future__ import annotations

from typing import Any, cast

import grpc


class RIMEError(ValueError):
    """A request to the RIME backend failed.

    Attributes:
        code: The gRPC status code of the failure.
        details: The server's description of what went wrong.
        rpc: The RPC that failed, e.g. ``"StartStressTest"`` (empty when no RPC was made).
    """

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode = grpc.StatusCode.UNKNOWN,
        details: str = "",
        rpc: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.details = details
        self.rpc = rpc

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep code, details and rpc through pickling (multiprocessing, subprocess results).
        return (_restore, (type(self), str(self), self.code, self.details, self.rpc))


def _restore(
    error_class: type[RIMEError], message: str, code: grpc.StatusCode, details: str, rpc: str
) -> RIMEError:
    return error_class(message, code=code, details=details, rpc=rpc)


class RIMENotFoundError(RIMEError):
    """The project, job, image, firewall or test run asked for does not exist."""


class RIMEInvalidArgumentError(RIMEError):
    """The backend rejected a request field (bad config, bad page token, unsafe path)."""


class RIMEAlreadyExistsError(RIMEError):
    """The name is taken (managed image, a project's firewall)."""


class RIMEFailedPreconditionError(RIMEError):
    """The request is well formed but the backend's state forbids it."""


class RIMEUnauthenticatedError(RIMEError):
    """The API key is missing, wrong, or not allowed to make the request."""


class RIMEResourceExhaustedError(RIMEError):
    """A backend limit was exceeded (upload size, message size)."""


class RIMEUnavailableError(RIMEError):
    """The backend could not be reached, or did not answer within the timeout."""


_ERROR_CLASS_BY_CODE: dict[grpc.StatusCode, type[RIMEError]] = {
    grpc.StatusCode.NOT_FOUND: RIMENotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: RIMEInvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: RIMEInvalidArgumentError,
    grpc.StatusCode.ALREADY_EXISTS: RIMEAlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: RIMEFailedPreconditionError,
    grpc.StatusCode.UNAUTHENTICATED: RIMEUnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: RIMEUnauthenticatedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RIMEResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: RIMEUnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: RIMEUnavailableError,
}


def rime_error(
    message: str, *, code: grpc.StatusCode, details: str = "", rpc: str = ""
) -> RIMEError:
    """Build the :class:`RIMEError` subclass that matches ``code``."""
    error_class = _ERROR_CLASS_BY_CODE.get(code, RIMEError)
    return error_class(message, code=code, details=details, rpc=rpc)


def from_rpc_error(rpc: str, error: grpc.RpcError) -> RIMEError:
    """Turn a failed gRPC call into a :class:`RIMEError` naming the RPC and the server's message.

    Args:
        rpc: Name of the RPC that failed, e.g. ``"ListProjects"``.
        error: The exception grpc raised.

    Returns:
        The matching :class:`RIMEError` subclass; raise it ``from error``.
    """
    if hasattr(error, "code") and hasattr(error, "details"):  # every RpcError grpc raises
        call = cast(grpc.Call, error)
        code, details = call.code(), call.details() or ""
    else:
        code, details = grpc.StatusCode.UNKNOWN, str(error)
    return rime_error(
        f"RIME backend request {rpc} failed ({code.name}): {details or 'no details given'}",
        code=code,
        details=details,
        rpc=rpc,
    )
