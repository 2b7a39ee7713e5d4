"""pytest-rime: model quality gates for CI over a RIME-compatible backend.

The SDK names are handed out lazily so that importing the pytest plugin stays cheap
(grpc and pandas load only when a name below is first used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_SDK_NAMES = (
    "RIMEClient",
    "RIMEProject",
    "RIMEStressTestJob",
    "RIMEFirewall",
    "RIMEImageBuilder",
    "RIMEError",
)

__all__ = [
    "RIMEClient",
    "RIMEError",
    "RIMEFirewall",
    "RIMEImageBuilder",
    "RIMEProject",
    "RIMEStressTestJob",
    "__version__",
]

if TYPE_CHECKING:
    from pytest_rime.sdk import (
        RIMEClient,
        RIMEError,
        RIMEFirewall,
        RIMEImageBuilder,
        RIMEProject,
        RIMEStressTestJob,
    )


def __getattr__(name: str) -> Any:
    if name in _SDK_NAMES:
        return getattr(importlib.import_module("pytest_rime.sdk"), name)
    raise AttributeError(f"module 'pytest_rime' has no attribute {name!r}")
