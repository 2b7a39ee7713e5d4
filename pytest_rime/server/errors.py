"""Domain errors of the server, each mapped to one gRPC status code.

Store, blob store and job queue raise these; one interceptor
(:mod:`pytest_rime.server.interceptors`) turns them into ``context.abort(code, message)``.
The module does not import grpc: codes are named by their ``grpc.StatusCode`` member name.
"""

from __future__ import annotations


class ServerError(Exception):
    """Base of the errors a client sees; ``grpc_code`` names the ``grpc.StatusCode`` member."""

    grpc_code = "INTERNAL"


class NotFoundError(ServerError):
    """A project, job, image, firewall, test run or upload does not exist."""

    grpc_code = "NOT_FOUND"


class InvalidArgumentError(ServerError):
    """A request field is malformed: bad config, unsafe upload path, bad page token."""

    grpc_code = "INVALID_ARGUMENT"


class AlreadyExistsError(ServerError):
    """A name is taken (image name, a project's firewall)."""

    grpc_code = "ALREADY_EXISTS"


class FailedPreconditionError(ServerError):
    """The request is well formed but the state forbids it (image not READY, ...)."""

    grpc_code = "FAILED_PRECONDITION"


class ResourceExhaustedError(ServerError):
    """A configured limit was exceeded (upload size)."""

    grpc_code = "RESOURCE_EXHAUSTED"


class UnimplementedError(ServerError):
    """The RPC exists on the wire but this server does not provide it yet."""

    grpc_code = "UNIMPLEMENTED"


class OutOfRangeError(ServerError):
    """A number is outside the range the server accepts (resource requests)."""

    grpc_code = "OUT_OF_RANGE"


class DataLossError(ServerError):
    """Stored bytes no longer match what was uploaded (a corrupted blob)."""

    grpc_code = "DATA_LOSS"
