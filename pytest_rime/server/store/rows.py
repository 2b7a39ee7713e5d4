"""A frozen dataclass <-> SQLite row mapper: a table's columns are its record's fields.

A :class:`Table` reads ``dataclasses.fields()`` of its record type once and derives, per field,
the column and how a value is stored (from the field's type, unless a codec is given):

- a ``StrEnum`` is stored as its value and read back as the enum member;
- a ``dict``, ``list`` or ``Mapping`` is stored as JSON in a column named ``<field>_json``;
- a ``tuple[X, ...]`` is stored as a JSON list in ``<field>_json`` (dataclass items as objects)
  and read back as a tuple (of ``X`` when ``X`` is a dataclass);
- anything else is stored as it is.

Columns that belong to the table but not to the record (``is_default``, a row's ``position``,
the owning ``test_run_id`` of a test case) are named as ``extra`` and given on insert.
The column list, the placeholders and the values of every INSERT come from here.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar, Union, get_args, get_origin, get_type_hints

R = TypeVar("R")


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Codec:
    """How one field is stored: the column name's suffix and the two conversions."""

    suffix: str = ""
    encode: Callable[[Any], Any] = _same
    decode: Callable[[Any], Any] = _same


PLAIN = Codec()
"""Stored as it is."""

JSON = Codec("_json", json.dumps, json.loads)
"""A JSON document in ``<field>_json``."""


def enum_codec(kind: type[Enum]) -> Codec:
    """An enum stored as its value."""
    return Codec("", lambda member: member.value, kind)


def json_tuple_codec(item: Any) -> Codec:
    """A tuple stored as a JSON list in ``<field>_json``; dataclass items as objects."""
    if dataclasses.is_dataclass(item) and isinstance(item, type):
        kind = item
        return Codec(
            "_json",
            lambda items: json.dumps([dataclasses.asdict(i) for i in items]),
            lambda text: tuple(kind(**i) for i in json.loads(text)),
        )
    return Codec("_json", lambda items: json.dumps(list(items)), lambda t: tuple(json.loads(t)))


def codec_for(hint: Any) -> Codec:
    """The codec a field of type ``hint`` gets when none is given."""
    if isinstance(hint, type) and issubclass(hint, Enum):
        return enum_codec(hint)
    origin = get_origin(hint)
    if origin in (dict, list, Mapping):
        return JSON
    if origin is tuple:
        return json_tuple_codec(get_args(hint)[0])
    if origin in (types.UnionType, Union) or hint in (str, int, float, bool) or hint is Any:
        return PLAIN
    raise TypeError(f"no column codec for type {hint!r}; give one")


@dataclass(frozen=True)
class Column:
    """One record field as one column."""

    field: str
    name: str
    codec: Codec


class Table(Generic[R]):
    """The mapping of the frozen dataclass ``record`` onto the SQLite table ``name``.

    Args:
        name: The table.
        record: The dataclass one row reads into.
        extra: Columns of the table that are not fields of ``record`` (given on insert).
        codecs: Field name -> codec, where the type-derived one does not fit.
    """

    def __init__(
        self,
        name: str,
        record: type[R],
        *,
        extra: Sequence[str] = (),
        codecs: Mapping[str, Codec] | None = None,
    ) -> None:
        if not dataclasses.is_dataclass(record):
            raise TypeError(f"{record!r} is not a dataclass")
        hints = get_type_hints(record)
        given = dict(codecs or {})
        self.name = name
        self.record = record
        self.extra = tuple(extra)
        self.columns = tuple(
            Column(f.name, f.name + codec.suffix, codec)
            for f in dataclasses.fields(record)
            for codec in [given.pop(f.name, None) or codec_for(hints[f.name])]
        )
        self._by_field = {column.field: column for column in self.columns}
        if given:
            raise ValueError(f"codecs for fields {record.__name__} does not have: {sorted(given)}")

    @property
    def column_names(self) -> tuple[str, ...]:
        """The record's columns, in field order."""
        return tuple(column.name for column in self.columns)

    def select(self, where: str = "", order_by: str = "") -> str:
        """``SELECT <the record's columns> FROM <table> [WHERE ...] [ORDER BY ...]``."""
        sql = f"SELECT {', '.join(self.column_names)} FROM {self.name}"
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        return sql

    def insert_sql(self) -> str:
        """``INSERT INTO <table> (<extra and record columns>) VALUES (?, ...)``."""
        names = (*self.extra, *self.column_names)
        return (
            f"INSERT INTO {self.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
        )

    def update(
        self, conn: sqlite3.Connection, where: str, params: Sequence[Any], **values: Any
    ) -> int:
        """``UPDATE <table> SET <the fields' columns> WHERE <where>``; the rows changed.

        ``values`` are field name -> value, encoded as the field is stored.
        """
        columns = [self._by_field[name] for name in values]
        assignments = ", ".join(f"{c.name} = ?" for c in columns)
        encoded = [c.codec.encode(values[c.field]) for c in columns]
        sql = f"UPDATE {self.name} SET {assignments} WHERE {where}"
        return conn.execute(sql, (*encoded, *params)).rowcount

    def update_record(
        self, conn: sqlite3.Connection, record: R, where: str, params: Sequence[Any]
    ) -> int:
        """Write every field of ``record`` to the rows ``where`` selects; the rows changed."""
        fields = {c.field: getattr(record, c.field) for c in self.columns}
        return self.update(conn, where, params, **fields)

    def values(self, record: R, **extra: Any) -> tuple[Any, ...]:
        """The values of :meth:`insert_sql` for ``record`` and the ``extra`` columns."""
        if set(extra) != set(self.extra):
            raise ValueError(f"{self.name}: give exactly the extra columns {self.extra}")
        return (
            *(extra[name] for name in self.extra),
            *(c.codec.encode(getattr(record, c.field)) for c in self.columns),
        )

    def from_row(self, row: sqlite3.Row) -> R:
        """The record a row of :meth:`select` holds."""
        return self.record(**{c.field: c.codec.decode(row[c.name]) for c in self.columns})

    def insert(self, conn: sqlite3.Connection, record: R, **extra: Any) -> None:
        """Insert one row."""
        conn.execute(self.insert_sql(), self.values(record, **extra))

    def insert_many(
        self, conn: sqlite3.Connection, rows: Iterable[tuple[R, Mapping[str, Any]]]
    ) -> None:
        """Insert ``(record, extra columns)`` rows."""
        conn.executemany(self.insert_sql(), [self.values(r, **extra) for r, extra in rows])
