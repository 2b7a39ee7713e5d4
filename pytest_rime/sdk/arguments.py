"""Checking and converting SDK arguments before any request is sent.

Each function raises ``ValueError`` naming the argument, the bad value and what is allowed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_rime.proto.v1 import common_pb2
from pytest_rime.vocabulary import BIN_SIZES_SECONDS, KNOWN_DATA_TYPES

_STATUS_BY_NAME = {
    "pending": common_pb2.JOB_STATUS_PENDING,
    "running": common_pb2.JOB_STATUS_RUNNING,
    "failed": common_pb2.JOB_STATUS_FAILED,
    "failing": common_pb2.JOB_STATUS_FAILED,
    "succeeded": common_pb2.JOB_STATUS_SUCCEEDED,
    "cancelled": common_pb2.JOB_STATUS_CANCELLED,
}

_DATA_TYPE_BY_NAME = {
    name: common_pb2.DataType.Value(f"DATA_TYPE_{name.upper()}") for name in KNOWN_DATA_TYPES
}

FIREWALL_BIN_SIZES_SECONDS = BIN_SIZES_SECONDS
"""Firewall bin sizes the backend supports: hourly and daily."""


def _lower_name(value: object, prefix: str = "") -> str:
    return value.strip().lower().removeprefix(prefix) if isinstance(value, str) else ""


def parse_status_filters(
    status_filters: Iterable[str] | str | None,
) -> list[common_pb2.JobStatus.ValueType]:
    """Convert status filters to ``JobStatus`` values, without duplicates.

    Accepts ``pending``, ``running``, ``failed`` (or ``failing``), ``succeeded``,
    ``cancelled`` and the ``JOB_STATUS_*`` names, case-insensitively. A single string counts
    as a list of one.

    Raises:
        ValueError: A value is not one of the accepted names.
    """
    if status_filters is None:
        return []
    values = [status_filters] if isinstance(status_filters, str) else list(status_filters)
    statuses: list[common_pb2.JobStatus.ValueType] = []
    for value in values:
        key = _lower_name(value, "job_status_")
        if key not in _STATUS_BY_NAME:
            raise ValueError(
                f"Invalid status filter {value!r} in status_filters; expected one of "
                f"{', '.join(sorted(_STATUS_BY_NAME))} or the matching JOB_STATUS_* names "
                "(case-insensitive)"
            )
        if _STATUS_BY_NAME[key] not in statuses:
            statuses.append(_STATUS_BY_NAME[key])
    return statuses


def parse_data_type(data_type: str) -> common_pb2.DataType.ValueType:
    """Convert ``'tabular'``, ``'nlp'`` or ``'images'`` (any case) to a ``DataType`` value.

    Raises:
        ValueError: Any other value.
    """
    key = _lower_name(data_type)
    if key not in _DATA_TYPE_BY_NAME:
        raise ValueError(
            f"Invalid data_type {data_type!r}; expected one of {', '.join(_DATA_TYPE_BY_NAME)}"
        )
    return _DATA_TYPE_BY_NAME[key]


def check_bin_size(bin_size_seconds: int) -> int:
    """Return ``bin_size_seconds`` if the backend supports it.

    Raises:
        ValueError: It is not 3600 (hourly) or 86400 (daily).
    """
    if isinstance(bin_size_seconds, bool) or bin_size_seconds not in FIREWALL_BIN_SIZES_SECONDS:
        raise ValueError(
            f"Invalid bin_size_seconds {bin_size_seconds!r}; only hourly (3600) or daily "
            "(86400) bins are supported"
        )
    return int(bin_size_seconds)


def check_resource_request(name: str, value: int | None) -> int:
    """Return a RAM/CPU request for the wire: ``None`` becomes 0 (the server default).

    Raises:
        ValueError: ``value`` is not a non-negative integer.
    """
    if value is None:
        return 0
    checked: object = value
    if isinstance(checked, bool) or not isinstance(checked, int) or checked < 0:
        raise ValueError(f"Invalid {name} {value!r}; expected a positive integer or None")
    return value


def image_choice(
    custom_image: common_pb2.CustomImage | str | None, rime_managed_image: str | None
) -> tuple[common_pb2.CustomImage | None, str]:
    """Check the job environment arguments and return them in wire form.

    ``custom_image`` may be a ``CustomImage`` or, for convenience, its name as a string.

    Returns:
        ``(custom_image message or None, managed image name or "")``.

    Raises:
        ValueError: Both are given.
    """
    if custom_image is not None and rime_managed_image:
        raise ValueError(
            "custom_image and rime_managed_image cannot both be specified; pass at most one"
        )
    if isinstance(custom_image, str):
        custom_image = common_pb2.CustomImage(name=custom_image)
    return custom_image, rime_managed_image or ""


def _json_default(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy array or scalar
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def config_to_json(test_run_config: Mapping[str, Any]) -> str:
    """Serialise a test run config for the wire (paths become strings).

    Raises:
        ValueError: The config is not a mapping or holds a value JSON cannot represent.
    """
    if not isinstance(test_run_config, Mapping):
        raise ValueError(f"test_run_config must be a dict, got {type(test_run_config).__name__}")
    try:
        return json.dumps(test_run_config, default=_json_default, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"test_run_config cannot be sent as JSON: {error}") from error


def require_config_keys(test_run_config: Mapping[str, Any], keys: Iterable[str]) -> None:
    """Check that each of ``keys`` is in ``test_run_config`` with a non-empty value.

    A key may sit at the top level or in a section (``data_info.eval_path``,
    ``monitoring_info.timestamp_col``).

    Raises:
        ValueError: Naming the first missing key.
    """
    if not isinstance(test_run_config, Mapping):
        raise ValueError(f"test_run_config must be a dict, got {type(test_run_config).__name__}")
    sections = [test_run_config] + [v for v in test_run_config.values() if isinstance(v, Mapping)]
    for key in keys:
        if not any(section.get(key) not in (None, "") for section in sections):
            raise ValueError(f"test_run_config is missing the required key {key!r}")


def job_environment(
    custom_image: common_pb2.CustomImage | str | None,
    rime_managed_image: str | None,
    ram_request_megabytes: int | None,
    cpu_request_millicores: int | None,
) -> dict[str, Any]:
    """The environment and resource fields shared by every job-starting request.

    Returns:
        Keyword arguments ``custom_image``, ``rime_managed_image``,
        ``ram_request_megabytes`` and ``cpu_request_millicores`` for the request message.

    Raises:
        ValueError: Both image arguments are given, or a resource request is negative.
    """
    image, managed_image = image_choice(custom_image, rime_managed_image)
    return {
        "custom_image": image,
        "rime_managed_image": managed_image,
        "ram_request_megabytes": check_resource_request(
            "ram_request_megabytes", ram_request_megabytes
        ),
        "cpu_request_millicores": check_resource_request(
            "cpu_request_millicores", cpu_request_millicores
        ),
    }
