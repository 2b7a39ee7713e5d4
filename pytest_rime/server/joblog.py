"""A job's log file, capped in size: the tail is kept and a first line counts what was dropped.

Everything a job logs (the worker's stdout and stderr, read from a pipe by the server, and the
server's own ``[rime server]`` lines) goes through :class:`CappedLog`. When an append would take
the file past its limit, the file is rewritten (atomically, so readers see the old or the new
file) as one line ``[rime server] <n> bytes of earlier log dropped ...`` followed by the newest
half of the limit, cut at a line start. Each byte is copied at most about once per half-limit
written, so capping costs little even for a model that prints in a loop.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import BinaryIO

from pytest_rime.server.datadir import open_private

MIN_LIMIT_BYTES = 1024
"""The smallest log limit: room for the dropped-bytes line and some of the tail."""
_HEADER_ROOM = 200
_DROPPED = re.compile(rb"\[rime server\] (\d+) bytes of earlier log dropped[^\n]*\n")


def check_log_limit(limit_bytes: int) -> int:
    """``limit_bytes``, if it is a usable log limit.

    Raises:
        ValueError: It is below :data:`MIN_LIMIT_BYTES`.
    """
    if limit_bytes < MIN_LIMIT_BYTES:
        raise ValueError(
            f"the job log limit must be at least {MIN_LIMIT_BYTES} bytes, got {limit_bytes}"
        )
    return limit_bytes


class CappedLog:
    """Append to a log file that never grows past ``limit_bytes``.

    Args:
        path: The log file (created ``0600`` when missing).
        limit_bytes: The largest the file may get (at least :data:`MIN_LIMIT_BYTES`).

    Raises:
        ValueError: ``limit_bytes`` is below :data:`MIN_LIMIT_BYTES`.
    """

    def __init__(self, path: Path, limit_bytes: int) -> None:
        self._path = path
        self._limit = check_log_limit(limit_bytes)
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None

    def append(self, data: bytes) -> None:
        """Append ``data``, dropping the oldest part of the log when it would not fit."""
        with self._lock:
            log = self._open()
            size = log.seek(0, os.SEEK_END)
            if size + len(data) <= self._limit:
                log.write(data)
                log.flush()
                return
            log.seek(0)
            old = log.read()
            self._close()
            self._rewrite(old, data)

    def close(self) -> None:
        """Close the file (the next append reopens it)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> BinaryIO:
        if self._file is None:
            descriptor = open_private(self._path, os.O_RDWR | os.O_APPEND)
            self._file = os.fdopen(descriptor, "a+b")
        return self._file

    def _rewrite(self, old: bytes, data: bytes) -> None:
        dropped = 0
        match = _DROPPED.match(old)
        if match:
            dropped = int(match.group(1))
            old = old[match.end() :]
        text = old + data
        keep = text[-(self._limit // 2 - _HEADER_ROOM) :]
        line_start = keep.find(b"\n")
        if 0 <= line_start < len(keep) - 1:
            keep = keep[line_start + 1 :]
        dropped += len(text) - len(keep)
        header = (
            f"[rime server] {dropped} bytes of earlier log dropped (a job log keeps at most "
            f"{self._limit} bytes; the newest part follows)\n"
        ).encode()
        temporary = self._path.with_name(self._path.name + ".tmp")
        descriptor = open_private(temporary, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(descriptor, "wb") as out:
            out.write(header + keep)
        os.replace(temporary, self._path)
