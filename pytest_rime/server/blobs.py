"""Content-addressed blob store and ``rime://`` references (docs/internals.md).

Bytes live once under ``blobs/<sha256[:2]>/<sha256>``; an upload is materialised as
``uploads/<upload_id>/<relative path>`` (hard links to the blobs on the local disk, copies of
the blob objects on an fsspec ``--blob-url``: :mod:`blobstore_backends`) where ``upload_id`` is
a hash of the names and contents, so the same upload always yields the same reference. Nothing
is written outside the store: relative paths are validated (length and depth too) and, on the
local disk, the resolved target is checked.

Local blobs, upload files and manifests are ``0600``. Each upload's SHA-256 per file is kept in
``manifests/<upload_id>.json``. Reading an upload
(:func:`resolve_rime_uri`, :meth:`BlobStore.check_upload`) checks its files against it and
raises :class:`DataLossError` naming the upload when they differ; uploading the same files
again checks the stored blobs and the upload's files and replaces whatever is corrupted or
missing.

This module imports no grpc: the worker uses :func:`resolve_rime_uri`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from pytest_rime.server.blobstore_backends import (
    UPLOADS,
    LocalObjects,
    Objects,
    RemoteObjects,
    open_objects,
)
from pytest_rime.server.errors import (
    DataLossError,
    InvalidArgumentError,
    ResourceExhaustedError,
)

RIME_SCHEME = "rime://"
_BLOBS = "blobs"
_MANIFESTS = "manifests"
MAX_SEGMENT_BYTES = 255
"""Longest file or directory name of an upload (UTF-8 bytes; the file systems' limit)."""
MAX_SEGMENTS = 64
"""Deepest relative path of an uploaded file (directories plus the file name)."""
MAX_PATH_BYTES = 1024
"""Longest relative path of an uploaded file (UTF-8 bytes)."""
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class UploadResult:
    """What an upload produced: its reference, file count and total size."""

    rime_uri: str
    num_files: int
    size_bytes: int


def _shown(text: str, limit: int = 80) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _path_problem(path: str) -> str:
    segments = path.split("/")
    if not path:
        return "it is empty"
    if "\x00" in path:
        return "it contains a NUL character"
    if "\\" in path:
        return "it contains a backslash (use '/' to separate directories)"
    if path.startswith("/"):
        return "it is absolute"
    if len(segments) > MAX_SEGMENTS:
        return f"it has {len(segments)} segments (at most {MAX_SEGMENTS})"
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"it is longer than {MAX_PATH_BYTES} bytes"
    if any(len(s.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES for s in segments):
        return f"a name in it is longer than {MAX_SEGMENT_BYTES} bytes"
    if any(segment in ("", ".", "..") for segment in segments):
        return "it has an empty, '.' or '..' segment"
    return ""


def validate_relative_path(path: str) -> PurePosixPath:
    """Check an uploaded file's path (``UploadChunk.relative_path``) and return it.

    A valid path is relative, ``/``-separated, at most :data:`MAX_PATH_BYTES` long with at
    most :data:`MAX_SEGMENTS` segments of at most :data:`MAX_SEGMENT_BYTES`, and has no empty,
    ``.`` or ``..`` segment, no backslash and no NUL.

    Raises:
        InvalidArgumentError: The path is unsafe; the message names the field and says why.
    """
    problem = _path_problem(path)
    if problem:
        raise InvalidArgumentError(
            f"relative_path: upload path {_shown(path)} is not allowed: {problem}"
        )
    return PurePosixPath(path)


def _parse_rime_uri(uri: str) -> tuple[str, PurePosixPath | None]:
    """``(upload_id, path inside the upload or None)`` of ``rime://uploads/<id>[/<path>]``.

    Raises:
        InvalidArgumentError: ``uri`` is malformed (the message quotes it, cut short).
    """
    rest = uri[len(RIME_SCHEME) :] if uri.startswith(RIME_SCHEME) else ""
    expected = "expected rime://uploads/<upload_id>[/<file name>]"
    if _path_problem(rest):
        raise InvalidArgumentError(f"{_shown(uri)} is not a valid rime:// reference: {expected}")
    parts = PurePosixPath(rest).parts
    if parts[0] != UPLOADS or len(parts) < 2 or not _UPLOAD_ID.fullmatch(parts[1]):
        raise InvalidArgumentError(f"{_shown(uri)}: {expected}")
    inner = PurePosixPath(*parts[2:]) if len(parts) > 2 else None
    return parts[1], inner


def _blob_key(digest: str) -> str:
    return f"{_BLOBS}/{digest[:2]}/{digest}"


def _manifest_key(upload_id: str) -> str:
    return f"{_MANIFESTS}/{upload_id}.json"


def _verify_upload(objects: Objects, uri: str, upload_id: str, inner: PurePosixPath | None) -> None:
    """Check the files of ``uri`` against their recorded SHA-256 (none recorded: no check).

    Raises:
        DataLossError: A file is missing or its bytes changed; the message names the upload.
    """
    try:
        recorded: dict[str, str] = json.loads(objects.read_bytes(_manifest_key(upload_id)))
    except FileNotFoundError:
        return
    except ValueError:
        raise DataLossError(
            f"upload {uri} is corrupted: the record of its SHA-256 hashes is unreadable; upload "
            "the same files again to repair it"
        ) from None
    for name, digest in recorded.items():
        if inner is not None and not PurePosixPath(name).is_relative_to(inner):
            continue
        if objects.sha256(f"{UPLOADS}/{upload_id}/{name}") != digest:
            raise DataLossError(
                f"upload {uri} is corrupted: its file {name!r} no longer matches the SHA-256 "
                "recorded when it was uploaded; upload the same files again to repair it"
            )


def resolve_rime_uri(data_dir: Path, uri: str, blob_url: str = "") -> str:
    """Map ``rime://uploads/<upload_id>[/<path>]`` to the file or directory it names.

    That is a local path under ``data_dir``, or with ``blob_url`` (the server's ``--blob-url``)
    the object's fsspec URL there (``data_dir`` is then not touched). The files it names are
    checked against the SHA-256 recorded at upload (a recorded file that is missing is data
    loss too).

    Raises:
        FileNotFoundError: The reference is malformed or names nothing this server stored.
        DataLossError: The upload's bytes changed since it was uploaded.
    """
    if not uri.startswith(RIME_SCHEME):
        raise FileNotFoundError(f"{uri!r} is not a rime:// reference")
    try:
        upload_id, inner = _parse_rime_uri(uri)
    except InvalidArgumentError as exc:
        raise FileNotFoundError(str(exc)) from exc
    objects = open_objects(data_dir, blob_url)
    _verify_upload(objects, uri, upload_id, inner)
    target = objects.find(f"{UPLOADS}/{upload_id}" + (f"/{inner}" if inner else ""))
    if target is None:
        raise FileNotFoundError(f"{uri!r}: no such upload on this server")
    return target


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
        data_dir: The server's data directory (``tmp/`` for uploads being received goes there,
            and without ``blob_url`` also ``blobs/``, ``uploads/`` and ``manifests/``).
        limit_bytes: Largest total size of one upload.
        blob_url: An fsspec URL (``s3://bucket/prefix``) to keep the store's objects on
            instead of ``data_dir``; credentials come from the environment.

    Raises:
        BlobUrlError: ``blob_url`` is malformed, names credentials or cannot be written to.
    """

    def __init__(self, data_dir: Path, limit_bytes: int, blob_url: str = "") -> None:
        self.limit_bytes = limit_bytes
        self._tmp = data_dir / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        if blob_url:
            remote = RemoteObjects(blob_url)
            remote.check_writable()
            self._objects: Objects = remote
        else:
            for name in (_BLOBS, UPLOADS, _MANIFESTS):
                (data_dir / name).mkdir(parents=True, exist_ok=True)
            self._objects = LocalObjects(data_dir, self._tmp)

    def check_upload(self, key: str, uri: str) -> None:
        """Refuse a malformed or corrupted ``rime://`` reference named by config key ``key``.

        A well-formed reference to no upload passes: the job fails naming it.

        Raises:
            InvalidArgumentError: ``uri`` is malformed.
            DataLossError: The upload's files no longer match their recorded SHA-256.
        """
        try:
            upload_id, inner = _parse_rime_uri(uri)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{key}: {exc}") from None
        try:
            _verify_upload(self._objects, uri, upload_id, inner)
        except DataLossError as exc:
            raise DataLossError(f"{key}: {exc}") from None

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
        uri = f"{RIME_SCHEME}{UPLOADS}/{upload_id}"
        if single_file:
            uri += f"/{next(iter(digests))}"
        return UploadResult(uri, len(digests), staging.size_bytes)

    def _commit_blobs(self, staging: _Staging) -> dict[PurePosixPath, str]:
        """Store each staged file as its blob unless an intact blob holds the same bytes."""
        staging.finish_file()
        digests: dict[PurePosixPath, str] = {}
        for path, (staged, hasher) in staging.files.items():
            digest = hasher.hexdigest()
            if self._objects.sha256(_blob_key(digest)) != digest:
                self._objects.put_blob(_blob_key(digest), staged)
            digests[path] = digest
        return digests

    def _materialise(self, upload_id: str, digests: dict[PurePosixPath, str]) -> None:
        """Record the upload's hashes, then place (or repair) its files."""
        manifest = json.dumps({str(p): d for p, d in sorted(digests.items())})
        self._objects.write_bytes(_manifest_key(upload_id), manifest.encode())
        self._objects.place_upload(
            f"{UPLOADS}/{upload_id}",
            {path: (_blob_key(digest), digest) for path, digest in digests.items()},
        )
