"""The JSON form of the engine's frozen dataclasses, read from their type hints.

A dataclass deriving from :class:`JSONRecord` gets ``to_dict()`` and ``from_dict()``: each field
becomes a key, in field order, encoded by its type --

- ``str`` / ``bool`` as they are, ``int`` as an int;
- ``float`` through :func:`json_safe` (NaN and infinities become ``None``, read back as NaN);
  ``float | None`` the same, read back as it is;
- an enum as its value; another dataclass as its own dict;
- ``tuple[X, ...]`` as a list of ``X``'s form; ``Mapping[str, X]`` as a dict (a dataclass ``X``
  in its form, anything else through :func:`json_safe`);
- anything else (``Any``, ``JSONValue``) through :func:`json_safe`.

``from_dict`` is the inverse; a key that is absent takes the field's default. Adding a field to
a result type is adding it to the dataclass.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any, Self, TypeAlias

JSONValue: TypeAlias = Any
"""A value that json.dumps accepts after :func:`json_safe`."""


def json_safe(value: JSONValue) -> JSONValue:
    """Return ``value`` with numpy scalars made Python and non-finite floats made ``None``."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@functools.cache
def _fields(cls: type) -> tuple[tuple[dataclasses.Field[Any], Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls) if f.init)


def _optional_of(hint: Any) -> Any | None:
    """``X`` of ``X | None``, else ``None``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(members) == 1 and len(typing.get_args(hint)) == 2:
            return members[0]
    return None


def _is_record(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _encode(hint: Any, value: Any) -> JSONValue:
    optional = _optional_of(hint)
    if optional is not None:
        return None if value is None else _encode(optional, value)
    origin = typing.get_origin(hint)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return [_encode(item, v) for v in value]
    if origin is Mapping or origin is dict:
        item = typing.get_args(hint)[1]
        if _is_record(item):
            return {str(k): _encode(item, v) for k, v in value.items()}
        return json_safe(dict(value))
    if _is_record(hint):
        return {f.name: _encode(h, getattr(value, f.name)) for f, h in _fields(hint)}
    if isinstance(hint, type) and issubclass(hint, Enum):
        return value.value
    if hint is bool or hint is str:
        return value
    if hint is int:
        return int(value)
    if hint is float:
        return json_safe(float(value))
    return json_safe(value)


def _decode(hint: Any, data: JSONValue) -> Any:
    optional = _optional_of(hint)
    if optional is not None:
        return None if data is None else _decode(optional, data)
    origin = typing.get_origin(hint)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_decode(item, v) for v in data)
    if origin is Mapping or origin is dict:
        item = typing.get_args(hint)[1]
        return {k: _decode(item, v) for k, v in data.items()} if _is_record(item) else dict(data)
    if _is_record(hint):
        kwargs = {f.name: _decode(h, data[f.name]) for f, h in _fields(hint) if f.name in data}
        return hint(**kwargs)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(data)
    if hint is bool:
        return bool(data)
    if hint is int:
        return int(data)
    if hint is float:
        return float("nan") if data is None else float(data)
    return data


class JSONRecord:
    """Base of a frozen dataclass that round-trips through JSON (see the module docstring)."""

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready form."""
        encoded: dict[str, JSONValue] = _encode(type(self), self)
        return encoded

    @classmethod
    def from_dict(cls, data: Mapping[str, JSONValue]) -> Self:
        """Inverse of :meth:`to_dict`."""
        decoded: Self = _decode(cls, data)
        return decoded
