"""Finding the files to upload and cutting them into 1 MiB ``UploadChunk`` messages."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_rime.proto.v1 import upload_pb2

CHUNK_SIZE_BYTES = 1 << 20
"""Bytes per ``UploadChunk`` (1 MiB)."""


@dataclass(frozen=True)
class UploadFile:
    """One file to send: where it is and the ``/``-separated name it gets on the server."""

    path: Path
    relative_path: str


def existing_file(file_path: Path | str) -> UploadFile:
    """The file to send for ``upload_dataset_file``.

    Raises:
        FileNotFoundError: ``file_path`` does not exist.
        OSError: ``file_path`` is not a file.
    """
    path = Path(file_path)
    if not path.exists():
        raise FileNotFoundError(f"Dataset file to upload does not exist: {path}")
    if not path.is_file():
        raise OSError(f"Dataset path to upload is not a file: {path}")
    return UploadFile(path=path, relative_path=path.name)


def _walk(root: Path, *, upload_hidden: bool, follow_symlinks: bool) -> Iterator[Path]:
    """Every file under ``root`` an upload sends (each directory's real path visited once)."""
    visited: set[str] = set()
    for current, dir_names, file_names in os.walk(root, followlinks=follow_symlinks):
        real = os.path.realpath(current)
        if real in visited:  # a symlink loop, or a second link to the same directory
            dir_names.clear()
            continue
        visited.add(real)
        if not upload_hidden:
            dir_names[:] = [name for name in dir_names if not name.startswith(".")]
            file_names = [name for name in file_names if not name.startswith(".")]
        if not follow_symlinks:
            links = [n for n in (*dir_names, *file_names) if Path(current, n).is_symlink()]
            if links:
                shown = ", ".join(
                    sorted(Path(current, n).relative_to(root).as_posix() for n in links)
                )
                raise OSError(
                    f"Directory to upload contains symbolic links ({shown}); they are not "
                    f"followed: remove them, or use upload_data_directory(..., "
                    f"follow_symlinks=True) to upload what they point to: {root}"
                )
        for name in file_names:
            path = Path(current, name)
            if path.is_file():
                yield path


def directory_files(
    dir_path: Path | str, *, upload_hidden: bool, follow_symlinks: bool = False
) -> list[UploadFile]:
    """The files under ``dir_path`` for ``upload_model_directory``, sorted by relative path.

    Hidden files and directories (names starting with ``.``) are skipped at any depth unless
    ``upload_hidden``. A symbolic link (to a file or a directory) is refused unless
    ``follow_symlinks``, so a link cannot make an upload carry files from outside the
    directory by accident; when followed, each directory is visited once (no loops).

    Raises:
        FileNotFoundError: ``dir_path`` does not exist.
        OSError: ``dir_path`` is not a directory, has no file to upload, or holds a symbolic
            link while ``follow_symlinks`` is false.
    """
    root = Path(dir_path)
    if not root.exists():
        raise FileNotFoundError(f"Model directory to upload does not exist: {root}")
    if not root.is_dir():
        raise OSError(f"Model path to upload is not a directory: {root}")
    files = [
        UploadFile(path=path, relative_path=path.relative_to(root).as_posix())
        for path in _walk(root, upload_hidden=upload_hidden, follow_symlinks=follow_symlinks)
    ]
    if not files:
        hidden_note = "" if upload_hidden else " (hidden files are skipped unless upload_hidden)"
        raise OSError(f"Model directory to upload contains no files{hidden_note}: {root}")
    return sorted(files, key=lambda file: file.relative_path)


def total_size(files: Sequence[UploadFile]) -> int:
    """Bytes in ``files`` together."""
    return sum(file.path.stat().st_size for file in files)


def upload_chunks(files: Sequence[UploadFile]) -> Iterator[upload_pb2.UploadChunk]:
    """Yield each file as chunks of at most 1 MiB, each naming the file it belongs to.

    An empty file is sent as one chunk with no data, so it still exists on the server.
    """
    for file in files:
        with file.path.open("rb") as stream:
            data = stream.read(CHUNK_SIZE_BYTES)
            yield upload_pb2.UploadChunk(relative_path=file.relative_path, data=data)
            while data := stream.read(CHUNK_SIZE_BYTES):
                yield upload_pb2.UploadChunk(relative_path=file.relative_path, data=data)
