"""Content-addressed blob store and ``rime://`` references (docs/internals.md).

Bytes live once under ``blobs/<sha256[:2]>/<sha256>``; an upload is materialised as
``uploads/<upload_id>/<relative path>`` (hard links to the blobs) where ``upload_id`` is a hash
of the names and contents, so the same upload always yields the same reference. Nothing is
written outside the store: relative paths are validated and the resolved target is checked.

This module imports no grpc: the worker uses :func:`resolve_rime_uri`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from pytest_rime.server.errors import InvalidArgumentError, ResourceExhaustedError

RIME_SCHEME = "rime://"
_UPLOADS = "uploads"


@dataclass(frozen=True)
class UploadResult:
    """What an upload produced: its reference, file count and total size."""

    rime_uri: str
    num_files: int
    size_bytes: int


def validate_relative_path(path: str) -> PurePosixPath:
    """Check an uploaded file's path and return it.

    A valid path is relative, ``/``-separated, and has no empty, ``.`` or ``..`` segment, no
    backslash and no NUL.

    Raises:
        InvalidArgumentError: The path is unsafe; the message says why.
    """
    problem = ""
    if not path:
        problem = "it is empty"
    elif "\x00" in path:
        problem = "it contains a NUL character"
    elif "\\" in path:
        problem = "it contains a backslash (use '/' to separate directories)"
    elif path.startswith("/"):
        problem = "it is absolute"
    elif any(segment in ("", ".", "..") for segment in path.split("/")):
        problem = "it has an empty, '.' or '..' segment"
    if problem:
        raise InvalidArgumentError(f"upload path {path!r} is not allowed: {problem}")
    return PurePosixPath(path)


def _inside(root: Path, relative: PurePosixPath) -> Path:
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise InvalidArgumentError(f"upload path {str(relative)!r} resolves outside the store")
    return target


def resolve_rime_uri(data_dir: Path, uri: str) -> str:
    """Map ``rime://uploads/<upload_id>[/<path>]`` to the local file or directory it names.

    Raises:
        FileNotFoundError: The reference is malformed or names nothing this server stored.
    """
    if not uri.startswith(RIME_SCHEME):
        raise FileNotFoundError(f"{uri!r} is not a rime:// reference")
    rest = uri[len(RIME_SCHEME) :]
    try:
        relative = validate_relative_path(rest)
    except InvalidArgumentError as exc:
        raise FileNotFoundError(f"{uri!r} is not a valid rime:// reference: {exc}") from exc
    if relative.parts[0] != _UPLOADS or len(relative.parts) < 2:
        raise FileNotFoundError(f"{uri!r}: expected rime://uploads/<upload_id>[/<file name>]")
    root = (data_dir / _UPLOADS).resolve()
    target = (data_dir / relative).resolve()
    if not target.is_relative_to(root) or not target.exists():
        raise FileNotFoundError(f"{uri!r}: no such upload on this server")
    return str(target)


class _Staging:
    """Files of one upload being received, in a private temporary directory."""

    def __init__(self, tmp_root: Path, limit_bytes: int) -> None:
        self.dir = tmp_root / uuid.uuid4().hex
        self.dir.mkdir(parents=True)
        self.limit_bytes = limit_bytes
        self.size_bytes = 0
        self.files: dict[PurePosixPath, tuple[Path, hashlib._Hash]] = {}
        self._current: PurePosixPath | None = None
        self._handle: IO[bytes] | None = None

    def write(self, path: PurePosixPath, data: bytes) -> None:
        if path != self._current:
            if path in self.files:
                raise InvalidArgumentError(
                    f"upload path {str(path)!r} appears twice (its chunks must be consecutive)"
                )
            self.finish_file()
            staged = self.dir / str(len(self.files))
            self.files[path] = (staged, hashlib.sha256())
            self._handle = staged.open("wb")
            self._current = path
        self.size_bytes += len(data)
        if self.size_bytes > self.limit_bytes:
            raise ResourceExhaustedError(
                f"upload is larger than the server's limit of {self.limit_bytes} bytes "
                "(see rime serve --upload-limit-mb)"
            )
        assert self._handle is not None
        self._handle.write(data)
        self.files[path][1].update(data)

    def finish_file(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def close(self) -> None:
        self.finish_file()
        shutil.rmtree(self.dir, ignore_errors=True)


def _check_no_file_is_a_directory(paths: Iterable[PurePosixPath]) -> None:
    names = set(paths)
    for path in names:
        for parent in path.parents:
            if parent in names:
                raise InvalidArgumentError(
                    f"upload path {str(parent)!r} is both a file and the directory of {str(path)!r}"
                )


class BlobStore:
    """The blob store of one server.

    Args:
        data_dir: The server's data directory (``blobs/``, ``uploads/`` and ``tmp/`` go there).
        limit_bytes: Largest total size of one upload.
    """

    def __init__(self, data_dir: Path, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._blobs = data_dir / "blobs"
        self._uploads = data_dir / _UPLOADS
        self._tmp = data_dir / "tmp"
        for directory in (self._blobs, self._uploads, self._tmp):
            directory.mkdir(parents=True, exist_ok=True)

    def upload_file(self, chunks: Iterable[tuple[str, bytes]]) -> UploadResult:
        """Store one file from ``(relative_path, data)`` chunks (only the first names it).

        Raises:
            InvalidArgumentError: No name, an unsafe name, or chunks naming another file.
            ResourceExhaustedError: The file is larger than the limit.
        """
        name = ""

        def named() -> Iterable[tuple[str, bytes]]:
            nonlocal name
            for path, data in chunks:
                if path and name and path != name:
                    raise InvalidArgumentError(
                        f"UploadFile got chunks of two files, {name!r} and {path!r}"
                    )
                name = name or path
                if "/" in name:
                    raise InvalidArgumentError(
                        f"UploadFile name {name!r} must be a file name without '/'"
                    )
                yield name, data

        return self._ingest(named(), single_file=True)

    def upload_directory(self, chunks: Iterable[tuple[str, bytes]]) -> UploadResult:
        """Store a directory from ``(relative_path, data)`` chunks, each naming its file.

        Raises:
            InvalidArgumentError: An unsafe path, a path repeated non-consecutively, or none.
            ResourceExhaustedError: The files together are larger than the limit.
        """
        return self._ingest(chunks, single_file=False)

    def _ingest(self, chunks: Iterable[tuple[str, bytes]], *, single_file: bool) -> UploadResult:
        staging = _Staging(self._tmp, self.limit_bytes)
        try:
            for path, data in chunks:
                staging.write(validate_relative_path(path), data)
            if not staging.files:
                raise InvalidArgumentError("the upload contained no file")
            _check_no_file_is_a_directory(staging.files)
            digests = self._commit_blobs(staging)
            upload_id = hashlib.sha256(
                json.dumps(sorted((str(p), d) for p, d in digests.items())).encode()
            ).hexdigest()[:32]
            self._materialise(upload_id, digests)
        finally:
            staging.close()
        uri = f"{RIME_SCHEME}{_UPLOADS}/{upload_id}"
        if single_file:
            uri += f"/{next(iter(digests))}"
        return UploadResult(uri, len(digests), staging.size_bytes)

    def _blob_path(self, digest: str) -> Path:
        return self._blobs / digest[:2] / digest

    def _commit_blobs(self, staging: _Staging) -> dict[PurePosixPath, str]:
        staging.finish_file()
        digests: dict[PurePosixPath, str] = {}
        for path, (staged, hasher) in staging.files.items():
            digest = hasher.hexdigest()
            blob = self._blob_path(digest)
            if not blob.exists():
                blob.parent.mkdir(exist_ok=True)
                staged.chmod(0o444)
                os.replace(staged, blob)
            digests[path] = digest
        return digests

    def _materialise(self, upload_id: str, digests: dict[PurePosixPath, str]) -> None:
        final = self._uploads / upload_id
        if final.exists():
            return
        building = self._tmp / f"upload-{uuid.uuid4().hex}"
        try:
            for path, digest in digests.items():
                target = _inside(building, path)
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(self._blob_path(digest), target)
                except OSError:
                    shutil.copyfile(self._blob_path(digest), target)
            try:
                os.rename(building, final)
            except OSError:
                if not final.exists():
                    raise
        finally:
            shutil.rmtree(building, ignore_errors=True)
