"""The shared SQLite layer: one connection, its lock, transactions, migrations and paging.

One connection guarded by a re-entrant lock (the gRPC thread pool, the scheduler and job
monitors share it), WAL journal, schema versioned by a ``schema_version`` table and a list of
migration scripts (:mod:`pytest_rime.server.store.schema`).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pytest_rime.server.datadir import private_file
from pytest_rime.server.errors import NotFoundError
from pytest_rime.server.pagination import decode_token, encode_token, page_size
from pytest_rime.server.records import Page
from pytest_rime.server.store.rows import Table

R = TypeVar("R")


def new_id() -> str:
    """A fresh random identifier."""
    return uuid.uuid4().hex


class Database:
    """The store's SQLite file, migrated to the latest schema when opened.

    Args:
        path: The database file; created (with its schema) when missing. It is made ``0600``
            (SQLite gives its ``-wal`` and ``-shm`` files the same mode).
        migrations: Entry ``i`` takes the schema from version ``i`` to ``i + 1``.
    """

    def __init__(self, path: Path, migrations: Sequence[str]) -> None:
        self._lock = threading.RLock()
        private_file(path)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._migrate(migrations)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside ``BEGIN IMMEDIATE``; committed on exit, rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """All rows of one statement."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def rows(
        self, table: Table[R], where: str = "", params: Sequence[Any] = (), order_by: str = ""
    ) -> list[R]:
        """Every record of ``table`` that ``where`` selects, in ``order_by`` order."""
        rows = self.query(table.select(where, order_by), params)
        return [table.from_row(row) for row in rows]

    def one(self, table: Table[R], where: str, params: Sequence[Any], missing: str) -> R:
        """The first record of ``table`` that ``where`` selects.

        Raises:
            NotFoundError: None; ``missing`` is the message.
        """
        found = self.rows(table, where, params)
        if not found:
            raise NotFoundError(missing)
        return found[0]

    def page(
        self,
        table: Table[R],
        where: str,
        params: Sequence[Any],
        order_by: str,
        *,
        token: str,
        size: int,
    ) -> Page[R]:
        """One page of the records ``where`` selects: ``size`` of them from the token's offset."""
        offset, limit = decode_token(token), page_size(size)
        sql = f"{table.select(where, order_by)} LIMIT ? OFFSET ?"
        rows = self.query(sql, (*params, limit + 1, offset))
        items = [table.from_row(row) for row in rows[:limit]]
        next_token = encode_token(offset + limit) if len(rows) > limit else ""
        return Page(items, next_token)

    def schema_version(self) -> int:
        """The schema version of the open database."""
        return int(self.query("SELECT version FROM schema_version")[0]["version"])

    def _migrate(self, migrations: Sequence[str]) -> None:
        with self.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = row["version"] if row else 0
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            for script in migrations[version:]:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute("UPDATE schema_version SET version = ?", (len(migrations),))
