"""The Python SDK of pytest-rime: the seed RIME SDK API over the pytest-rime gRPC backend.

``RIMEClient`` connects to a server and hands out ``RIMEProject``, ``RIMEStressTestJob``,
``RIMEFirewall`` and ``RIMEImageBuilder`` objects; every backend failure is a ``RIMEError``
(a ``ValueError``).
"""

from __future__ import annotations

from pytest_rime.sdk.backend import RIMEBackend
from pytest_rime.sdk.client import RIMEClient
from pytest_rime.sdk.errors import (
    RIMEAlreadyExistsError,
    RIMEError,
    RIMEFailedPreconditionError,
    RIMEInvalidArgumentError,
    RIMENotFoundError,
    RIMEResourceExhaustedError,
    RIMEUnauthenticatedError,
    RIMEUnavailableError,
)
from pytest_rime.sdk.firewall import RIMEFirewall
from pytest_rime.sdk.image_builder import RIMEImageBuilder
from pytest_rime.sdk.job import RIMEStressTestJob
from pytest_rime.sdk.project import RIMEProject
from pytest_rime.sdk.results import RIMETestRun

__all__ = [
    "RIMEAlreadyExistsError",
    "RIMEBackend",
    "RIMEClient",
    "RIMEError",
    "RIMEFailedPreconditionError",
    "RIMEFirewall",
    "RIMEImageBuilder",
    "RIMEInvalidArgumentError",
    "RIMENotFoundError",
    "RIMEProject",
    "RIMEResourceExhaustedError",
    "RIMEStressTestJob",
    "RIMETestRun",
    "RIMEUnauthenticatedError",
    "RIMEUnavailableError",
]
