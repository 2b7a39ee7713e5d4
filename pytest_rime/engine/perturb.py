"""Pure value generators for the Transformations and Attacks tests.

Nothing here calls a model. A **substitution** takes one column of sampled evaluation rows, the
feature's reference :class:`~pytest_rime.engine.profile.FeatureProfile` and a seeded generator,
and returns a new column with the same index (every row replaced), or ``None`` when it does not
apply to the feature's type:

=========================  ===============================================================
substitution               values (applies to)
=========================  ===============================================================
:func:`nulls`              missing values in the column's own dtype family (every feature)
:func:`out_of_range`       just outside the reference range: ``min - 10% of the range`` or
                           ``max + 10% of the range``, side drawn per row (numeric, integer)
:func:`numeric_outliers`   far from the data: ``median +/- 10 x (q99 - q1)``, side drawn per
                           row; ``q99 - q1`` falls back to the range (numeric, integer)
:func:`unseen_category`    one value absent from the reference categories (categorical)
:func:`empty_strings`      ``""`` (categorical and text features holding strings)
:func:`type_change`        numbers and bools as their text (``3.5 -> "3.5"``), strings as
                           integer codes (position of the category among the reference
                           categories by frequency, ``-1`` if unseen); nulls stay null
                           (every type but datetime)
:func:`capitalization`     each string upper-cased, or lower-cased when it is already upper
                           case (categorical and text features holding strings)
=========================  ===============================================================

Spans that are zero (a constant reference column) fall back to ``max(|value|, 1)``, so a
constant column still gets values outside its range. Integer features get whole numbers.

**Candidate grids** for the attacks: :func:`numeric_grid` (reference quantiles),
:func:`category_candidates` (observed reference categories, most frequent first) and
:func:`bounded_grid` (a neighbourhood of each original value, a fraction of the reference
``q99 - q1`` wide).

:func:`changed_rows` tells which rows a substitution actually changed (a null stays null, an
upper-case digit string has no other case): tests measure only those rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pytest_rime.engine.data import BOOL, CATEGORICAL, DATETIME, INTEGER, NUMERIC, TEXT
from pytest_rime.engine.profile import FeatureProfile, numeric_values

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

Substitution = Callable[[pd.Series, FeatureProfile, np.random.Generator], "pd.Series | None"]
"""``(column, reference profile, rng) -> new column`` or ``None`` when not applicable."""

OUT_OF_RANGE_MARGIN = 0.1
"""Distance beyond the reference min/max of :func:`out_of_range`, as a share of the range."""

OUTLIER_SPREADS = 10.0
"""Distance from the median of :func:`numeric_outliers`, in units of ``q99 - q1``."""

UNSEEN_CATEGORY = "RIME_UNSEEN_CATEGORY"
"""Text of the value :func:`unseen_category` substitutes (suffixed if the data has it)."""


def _numeric_range(profile: FeatureProfile) -> tuple[float, float] | None:
    """Reference ``(min, max)`` of a numeric or integer feature with finite values, else None."""
    summary = profile.numeric
    if profile.info.type not in (NUMERIC, INTEGER) or summary is None or summary.ref_count == 0:
        return None
    return summary.ref_min, summary.ref_max


def _span(width: float, center: float) -> float:
    """``width`` when positive, else ``max(|center|, 1)`` (a constant column)."""
    return width if width > 0 else max(abs(center), 1.0)


def _has_strings(profile: FeatureProfile) -> bool:
    return profile.info.type in (CATEGORICAL, TEXT) and profile.info.value_kind == "str"


def _numbers_like(column: pd.Series, values: FloatArray, integer: bool) -> pd.Series:
    """``values`` as a column of ``column``'s index: int64 for integer features, else float."""
    if integer:
        return pd.Series(values.astype(np.int64), index=column.index)
    return pd.Series(values, index=column.index, dtype=float)


def _strings_like(column: pd.Series, values: list[Any]) -> pd.Series:
    """``values`` as a column of ``column``'s index, keeping a pandas string dtype if it has one."""
    dtype = column.dtype if isinstance(column.dtype, pd.StringDtype) else object
    return pd.Series(values, index=column.index, dtype=dtype)


def _two_sided(
    column: pd.Series, low: float, high: float, integer: bool, rng: np.random.Generator
) -> pd.Series:
    """``low`` or ``high`` per row, the side drawn with ``rng``."""
    if integer:
        low, high = float(np.floor(low)), float(np.ceil(high))
    values = np.where(rng.random(len(column)) < 0.5, low, high)
    return _numbers_like(column, values, integer)


def nulls(column: pd.Series, profile: FeatureProfile, rng: np.random.Generator) -> pd.Series:
    """Missing values, as a data file would give them.

    Numbers become a float column of NaN (how pandas reads an int column with gaps); object and
    bool columns an object column of NaN; string, categorical and datetime dtypes keep their
    dtype with its own missing marker.
    """
    dtype = column.dtype
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return pd.Series(np.nan, index=column.index, dtype=object)
    if pd.api.types.is_numeric_dtype(dtype):
        return pd.Series(np.nan, index=column.index, dtype=float)
    return pd.Series([None] * len(column), index=column.index, dtype=dtype)


def out_of_range(
    column: pd.Series, profile: FeatureProfile, rng: np.random.Generator
) -> pd.Series | None:
    """Values just outside the reference range (``OUT_OF_RANGE_MARGIN`` of the range beyond)."""
    bounds = _numeric_range(profile)
    if bounds is None:
        return None
    low, high = bounds
    margin = OUT_OF_RANGE_MARGIN * _span(high - low, high)
    integer = profile.info.type == INTEGER
    if integer:
        margin = max(margin, 1.0)
    return _two_sided(column, low - margin, high + margin, integer, rng)


def _robust_span(profile: FeatureProfile, bounds: tuple[float, float]) -> float:
    """``q99 - q1`` of the reference; the full range, then ``max(|median|, 1)`` when zero."""
    quantiles = profile.numeric.quantiles if profile.numeric is not None else {}
    median = quantiles.get(0.5, bounds[0])
    spread = quantiles.get(0.99, 0.0) - quantiles.get(0.01, 0.0)
    if spread > 0:
        return spread
    return _span(bounds[1] - bounds[0], median)


def numeric_outliers(
    column: pd.Series, profile: FeatureProfile, rng: np.random.Generator
) -> pd.Series | None:
    """Extreme values: the reference median +/- ``OUTLIER_SPREADS`` x ``(q99 - q1)``."""
    bounds = _numeric_range(profile)
    if bounds is None or profile.numeric is None:
        return None
    median = profile.numeric.quantiles[0.5]
    distance = OUTLIER_SPREADS * _robust_span(profile, bounds)
    return _two_sided(
        column, median - distance, median + distance, profile.info.type == INTEGER, rng
    )


def unseen_category(
    column: pd.Series, profile: FeatureProfile, rng: np.random.Generator
) -> pd.Series | None:
    """One value that is not among the reference categories.

    Strings get :data:`UNSEEN_CATEGORY` (suffixed until unseen); numeric category codes (a
    number column listed in ``categorical_features``) get ``max + 1``.
    """
    if profile.info.type != CATEGORICAL or profile.ref_counts is None:
        return None
    seen = set(profile.ref_counts.index)
    if profile.info.value_kind in ("int", "float"):
        top = max((float(v) for v in seen), default=0.0)
        return _numbers_like(
            column, np.full(len(column), top + 1), profile.info.value_kind == "int"
        )
    value = UNSEEN_CATEGORY
    while value in seen:
        value += "_"
    return _strings_like(column, [value] * len(column))


def empty_strings(
    column: pd.Series, profile: FeatureProfile, rng: np.random.Generator
) -> pd.Series | None:
    """Empty strings in a categorical or text feature holding strings."""
    if not _has_strings(profile):
        return None
    return _strings_like(column, [""] * len(column))


def type_change(
    column: pd.Series, profile: FeatureProfile, rng: np.random.Generator
) -> pd.Series | None:
    """The same values in another type: numbers and bools as text, strings as integer codes."""
    info = profile.info
    present = column.notna().to_numpy()
    if info.type in (NUMERIC, INTEGER, BOOL) or info.value_kind in ("int", "float", "bool"):
        texts = [str(v) if keep else np.nan for v, keep in zip(column, present, strict=True)]
        return pd.Series(texts, index=column.index, dtype=object)
    if info.type == DATETIME or not _has_strings(profile):
        return None
    order = (
        {} if profile.ref_counts is None else {v: i for i, v in enumerate(profile.ref_counts.index)}
    )
    codes = np.array([order.get(v, -1) for v in column], dtype=float)
    if present.all():
        return pd.Series(codes.astype(np.int64), index=column.index)
    codes[~present] = np.nan
    return pd.Series(codes, index=column.index, dtype=float)


def _other_case(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    upper = value.upper()
    return upper if upper != value else value.lower()


def capitalization(
    column: pd.Series, profile: FeatureProfile, rng: np.random.Generator
) -> pd.Series | None:
    """Each string upper-cased, or lower-cased when it already is upper case."""
    if not _has_strings(profile):
        return None
    return _strings_like(column, [_other_case(v) for v in column])


def _same(before: Any, after: Any) -> bool:
    before_missing, after_missing = bool(pd.isna(before)), bool(pd.isna(after))
    if before_missing or after_missing:
        return before_missing and after_missing
    if isinstance(before, str) != isinstance(after, str):
        return False  # a type change: 3 and "3" differ
    return bool(before == after)


def changed_rows(original: pd.Series, perturbed: pd.Series) -> BoolArray:
    """Rows whose value differs; two missing values are equal, ``3`` and ``"3"`` are not."""
    pairs = zip(original.to_numpy(dtype=object), perturbed.to_numpy(dtype=object), strict=True)
    return np.fromiter((not _same(a, b) for a, b in pairs), dtype=bool, count=len(original))


def numeric_grid(reference: pd.Series, size: int, integer: bool) -> FloatArray:
    """Distinct reference quantiles at ``size`` evenly spaced levels from 0 to 1.

    Integer features are rounded to whole numbers. No finite value -> an empty grid.
    """
    values = numeric_values(reference)
    values = values[np.isfinite(values)]
    if values.size == 0 or size < 1:
        return np.empty(0)
    grid = np.quantile(values, np.linspace(0.0, 1.0, max(size, 2)))
    return np.unique(np.round(grid) if integer else grid)


def category_candidates(profile: FeatureProfile, limit: int) -> list[Any]:
    """Up to ``limit`` reference categories, most frequent first."""
    if profile.ref_counts is None:
        return []
    return list(profile.ref_counts.index[:limit])


def bounded_grid(
    original: FloatArray, profile: FeatureProfile, fraction: float, steps: int
) -> FloatArray:
    """Per row, ``steps`` values within a small distance ``b`` of the original value.

    ``b = fraction x (q99 - q1)`` of the reference (the range without its 1% tails, so one
    extreme value does not widen it; at least 1 for integer features). Row ``i`` of the
    ``(len(original), steps)`` result holds ``original[i] + d`` for ``steps`` offsets ``d``
    evenly spaced in ``[-b, +b]`` (zero excluded when ``steps`` is even), clipped to the
    reference range widened to include the original. Integer features are rounded. A missing
    original gives a row of NaN.
    """
    bounds = _numeric_range(profile)
    if bounds is None or steps < 1:
        return np.empty((len(original), 0))
    integer = profile.info.type == INTEGER
    bound = fraction * _robust_span(profile, bounds)
    if integer:
        bound = max(bound, 1.0)
    offsets = np.linspace(-bound, bound, steps)
    grid = original[:, None] + offsets[None, :]
    low = np.minimum(original, bounds[0])[:, None]
    high = np.maximum(original, bounds[1])[:, None]
    grid = np.clip(grid, low, high)
    return np.round(grid) if integer else grid
