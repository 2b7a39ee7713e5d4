"""The data directory: private (``0700``) and used by one server at a time.

:func:`lock_data_dir` runs before anything else touches the directory: it creates it (or
tightens an existing one) to ``0700`` and takes an exclusive ``flock`` on ``server.lock`` inside
it, held until the server stops. The lock file holds the holder's pid, so a second server fails
at once with :class:`DataDirInUseError` naming it. The kernel drops the lock when the holder
dies, even by SIGKILL; the descriptor is not inherited by workers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Self

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
LOCK_FILE = "server.lock"


class DataDirInUseError(RuntimeError):
    """Another server holds the data directory's lock."""


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make it ``0700``; returns it."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR_MODE)
    return path


def open_private(path: Path, flags: int) -> int:
    """Open ``path`` (created ``0600`` whatever the umask, an existing file made ``0600``).

    Returns:
        The open descriptor.
    """
    descriptor = os.open(path, flags | os.O_CREAT, PRIVATE_FILE_MODE)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)
    return descriptor


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (replacing its content), the file ``0600``."""
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as out:
        out.write(text)


def private_file(path: Path) -> Path:
    """Create ``path`` empty when missing and make it ``0600`` whatever the umask; returns it."""
    os.close(open_private(path, os.O_RDONLY))
    return path


class DataDirLock:
    """The held lock of one data directory; :meth:`release` (or ``with``) gives it back."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        """Unlock (the file stays, for the next server to lock)."""
        if self._descriptor is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _holder(descriptor: int) -> str:
    os.lseek(descriptor, 0, os.SEEK_SET)
    text = os.read(descriptor, 64).decode(errors="replace").strip()
    return f"pid {text}" if text.isdigit() else "a process that has not written its pid yet"


def lock_data_dir(data_dir: Path) -> DataDirLock:
    """Make ``data_dir`` private and lock it for this server.

    Raises:
        DataDirInUseError: Another server (in this process or another) holds the lock.
    """
    private_dir(data_dir)
    path = data_dir / LOCK_FILE
    descriptor = open_private(path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(descriptor)
        os.close(descriptor)
        raise DataDirInUseError(
            f"data directory {data_dir} is in use by another rime server ({holder}); stop "
            "that server or give another --data-dir"
        ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return DataDirLock(path, descriptor)
