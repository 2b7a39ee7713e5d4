"""Read a job's log by byte offset, for the job page's live log (``/jobs/<id>/log``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MAX_CHUNK_BYTES = 64 * 1024
"""The most one read returns; the page asks again from the offset it got."""


@dataclass(frozen=True)
class LogChunk:
    """Text read from a job log.

    Attributes:
        text: The text (undecodable bytes replaced).
        offset: Byte offset just after ``text``: where the next read starts.
        at_end: Whether ``offset`` is the end of the file.
        reset: The asked offset was past the end: the log was rewritten (capped), so ``text``
            starts again at its beginning.
    """

    text: str
    offset: int
    at_end: bool
    reset: bool = False


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


def _cut_whole(data: bytes) -> bytes:
    """``data`` without a UTF-8 character cut at its end (so the next read starts on one)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if _is_continuation(byte):
            continue
        if byte < 0xC0:  # ASCII: nothing is cut
            return data
        length = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
        return data[:-back] if length > back else data
    return data


def read_chunk(path: Path, offset: int, max_bytes: int = MAX_CHUNK_BYTES) -> LogChunk:
    """The text of ``path`` from byte ``offset``, at most ``max_bytes`` of it.

    A missing file (the job has not started) reads as empty at offset 0.
    """
    try:
        with path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            reset = offset > size
            start = 0 if reset else offset
            log.seek(start)
            data = log.read(max_bytes)
    except FileNotFoundError:
        return LogChunk("", 0, True, reset=offset > 0)
    end = start + len(data)
    if end < size:
        data = _cut_whole(data) or data
        end = start + len(data)
    return LogChunk(data.decode("utf-8", errors="replace"), end, end >= size, reset)


def read_tail(path: Path, max_bytes: int = MAX_CHUNK_BYTES) -> LogChunk:
    """The end of ``path``: its last ``max_bytes`` at most, from a character start."""
    try:
        with path.open("rb") as log:
            start = max(0, log.seek(0, os.SEEK_END) - max_bytes)
            log.seek(start)
            head = log.read(3)
    except FileNotFoundError:
        return LogChunk("", 0, True)
    if start:  # skip the rest of a character cut at the start
        start += next((i for i, b in enumerate(head) if not _is_continuation(b)), len(head))
    return read_chunk(path, start, max_bytes)
