"""The pytest plugin (entry point ``rime``): hooks and fixture live in :mod:`.plugin`.

This module is imported in every pytest session where pytest-rime is installed; it stays
light (no grpc, pandas or numpy) until a rime option, fixture or marker is used.
"""

from __future__ import annotations

from pytest_rime.plugin.plugin import (
    pytest_addoption,
    pytest_collect_file,
    pytest_configure,
    pytest_report_header,
    pytest_runtest_makereport,
    pytest_runtest_setup,
    rime,
)

__all__ = [
    "pytest_addoption",
    "pytest_collect_file",
    "pytest_configure",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_runtest_setup",
    "rime",
]
