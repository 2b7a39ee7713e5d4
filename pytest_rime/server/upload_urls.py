"""Presigned-style upload URLs on the web port, for the ``rime`` wire's ``FileUpload``.

The published rime-sdk client uploads in two steps: it asks ``FileUpload`` for URLs, PUTs each
file's bytes to its upload URL, PUTs a short text to the done URL, and then names the
destination in its configs. :class:`UploadUrls` issues those URLs and receives the PUTs:

- A URL is ``<web base URL>/upload-urls/<token>``. The token (``secrets.token_urlsafe``) is the
  capability, so no API key is asked for (like a presigned URL). It is good for one PUT of one
  file (or of the done marker) of one destination, until ``upload_url_ttl_secs`` after it was
  issued. Tokens live in this process's memory: a restart voids the URLs not yet used.
- The bytes stream into the blob store as they arrive: one
  :meth:`~pytest_rime.server.blobs.BlobStore.upload_directory` per destination, fed from its
  PUTs through a queue (the PUTs of one destination are served one at a time). The upload is
  committed by the done PUT, which must come in time and after every file; until then nothing
  is stored, and a destination that fails or expires stores nothing.
- All files of a destination together may hold ``upload_limit`` bytes; a PUT past it is
  refused and voids the destination.
- HTTP answers: 200 stored; 404 no such URL; 410 the URL was used or has expired (404 once
  forgotten, a TTL later); 413 past the size limit; 409 the destination failed earlier, or the
  done PUT came before every file; 400 a malformed body. A GET of a URL answers its state
  without using it (405 while it is valid).
- A destination is ``rime://upload-urls/<id>`` (plus ``/<file name>`` for a dataset file). Once
  done, a record under ``<data dir>/upload-urls/`` maps it to the upload's content-addressed
  ``rime://uploads/<hash>`` reference (the same one the v1 upload of the same files gives);
  :func:`resolve_destinations` rewrites the destinations in a config to those references.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from pytest_rime.server.blobs import BlobStore, UploadResult, validate_relative_path
from pytest_rime.server.datadir import PRIVATE_DIR_MODE, write_private
from pytest_rime.server.errors import (
    InvalidArgumentError,
    ResourceExhaustedError,
    ServerError,
)

DESTINATION_SCHEME = "rime://upload-urls/"
"""Prefix of the destinations :class:`UploadUrls` hands out."""
URL_PATH = "/upload-urls/"
"""Path prefix of the upload URLs on the web port (the token follows)."""
_RECORDS_DIR = "upload-urls"
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_QUEUE_BLOCKS = 8
_FEED_WAIT_SECS = 0.5

_log = logging.getLogger(__name__)


class UploadExpiredError(ServerError):
    """The upload URLs expired before the upload was done."""

    grpc_code = "DEADLINE_EXCEEDED"


class UploadVoidedError(ServerError):
    """The upload was given up (a refused PUT), so nothing of it is stored."""

    grpc_code = "ABORTED"


@dataclass(frozen=True)
class Grant:
    """The URLs handed out for one destination.

    Attributes:
        upload_urls: The URL to PUT each file's bytes to, by relative path.
        done_url: The URL to PUT a short text to once every file is uploaded.
        destination: What configs name once the upload is done.
        limit_bytes: The largest total size of the files.
    """

    upload_urls: Mapping[str, str]
    done_url: str
    destination: str
    limit_bytes: int


@dataclass(frozen=True)
class Receipt:
    """The answer to one request on an upload URL: an HTTP status and a one-line message."""

    status: HTTPStatus
    message: str


class _Ingest:
    """One blob store upload fed block by block from PUT bodies, run in its own thread.

    The thread gives up (storing nothing) at ``deadline`` if :meth:`finish` was not called.
    """

    def __init__(self, blobs: BlobStore, deadline: float) -> None:
        self._deadline = deadline
        self._queue: queue.Queue[tuple[str, bytes] | ServerError | None] = queue.Queue(
            maxsize=_QUEUE_BLOCKS
        )
        self._ended = threading.Event()
        self.result: UploadResult | None = None
        self.error: Exception | None = None
        thread = threading.Thread(
            target=self._run, args=(blobs,), name="rime-upload-url", daemon=True
        )
        thread.start()

    def _chunks(self) -> Iterator[tuple[str, bytes]]:
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, self._deadline - time.monotonic()))
            except queue.Empty:
                raise UploadExpiredError(
                    "the upload URLs expired before the upload was done"
                ) from None
            if item is None:
                return
            if isinstance(item, ServerError):
                raise item
            yield item

    def _run(self, blobs: BlobStore) -> None:
        try:
            self.result = blobs.upload_directory(self._chunks())
        except Exception as exc:  # reported to the PUT that comes next
            self.error = exc
        finally:
            self._ended.set()

    def _put(self, item: tuple[str, bytes] | ServerError | None) -> bool:
        while not self._ended.is_set():
            try:
                self._queue.put(item, timeout=_FEED_WAIT_SECS)
                return True
            except queue.Full:
                continue
        return False

    def feed(self, path: str, data: bytes) -> bool:
        """Hand a block of file ``path`` to the blob store; ``False`` once the upload ended."""
        return self._put((path, data))

    def abort(self, reason: str) -> None:
        """Give the upload up: the blob store drops what it staged."""
        self._put(UploadVoidedError(reason))
        self._ended.wait()

    def finish(self) -> UploadResult:
        """Commit the upload and return its reference.

        Raises:
            ServerError: The blob store refused the upload, or it expired.
        """
        self._put(None)
        self._ended.wait()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@dataclass(eq=False)
class _Destination:
    """One destination's files, deadline and progress (guarded by ``lock``)."""

    dest_id: str
    paths: frozenset[str]
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: set[str] = field(default_factory=set)
    size_bytes: int = 0
    ingest: _Ingest | None = None
    failure: str = ""


@dataclass(eq=False)
class _Slot:
    """What one token may do: PUT file ``path`` of ``destination``, or its done marker."""

    destination: _Destination
    path: str | None
    used: bool = False


def _status_of(error: Exception) -> HTTPStatus:
    if isinstance(error, UploadExpiredError):
        return HTTPStatus.GONE
    if isinstance(error, ResourceExhaustedError):
        return HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    if isinstance(error, InvalidArgumentError):
        return HTTPStatus.BAD_REQUEST
    return HTTPStatus.INTERNAL_SERVER_ERROR


def _file_path(key: str, path: str) -> str:
    try:
        validate_relative_path(path)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{key}: {exc}") from None
    return path


class UploadUrls:
    """The upload URLs of one server: issues them and receives their PUTs.

    Args:
        blobs: Where the bytes go.
        data_dir: The server's data directory (records of finished destinations).
        base_url: The web app's URL as clients reach it.
        ttl_secs: How long URLs stay valid after they are issued.
    """

    def __init__(self, blobs: BlobStore, data_dir: Path, base_url: str, ttl_secs: float) -> None:
        self._blobs = blobs
        self._records = data_dir / _RECORDS_DIR
        self._records.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        self._base_url = base_url.rstrip("/")
        self._ttl = ttl_secs
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()

    def dataset_file(self, file_name: str) -> Grant:
        """URLs for one file named ``file_name``; its destination ends in ``/<file_name>``.

        Raises:
            InvalidArgumentError: ``file_name`` is not a plain file name.
        """
        if "/" in file_name:
            raise InvalidArgumentError(f"file_name: {file_name!r} must be a name without '/'")
        return self._issue([_file_path("file_name", file_name)], f"/{file_name}")

    def model_directory(self, relative_paths: Sequence[str]) -> Grant:
        """URLs for a directory of files at ``relative_paths`` (``/``-separated).

        Raises:
            InvalidArgumentError: No path, a repeated path or an unsafe one.
        """
        if not relative_paths:
            raise InvalidArgumentError("relative_file_paths: the directory has no file")
        if len(set(relative_paths)) != len(relative_paths):
            raise InvalidArgumentError("relative_file_paths: a path is listed twice")
        return self._issue([_file_path("relative_file_paths", p) for p in relative_paths], "")

    def _issue(self, paths: Sequence[str], suffix: str) -> Grant:
        now = time.monotonic()
        destination = _Destination(secrets.token_hex(16), frozenset(paths), now + self._ttl)
        with self._lock:
            forgotten = now - self._ttl  # used or expired URLs answer 410 for a TTL, then 404
            for token in [t for t, s in self._slots.items() if s.destination.deadline < forgotten]:
                del self._slots[token]
            urls = {path: self._add(destination, path) for path in paths}
            done = self._add(destination, None)
        destination_uri = f"{DESTINATION_SCHEME}{destination.dest_id}{suffix}"
        return Grant(urls, done, destination_uri, self._blobs.limit_bytes)

    def _add(self, destination: _Destination, path: str | None) -> str:
        token = secrets.token_urlsafe(32)
        self._slots[token] = _Slot(destination, path)
        return f"{self._base_url}{URL_PATH}{token}"

    def _refusal(self, slot: _Slot | None) -> Receipt | None:
        if slot is None:
            return Receipt(HTTPStatus.NOT_FOUND, "no such upload URL")
        if slot.used:
            return Receipt(HTTPStatus.GONE, "this upload URL was used already")
        if time.monotonic() > slot.destination.deadline:
            return Receipt(HTTPStatus.GONE, "this upload URL has expired")
        return None

    def probe(self, token: str) -> Receipt:
        """The state of a URL, without using it: 405 (PUT only) while valid, else 404 / 410."""
        with self._lock:
            refusal = self._refusal(self._slots.get(token))
        return refusal or Receipt(HTTPStatus.METHOD_NOT_ALLOWED, "PUT the bytes to this URL")

    def receive(self, token: str, blocks: Iterable[bytes], declared_bytes: int | None) -> Receipt:
        """Serve a PUT to the URL of ``token`` whose body arrives as ``blocks``.

        Args:
            token: The URL's last segment.
            blocks: The body; may raise ``ValueError`` (malformed) or ``OSError`` (cut off).
            declared_bytes: The body's ``Content-Length``, ``None`` when chunked.
        """
        with self._lock:
            slot = self._slots.get(token)
            refusal = self._refusal(slot)
            if slot is not None and refusal is None and slot.path is not None:
                slot.used = True
        if refusal is not None:
            return refusal
        assert slot is not None
        destination = slot.destination
        with destination.lock:
            if destination.failure:
                return Receipt(
                    HTTPStatus.CONFLICT,
                    f"this upload failed earlier ({destination.failure}); ask for new URLs",
                )
            if slot.path is None:
                return self._finish(slot)
            return self._store(destination, slot.path, blocks, declared_bytes)

    def _void(self, destination: _Destination, status: HTTPStatus, reason: str) -> Receipt:
        destination.failure = reason
        if destination.ingest is not None:
            destination.ingest.abort(reason)
        return Receipt(status, reason)

    def _too_large(self, destination: _Destination) -> Receipt:
        limit = self._blobs.limit_bytes
        reason = f"the upload is larger than the server's limit of {limit} bytes"
        return self._void(destination, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, reason)

    def _store(
        self,
        destination: _Destination,
        path: str,
        blocks: Iterable[bytes],
        declared_bytes: int | None,
    ) -> Receipt:
        limit = self._blobs.limit_bytes
        if declared_bytes is not None and destination.size_bytes + declared_bytes > limit:
            return self._too_large(destination)
        if destination.ingest is None:
            destination.ingest = _Ingest(self._blobs, destination.deadline)
        ingest = destination.ingest
        fed = ingest.feed(path, b"")  # an empty file is a file too
        try:
            for block in blocks if fed else ():
                destination.size_bytes += len(block)
                if destination.size_bytes > limit:
                    return self._too_large(destination)
                if not (fed := ingest.feed(path, block)):
                    break
        except (ValueError, OSError) as exc:
            return self._void(destination, HTTPStatus.BAD_REQUEST, f"the body was cut off: {exc}")
        if not fed:
            error = ingest.error or UploadExpiredError("the upload ended early")
            return self._void(destination, _status_of(error), str(error))
        destination.received.add(path)
        return Receipt(HTTPStatus.OK, f"received {path}")

    def _finish(self, slot: _Slot) -> Receipt:
        destination = slot.destination
        refusal = self._refusal(slot)  # again: another done PUT may have won the lock
        if refusal is not None:
            return refusal
        missing = sorted(destination.paths - destination.received)
        if missing:
            return Receipt(
                HTTPStatus.CONFLICT,
                f"{len(missing)} file(s) not uploaded yet, e.g. {missing[0]!r}: "
                "PUT every file before the done URL",
            )
        slot.used = True
        assert destination.ingest is not None
        try:
            result = destination.ingest.finish()
        except ServerError as exc:
            destination.failure = str(exc)
            return Receipt(_status_of(exc), str(exc))
        self._record(destination.dest_id, result.rime_uri)
        _log.info("upload %s done: %s", destination.dest_id, result.rime_uri)
        return Receipt(HTTPStatus.OK, "Upload complete")

    def _record(self, dest_id: str, uri: str) -> None:
        record = self._records / dest_id
        temporary = record.with_name(f".{dest_id}.tmp")
        write_private(temporary, uri)
        os.replace(temporary, record)


def _resolve(data_dir: Path, key: str, uri: str) -> str:
    dest_id, _, inner = uri[len(DESTINATION_SCHEME) :].partition("/")
    if not _ID.fullmatch(dest_id):
        raise InvalidArgumentError(
            f"{key}: {uri[:120]!r} is not an upload destination "
            f"(expected {DESTINATION_SCHEME}<id>[/<path>])"
        )
    if inner:
        _file_path(key, inner)
    try:
        root = (data_dir / _RECORDS_DIR / dest_id).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidArgumentError(
            f"{key}: {uri!r} names no finished upload on this server: its done URL was not "
            "PUT after its files (or it expired); upload the files again"
        ) from None
    return f"{root}/{inner}" if inner else root


def resolve_destinations(data_dir: Path, value: Any, key: str = "config") -> Any:
    """``value`` with each ``rime://upload-urls/...`` string replaced by its upload's reference.

    Walks dicts and lists (a JSON value such as a test run config); other values are returned
    as they are. Dict keys are joined to ``key`` for messages (``config.data_info.ref_path``).

    Raises:
        InvalidArgumentError: A destination is malformed, unknown or not finished; the message
            names its key.
    """
    if isinstance(value, str) and value.startswith(DESTINATION_SCHEME):
        return _resolve(data_dir, key, value)
    if isinstance(value, Mapping):
        return {k: resolve_destinations(data_dir, v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_destinations(data_dir, v, f"{key}[{i}]") for i, v in enumerate(value)]
    return value
