"""Where a blob store's objects live: the local disk or an fsspec file system (docs/internals.md).

Objects are named by ``/``-separated keys relative to the store's root (``blobs/ab/abcd...``,
``uploads/<upload_id>/<path>``, ``manifests/<upload_id>.json``); the blob store validates every
segment before it builds a key. Two backends share the :class:`Objects` interface:

- :class:`LocalObjects`: files under the server's data directory; an upload's files are hard
  links to the blobs (a copy where links fail), every file is ``0600`` and replaced atomically.
- :class:`RemoteObjects`: objects on an fsspec URL (``s3://bucket/prefix``, ``gs://...``,
  ``memory://...``); an upload's files are copies of the blob objects (a server-side copy on
  S3). Credentials come from the file system's own defaults (for S3: the ``AWS_*`` environment
  variables and ``~/.aws``), never from the URL.

:func:`open_objects` picks the backend. No grpc here: the worker uses it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import urlsplit

from pytest_rime.server.errors import InvalidArgumentError

_HASH_BLOCK = 1 << 20
FILE_MODE = 0o600
"""Mode of local blobs, upload files and manifests: the server's user only, whatever the umask."""
UPLOADS = "uploads"


class BlobUrlError(ValueError):
    """``--blob-url`` is malformed, names credentials or cannot be written to."""


def _sha256_of(stream: Any) -> str:
    digest = hashlib.sha256()
    while block := stream.read(_HASH_BLOCK):
        digest.update(block)
    return digest.hexdigest()


def _file_sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as stream:
            return _sha256_of(stream)
    except FileNotFoundError:
        return None


class Objects(Protocol):
    """The operations a blob store needs from where its objects live."""

    def read_bytes(self, key: str) -> bytes:
        """The bytes of object ``key``; ``FileNotFoundError`` when there is none."""
        ...

    def write_bytes(self, key: str, data: bytes) -> None:
        """Make object ``key`` hold ``data``, replacing it."""
        ...

    def sha256(self, key: str) -> str | None:
        """The SHA-256 of object ``key``, ``None`` when there is no such object."""
        ...

    def put_blob(self, key: str, staged: Path) -> None:
        """Make ``staged`` (a local file the store may consume) object ``key``."""
        ...

    def place_upload(self, upload_key: str, blobs: Mapping[PurePosixPath, tuple[str, str]]) -> None:
        """Make ``<upload_key>/<path>`` the blob ``blob_key`` for each ``path: (blob_key, sha)``.

        Files already holding their bytes are kept; missing or changed ones are replaced.
        """
        ...

    def locate(self, key: str) -> str:
        """What a reader opens for ``key``: a local path or an fsspec URL."""
        ...

    def find(self, key: str) -> str | None:
        """:meth:`locate` of ``key`` if it names an object or a directory of objects, else None."""
        ...


class LocalObjects:
    """Objects as files under ``root`` (the server's data directory).

    Args:
        root: The data directory.
        tmp: Where uploads are assembled before they are renamed into place (same file system).
    """

    def __init__(self, root: Path, tmp: Path | None = None) -> None:
        self._root = root
        self._tmp = tmp or root / "tmp"

    def _path(self, key: str) -> Path:
        return self._root / key

    def read_bytes(self, key: str) -> bytes:
        """The file's bytes."""
        return self._path(key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write a temporary ``0600`` file next to ``key`` and rename it over ``key``."""
        target = self._path(key)
        temporary = target.with_name(f".{uuid.uuid4().hex}.tmp")
        temporary.write_bytes(data)
        temporary.chmod(FILE_MODE)
        os.replace(temporary, target)

    def sha256(self, key: str) -> str | None:
        """The file's SHA-256, ``None`` when it does not exist."""
        return _file_sha256(self._path(key))

    def put_blob(self, key: str, staged: Path) -> None:
        """Move ``staged`` to ``key`` (``0600``)."""
        blob = self._path(key)
        blob.parent.mkdir(exist_ok=True)
        staged.chmod(FILE_MODE)
        os.replace(staged, blob)

    def locate(self, key: str) -> str:
        """The file's path."""
        return str(self._path(key))

    def find(self, key: str) -> str | None:
        """The resolved path of an existing file or directory within its top directory, or None."""
        target = self._path(key).resolve()
        top = self._path(key.split("/", 1)[0]).resolve()
        if not target.is_relative_to(top) or not target.exists():
            return None
        return str(target)

    def _link(self, blob_key: str, target: Path) -> None:
        """Make ``target`` the blob (a hard link, else a copy), replacing it."""
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{uuid.uuid4().hex}.tmp")
        blob = self._path(blob_key)
        try:
            os.link(blob, temporary)
        except OSError:
            shutil.copyfile(blob, temporary)
            temporary.chmod(FILE_MODE)
        os.replace(temporary, target)

    def _repair(self, final: Path, blobs: Mapping[PurePosixPath, tuple[str, str]]) -> None:
        """Re-link every file of an existing upload that is not its (intact) blob."""
        for path, (blob_key, digest) in blobs.items():
            target = inside(final, path)
            if target.is_file() and (
                os.path.samefile(target, self._path(blob_key)) or _file_sha256(target) == digest
            ):
                continue
            self._link(blob_key, target)

    def place_upload(self, upload_key: str, blobs: Mapping[PurePosixPath, tuple[str, str]]) -> None:
        """Link a new upload's files in a temporary directory renamed into place; repair one."""
        final = self._path(upload_key)
        if final.exists():
            self._repair(final, blobs)
            return
        building = self._tmp / f"upload-{uuid.uuid4().hex}"
        try:
            for path, (blob_key, _) in blobs.items():
                self._link(blob_key, inside(building, path))
            try:
                os.rename(building, final)
            except OSError:
                if not final.exists():
                    raise
                self._repair(final, blobs)
        finally:
            shutil.rmtree(building, ignore_errors=True)


def inside(root: Path, relative: PurePosixPath) -> Path:
    """``root / relative``, refused when it resolves outside ``root``.

    Raises:
        InvalidArgumentError: The path escapes ``root`` (through a symlink, say).
    """
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise InvalidArgumentError(f"upload path {str(relative)!r} resolves outside the store")
    return target


class RemoteObjects:
    """Objects on an fsspec file system under ``url`` (``s3://bucket/prefix``).

    Args:
        url: The store's root URL; credentials come from the file system's defaults.

    Raises:
        BlobUrlError: The URL is malformed, names credentials or an unknown protocol.
    """

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url.rstrip("/")
        if "://" not in self.url or "::" in self.url:
            raise BlobUrlError(
                f"--blob-url {self.url!r}: expected one fsspec URL such as s3://bucket/prefix"
            )
        if "@" in urlsplit(self.url).netloc:
            raise BlobUrlError(
                "--blob-url must not contain credentials: give them in the environment "
                "(for S3: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws)"
            )
        try:
            self._fs, root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise BlobUrlError(f"--blob-url {self.url!r}: {exc}") from None
        self._root = root.rstrip("/")

    def _path(self, key: str) -> str:
        return f"{self._root}/{key}"

    def read_bytes(self, key: str) -> bytes:
        """The object's bytes."""
        data: bytes = self._fs.cat_file(self._path(key))
        return data

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write the object in one request."""
        self._fs.pipe_file(self._path(key), data)

    def sha256(self, key: str) -> str | None:
        """The object's SHA-256 (it is read through), ``None`` when it does not exist."""
        try:
            with self._fs.open(self._path(key), "rb") as stream:
                return _sha256_of(stream)
        except FileNotFoundError:
            return None

    def put_blob(self, key: str, staged: Path) -> None:
        """Upload ``staged`` as the object."""
        self._fs.put_file(str(staged), self._path(key))

    def locate(self, key: str) -> str:
        """The object's fsspec URL."""
        return str(self._fs.unstrip_protocol(self._path(key)))

    def find(self, key: str) -> str | None:
        """The URL of an existing object or prefix of objects (listings are not cached)."""
        self._fs.invalidate_cache(self._path(key))
        return self.locate(key) if self._fs.exists(self._path(key)) else None

    def place_upload(self, upload_key: str, blobs: Mapping[PurePosixPath, tuple[str, str]]) -> None:
        """Copy each blob object whose upload object is missing or changed."""
        for path, (blob_key, digest) in blobs.items():
            key = f"{upload_key}/{path}"
            if self.sha256(key) != digest:
                self._fs.copy(self._path(blob_key), self._path(key))

    def check_writable(self) -> None:
        """Write and delete a probe object, so a bad URL fails when the server starts.

        Raises:
            BlobUrlError: The object cannot be written (no such bucket, no access, ...).
        """
        probe = self._path(f"tmp/probe-{uuid.uuid4().hex}")
        try:
            self._fs.pipe_file(probe, b"")
            self._fs.rm_file(probe)
        except Exception as exc:  # any file system's error: the server must not start
            raise BlobUrlError(
                f"--blob-url {self.url!r}: cannot write objects there: {type(exc).__name__}: {exc}"
            ) from None


def open_objects(data_dir: Path, blob_url: str) -> Objects:
    """The objects of a store: on ``blob_url`` when given, else under ``data_dir``.

    Raises:
        BlobUrlError: ``blob_url`` is malformed or names an unknown protocol.
    """
    return RemoteObjects(blob_url) if blob_url else LocalObjects(data_dir)
