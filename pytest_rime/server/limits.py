"""Limits on what a request may ask for: config nesting and resource requests.

Each check raises a :class:`~pytest_rime.server.errors.ServerError` whose message names the
request field and the allowed range, never a server path. No grpc here.
"""

from __future__ import annotations

import json
from typing import Any

from pytest_rime.server.errors import InvalidArgumentError, OutOfRangeError

MAX_JSON_DEPTH = 64
"""Deepest nesting of objects and arrays a JSON config may have (a real config needs 4)."""

RAM_REQUEST_RANGE_MB = (1, 1_048_576)
"""Allowed ``ram_request_megabytes`` (1 MB .. 1 TiB); 0 means the server's default."""

CPU_REQUEST_RANGE_MILLICORES = (1, 1_024_000)
"""Allowed ``cpu_request_millicores`` (0.001 .. 1024 CPUs); 0 means the server's default."""


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether ``text`` nests ``[`` / ``{`` deeper than ``limit`` (brackets in strings ignored).

    A linear scan, so a config nested 100,000 levels is refused before ``json.loads`` recurses.
    """
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def parse_json_object(text: str, field: str) -> dict[str, Any]:
    """``text`` (the request field ``field``) parsed as a JSON object.

    Raises:
        InvalidArgumentError: Not JSON, not an object, or nested deeper than
            :data:`MAX_JSON_DEPTH`; the message names ``field``.
    """
    if json_depth_exceeds(text, MAX_JSON_DEPTH):
        raise InvalidArgumentError(
            f"{field} is nested more than {MAX_JSON_DEPTH} levels deep (objects and arrays)"
        )
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise InvalidArgumentError(f"{field} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidArgumentError(f"{field} must be a JSON object")
    return raw


def resource_request(name: str, value: int, default: int, allowed: tuple[int, int]) -> int:
    """A job's resource request: ``value``, or ``default`` when it is 0.

    Raises:
        InvalidArgumentError: ``value`` is negative.
        OutOfRangeError: ``value`` is neither 0 nor within ``allowed`` (inclusive).
    """
    if value == 0:
        return default
    if value < 0:
        raise InvalidArgumentError(f"{name} must be >= 0 (0 means {default}), got {value}")
    low, high = allowed
    if not low <= value <= high:
        raise OutOfRangeError(
            f"{name} must be between {low} and {high} (0 means the default, {default}), got {value}"
        )
    return value
