"""Reading data files and inferring feature types.

Files are read by extension (``.csv``, ``.parquet``/``.pq``, ``.jsonl``/``.ndjson``, ``.json``, each
optionally compressed, e.g. ``.csv.gz``) from local paths, ``rime://`` references (mapped to a
local path by the resolver) and fsspec URLs (``s3://``, ``memory://``, ...).

Feature types are inferred from the reference set (see :func:`infer_feature_types`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pytest_rime.engine.errors import DataError

Resolver = Callable[[str], str]
"""Maps a ``rime://`` URI to a local path."""

NUMERIC = "numeric"
INTEGER = "integer"
BOOL = "bool"
CATEGORICAL = "categorical"
TEXT = "text"
DATETIME = "datetime"
FEATURE_TYPES = (NUMERIC, INTEGER, BOOL, CATEGORICAL, TEXT, DATETIME)
"""Feature types, as recorded in the results metadata."""

VALUE_KINDS = ("int", "float", "bool", "str", "datetime", "other")
"""Python kind of a feature's values in ref (what the "Must be ..." tests check in eval)."""

_TEXT_MEAN_LENGTH = 40
_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")
_COMPRESSIONS = (".gz", ".bz2", ".zip", ".xz", ".zst")
RIME_SCHEME = "rime://"


@dataclass(frozen=True)
class FeatureInfo:
    """One feature of the data.

    Attributes:
        name: Column name.
        type: One of :data:`FEATURE_TYPES`.
        value_kind: One of :data:`VALUE_KINDS`.
        in_model: False for ``features_not_in_model`` (checked as data, not given to the model).
    """

    name: str
    type: str
    value_kind: str
    in_model: bool = True

    @property
    def is_numeric(self) -> bool:
        """Numeric, integer or bool: values compare as numbers."""
        return self.type in (NUMERIC, INTEGER, BOOL)

    @property
    def is_categorical(self) -> bool:
        """Categorical or bool: a small set of values."""
        return self.type in (CATEGORICAL, BOOL)


def display_name(path: str) -> str:
    """The name a user knows ``path`` by, for messages.

    A ``rime://uploads/<id>/<file>`` reference becomes the uploaded file's own name (``<file>``,
    the name it had on the user's machine); a reference to a whole uploaded directory becomes
    ``""`` (the caller names the file inside it); other paths are returned as given.
    """
    if not path.startswith(RIME_SCHEME):
        return path
    parts = path[len(RIME_SCHEME) :].split("/")
    return "/".join(parts[2:]) if len(parts) >= 2 and parts[0] == "uploads" else path


def resolve_path(path: str, resolver: Resolver | None) -> str:
    """Map a ``rime://`` reference to a local path; return other paths unchanged.

    Raises:
        DataError: A ``rime://`` path is given but there is no resolver.
    """
    if path.startswith(RIME_SCHEME):
        if resolver is None:
            raise DataError(f"{path}: rime:// references need a resolver (run through the server)")
        return resolver(path)
    return path


def _format_of(path: str, shown: str) -> str:
    """The format of the file at ``path`` by its extension (``shown`` names it in errors)."""
    name = PurePosixPath(path.split("?", 1)[0]).name.lower()
    for suffix in _COMPRESSIONS:
        name = name.removesuffix(suffix)
    for fmt, suffixes in (
        ("csv", (".csv",)),
        ("parquet", (".parquet", ".pq")),
        ("jsonl", (".jsonl", ".ndjson")),
        ("json", (".json",)),
    ):
        if name.endswith(suffixes):
            return fmt
    raise DataError(f"{shown}: unsupported file type (expected .csv, .parquet, .jsonl or .json)")


def _read(source: str | IO[bytes], fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(source, compression="infer" if isinstance(source, str) else None)
    if fmt == "parquet":
        return pd.read_parquet(source)
    return pd.read_json(
        source,
        lines=fmt == "jsonl",
        compression="infer" if isinstance(source, str) else None,
    )


def read_table(path: str, resolver: Resolver | None = None) -> pd.DataFrame:
    """Read a csv, parquet, jsonl or json file from a local path, ``rime://`` or fsspec URL.

    Raises:
        DataError: Unsupported extension, unreadable or missing file (the message names it).
    """
    local = resolve_path(path, resolver)
    fmt = _format_of(local, display_name(path))
    try:
        if "://" in local and not local.startswith("file://"):
            import fsspec

            with fsspec.open(local, "rb", compression="infer") as stream:
                return _read(stream, fmt)
        return _read(local.removeprefix("file://"), fmt)
    except FileNotFoundError as exc:
        raise DataError(f"{display_name(path)}: file not found") from exc
    except (OSError, ValueError) as exc:
        raise DataError(f"{display_name(path)}: cannot read {fmt} file: {exc}") from exc


def read_predictions(path: str, resolver: Resolver | None, pred_col: str | None) -> np.ndarray:
    """Read precomputed predictions: the ``pred_col`` column, the only column, or all columns.

    Several columns (and no ``pred_col`` among them) are a multi-class probability matrix.
    """
    frame = read_table(path, resolver)
    if pred_col is not None and pred_col in frame.columns:
        return frame[pred_col].to_numpy()
    if frame.shape[1] == 1:
        return frame.iloc[:, 0].to_numpy()
    return frame.to_numpy(dtype=float)


def require_rows(frame: pd.DataFrame, key: str, path: str) -> None:
    """Reject a data file without rows.

    Args:
        frame: The file's rows.
        key: The config key naming the file (``data_info.eval_path``).
        path: The file as the config names it.

    Raises:
        DataError: ``frame`` has no rows (e.g. a csv file with a header only).
    """
    if len(frame) == 0:
        what = f"a header ({frame.shape[1]} columns) and no rows" if frame.shape[1] else "no rows"
        raise DataError(f"{key}: {display_name(path)} has {what}: there is nothing to test")


def require_columns(frame: pd.DataFrame, key: str, names: Sequence[str], path: str) -> None:
    """Reject a data file that lacks a column the config lists under ``key``.

    Raises:
        DataError: Some of ``names`` are not columns of ``frame`` (the message lists them).
    """
    missing = [name for name in names if name not in frame.columns]
    if missing:
        listed = ", ".join(map(repr, missing))
        plural = "columns" if len(missing) > 1 else "column"
        raise DataError(f"{key}: {display_name(path)} has no {plural} {listed}")


def sample_positions(n_rows: int, nrows: int | None, seed: int) -> npt.NDArray[np.int64] | None:
    """Sorted seeded sample of ``nrows`` row positions, or ``None`` when no sampling is needed."""
    if nrows is None or nrows >= n_rows:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=nrows, replace=False)).astype(np.int64)


def _non_null(column: pd.Series) -> pd.Series:
    return column[column.notna()]


def value_kind(column: pd.Series) -> str:
    """The Python kind of a column's non-null values (one of :data:`VALUE_KINDS`)."""
    if pd.api.types.is_bool_dtype(column):
        return "bool"
    if pd.api.types.is_integer_dtype(column):
        return "int"
    if pd.api.types.is_float_dtype(column):
        # pandas stores an int column with nulls as float: keep it an int column.
        if not column.isna().any():
            return "float"
        numbers = _non_null(column).to_numpy()
        return "int" if numbers.size and bool(np.all(np.mod(numbers, 1) == 0)) else "float"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "datetime"
    values = _non_null(column)
    if values.empty:
        return "other"
    kinds = {_python_kind(v) for v in values.iloc[:1000]}
    return kinds.pop() if len(kinds) == 1 else "other"


def _python_kind(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | np.integer):
        return "int"
    if isinstance(value, float | np.floating):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, pd.Timestamp):
        return "datetime"
    return "other"


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.iloc[:200].astype(str)
    return bool(sample.map(lambda s: _DATE_PATTERN.match(s) is not None).all())


def _infer_type(column: pd.Series, kind: str) -> str:
    if kind == "bool":
        return BOOL
    if kind == "int":
        return INTEGER
    if kind == "float":
        return NUMERIC
    if kind == "datetime":
        return DATETIME
    values = _non_null(column)
    if kind == "str" and not values.empty:
        if _looks_like_dates(values):
            return DATETIME
        if values.iloc[:2000].str.len().mean() > _TEXT_MEAN_LENGTH:
            return TEXT
    return CATEGORICAL


def infer_feature_types(
    ref: pd.DataFrame,
    *,
    exclude: Iterable[str],
    categorical_features: Sequence[str] = (),
    features_not_in_model: Sequence[str] = (),
) -> dict[str, FeatureInfo]:
    """Feature name -> :class:`FeatureInfo`, inferred from the reference set.

    Rules: bool dtype or only bool values -> bool; integer dtype (or a float column of whole
    numbers with nulls, which is how pandas stores ints with nulls) -> integer; float ->
    numeric; datetime dtype or ISO-looking date strings -> datetime; strings with a mean length
    over 40 characters -> text; other strings and mixed values -> categorical. Names in
    ``categorical_features`` are categorical whatever their dtype. ``exclude`` (label,
    prediction and timestamp columns) are not features.

    Raises:
        DataError: ``categorical_features`` or ``features_not_in_model`` names a missing column.
    """
    excluded = set(exclude)
    for key, names in (
        ("categorical_features", categorical_features),
        ("features_not_in_model", features_not_in_model),
    ):
        missing = [name for name in names if name not in ref.columns]
        if missing:
            raise DataError(f"data_info.{key}: columns {missing} are not in the reference data")
    forced = set(categorical_features)
    not_in_model = set(features_not_in_model)
    infos: dict[str, FeatureInfo] = {}
    for name in ref.columns:
        if name in excluded:
            continue
        column = ref[name]
        kind = value_kind(column)
        ftype = CATEGORICAL if name in forced else _infer_type(column, kind)
        infos[str(name)] = FeatureInfo(
            name=str(name), type=ftype, value_kind=kind, in_model=name not in not_in_model
        )
    return infos
