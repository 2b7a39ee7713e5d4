"""Cached run results in the pytest cache dir, shared by xdist workers through a file lock.

One JSON file per cache key (:func:`pytest_rime.plugin.localfiles.fingerprint` of config, data,
model and server) holds a :class:`~pytest_rime.plugin.cases.RunRecord`; ``<key>.lock`` guards
it so that, under xdist, the first worker runs the stress test and the others wait for it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from filelock import FileLock

from pytest_rime.plugin.cases import RunRecord


class ResultStore:
    """Run records by cache key under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def lock(self, key: str, timeout: float) -> FileLock:
        """A lock held while the run for ``key`` is looked up or produced."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.directory / f"{key}.lock"), timeout=timeout)

    def load(self, key: str) -> RunRecord | None:
        """The record stored for ``key``, or ``None`` (also for an unreadable file)."""
        try:
            return RunRecord.from_dict(json.loads(self._path(key).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, key: str, record: RunRecord) -> None:
        """Store ``record`` for ``key`` (atomically: readers never see half a file)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self._path(key).with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(record.to_dict(), sort_keys=True), encoding="utf-8")
        tmp.replace(self._path(key))
