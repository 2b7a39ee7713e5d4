"""Request bodies read block by block: ``Content-Length`` or ``Transfer-Encoding: chunked``.

Uploads to the upload URLs (PUT) are far larger than anything else the web app receives, so
their bodies are streamed rather than read at once. No sockets here: a body is read from any
binary stream.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from io import BufferedIOBase

BLOCK_BYTES = 1 << 16
"""Largest block handed on at a time."""
_MAX_LINE_BYTES = 1024
_MAX_TRAILER_LINES = 64


class BodyError(ValueError):
    """The body's framing is malformed or the body ended early."""


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The body's ``Content-Length``: ``None`` when chunked, 0 when neither header is sent.

    Args:
        headers: Header values by lower-case name.

    Raises:
        BodyError: A transfer coding other than ``chunked``, or a malformed length.
    """
    coding = headers.get("transfer-encoding", "").strip().lower()
    if coding:
        if coding != "chunked":
            raise BodyError(f"Transfer-Encoding {coding!r} is not supported (only chunked)")
        return None
    text = headers.get("content-length", "0").strip()
    if not text.isdigit():
        raise BodyError(f"Content-Length {text[:40]!r} is not a byte count")
    return int(text)


def _exactly(stream: BufferedIOBase, size: int) -> Iterator[bytes]:
    while size > 0:
        block = stream.read(min(size, BLOCK_BYTES))
        if not block:
            raise BodyError(f"the body ended {size} bytes early")
        size -= len(block)
        yield block


def _line(stream: BufferedIOBase) -> bytes:
    line = stream.readline(_MAX_LINE_BYTES + 1)
    if not line.endswith(b"\n"):
        raise BodyError("a chunk header or trailer line is cut off or too long")
    return line.rstrip(b"\r\n")


def _chunks(stream: BufferedIOBase) -> Iterator[bytes]:
    while True:
        size_text = _line(stream).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BodyError(f"chunk size {size_text[:20]!r} is not hexadecimal") from None
        if size < 0:
            raise BodyError("negative chunk size")
        if size == 0:
            break
        yield from _exactly(stream, size)
        if _line(stream):
            raise BodyError("a chunk is longer than its size says")
    for _ in range(_MAX_TRAILER_LINES):
        if not _line(stream):
            return
    raise BodyError(f"more than {_MAX_TRAILER_LINES} trailer lines")


def read_blocks(stream: BufferedIOBase, headers: Mapping[str, str]) -> Iterator[bytes]:
    """The body of the request whose ``headers`` were read from ``stream``, block by block.

    Raises:
        BodyError: While iterating: malformed framing, or the body ended early.
    """
    length = declared_length(headers)
    if length is None:
        yield from _chunks(stream)
    else:
        yield from _exactly(stream, length)


def drain(blocks: Iterator[bytes], limit_bytes: int) -> bool:
    """Read and drop what is left of a body, up to ``limit_bytes``; whether it all was read."""
    dropped = 0
    try:
        for block in blocks:
            dropped += len(block)
            if dropped > limit_bytes:
                return False
    except (BodyError, OSError):
        return False
    return True
