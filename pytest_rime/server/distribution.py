"""Where the server's code is and which release it is, without importing the package root.

The server must not import ``pytest_rime`` itself (it would load the SDK's lazy names and
couple the layers); these facts come from this file's path and the installed metadata.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

DISTRIBUTION = "pytest-rime"
"""The distribution name in ``pyproject.toml``."""

UNKNOWN_VERSION = "0+unknown"
"""The version reported when the distribution is not installed (a source checkout on a path)."""

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
"""The directory holding the ``pytest_rime`` package: on every worker's ``PYTHONPATH`` and in
every managed image's ``.pth`` file."""


def installed_version() -> str:
    """The installed version of ``pytest-rime`` (:data:`UNKNOWN_VERSION` when not installed)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNKNOWN_VERSION


VERSION = installed_version()
"""The version ``GetServerInfo`` reports."""
