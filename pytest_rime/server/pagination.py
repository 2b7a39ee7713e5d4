"""Opaque page tokens: a base64 offset, so clients cannot depend on their shape."""

from __future__ import annotations

import base64
import binascii
import json

from pytest_rime.server.errors import InvalidArgumentError

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    """The number of items to return for a request's ``page_size`` (0 means the default).

    Raises:
        InvalidArgumentError: ``requested`` is negative.
    """
    if requested < 0:
        raise InvalidArgumentError(f"page_size must be >= 0, got {requested}")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_token(offset: int) -> str:
    """The token of the page that starts at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def decode_token(token: str) -> int:
    """The offset a token points at (0 for the empty token).

    Raises:
        InvalidArgumentError: The token was not made by :func:`encode_token`.
    """
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["o"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidArgumentError(
            f"page_token {token!r} is not a token this server issued"
        ) from exc
    if not isinstance(offset, int) or offset < 0:
        raise InvalidArgumentError(f"page_token {token!r} is not a token this server issued")
    return offset
