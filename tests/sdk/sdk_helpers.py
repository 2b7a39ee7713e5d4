"""Helpers for the SDK tests: poll rate, client factory type, hand-built wheels, run configs."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from pytest_rime.sdk import RIMEClient, RIMEError

POLL_SECS = 0.05
"""Poll rate the tests give ``get_status(wait_until_finish=True)``."""

ClientFactory = Callable[..., RIMEClient]
"""The ``connect`` fixture: ``connect(server, **RIMEClient kwargs) -> RIMEClient``."""


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(directory: Path, name: str, version: str, source: str = "") -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` (one module ``<name>``) into ``directory``.

    The module defines ``__version__`` and then ``source``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"__version__ = {version!r}\n{source}".encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: pytest-rime-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = [_record_line(path, data) for path, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def uploaded_config(
    run_name: str, task: str, ref: str, eval_: str, model: str, **extra: Any
) -> dict[str, Any]:
    """The test run config of uploaded ``ref`` / ``eval_`` tables (label ``label``) and ``model``.

    ``extra``: config keys on top; its ``data_info`` is merged into the tables'.
    """
    data_info = {"ref_path": ref, "eval_path": eval_, "label_col": "label"}
    data_info.update(extra.pop("data_info", {}))
    return {
        "run_name": run_name,
        "data_info": data_info,
        "model_info": {"path": model},
        "model_task": task,
        "random_seed": 0,
        **extra,
    }


def invalid_message(error: pytest.ExceptionInfo[RIMEError]) -> str:
    """The message of an INVALID_ARGUMENT error (asserted)."""
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return str(error.value)
