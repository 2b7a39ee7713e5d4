"""Cached results in the pytest cache dir, shared by xdist workers through a file lock.

One JSON file per cache key (:func:`pytest_rime.plugin.localfiles.fingerprint` of config, data,
model and server) holds a record (a stress test's
:class:`~pytest_rime.plugin.cases.RunRecord`, a firewall's
:class:`~pytest_rime.plugin.bins.FirewallRecord`); ``<key>.lock`` guards it so that, under
xdist, the first worker runs the job and the others wait for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from filelock import FileLock


class Record(Protocol):
    """A record the store can write."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        ...


R = TypeVar("R", bound=Record)


class ResultStore(Generic[R]):
    """Records by cache key under ``directory``, read back with ``from_dict``."""

    def __init__(self, directory: Path, from_dict: Callable[[Mapping[str, Any]], R]) -> None:
        self.directory = directory
        self._from_dict = from_dict

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def lock(self, key: str, timeout: float) -> FileLock:
        """A lock held while the record for ``key`` is looked up or produced."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.directory / f"{key}.lock"), timeout=timeout)

    def load(self, key: str) -> R | None:
        """The record stored for ``key``, or ``None`` (also for an unreadable file)."""
        try:
            return self._from_dict(json.loads(self._path(key).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, key: str, record: R) -> None:
        """Store ``record`` for ``key`` (atomically: readers never see half a file)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self._path(key).with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(record.to_dict(), sort_keys=True), encoding="utf-8")
        tmp.replace(self._path(key))
