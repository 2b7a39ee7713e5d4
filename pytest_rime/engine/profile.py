"""Per-feature profiles of ref vs eval, computed once per run and shared by every test.

A profile keeps only summaries (quantiles, bin counts, value counts), not copies
of the data, so memory stays near the size of the frames themselves. Numeric values are read
with ``pd.to_numeric(errors="coerce")``: a value that is not a number counts as missing here
(the "Must be ..." tests report it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pytest_rime.engine.data import FeatureInfo
from pytest_rime.engine.stats import (
    FloatArray,
    IntArray,
    bin_counts,
    quantile_edges,
    sorted_quantiles,
)

PSI_BINS = 10
"""Number of reference-quantile bins of numeric features in PSI."""

DISCRETE_MAX_VALUES = 20
"""A numeric feature with at most this many distinct reference values is compared by value."""

QUANTILES = (0.0, 0.001, 0.01, 0.25, 0.5, 0.75, 0.99, 0.999, 1.0)
"""Reference quantiles kept in a numeric profile."""


@dataclass(frozen=True)
class NumericSummary:
    """Numeric view of one feature: reference quantiles and PSI bins."""

    quantiles: dict[float, float]
    edges: FloatArray
    ref_bins: IntArray
    eval_bins: IntArray
    ref_count: int
    ref_distinct: int

    @property
    def ref_min(self) -> float:
        """Smallest reference value."""
        return self.quantiles[0.0]

    @property
    def ref_max(self) -> float:
        """Largest reference value."""
        return self.quantiles[1.0]


@dataclass(frozen=True)
class FeatureProfile:
    """Summary of one feature in ref and eval.

    Attributes:
        info: Name and type of the feature.
        ref_rows, eval_rows: Row counts of the frames.
        ref_nulls, eval_nulls: Missing values (eval counts 0 when the column is absent).
        in_eval: Whether eval has the column at all.
        numeric: Numeric summary (numeric, integer and bool features), else ``None``.
        ref_counts, eval_counts: Value counts (categorical, bool and discrete numeric
            features), else ``None``.
    """

    info: FeatureInfo
    ref_rows: int
    eval_rows: int
    ref_nulls: int
    eval_nulls: int
    in_eval: bool
    numeric: NumericSummary | None
    ref_counts: pd.Series | None
    eval_counts: pd.Series | None

    @property
    def ref_null_fraction(self) -> float:
        """Share of missing values in ref (0 for an empty frame)."""
        return self.ref_nulls / self.ref_rows if self.ref_rows else 0.0

    @property
    def eval_null_fraction(self) -> float:
        """Share of missing values in eval (0 for an empty frame)."""
        return self.eval_nulls / self.eval_rows if self.eval_rows else 0.0


def numeric_values(column: pd.Series) -> FloatArray:
    """The column as floats; values that are not numbers become NaN."""
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=float)
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(column.astype(object), errors="coerce").to_numpy(dtype=float)


def _sorted_finite(values: FloatArray) -> FloatArray:
    return np.sort(values[np.isfinite(values)])


def _numeric_summary(ref: pd.Series, cur: pd.Series | None) -> NumericSummary:
    ref_sorted = _sorted_finite(numeric_values(ref))
    eval_sorted = _sorted_finite(numeric_values(cur)) if cur is not None else np.empty(0)
    edges = quantile_edges(ref_sorted, PSI_BINS)
    if ref_sorted.size:
        qs = sorted_quantiles(ref_sorted, QUANTILES)
        quantiles = {q: float(v) for q, v in zip(QUANTILES, qs, strict=True)}
    else:
        quantiles = dict.fromkeys(QUANTILES, float("nan"))
    return NumericSummary(
        quantiles=quantiles,
        edges=edges,
        ref_bins=bin_counts(ref_sorted, edges),
        eval_bins=bin_counts(eval_sorted, edges),
        ref_count=int(ref_sorted.size),
        ref_distinct=int(np.count_nonzero(np.diff(ref_sorted))) + 1 if ref_sorted.size else 0,
    )


def _value_counts(column: pd.Series) -> pd.Series:
    return column.value_counts(dropna=True, sort=True)


def compute_profile(info: FeatureInfo, ref: pd.DataFrame, cur: pd.DataFrame) -> FeatureProfile:
    """Profile of feature ``info`` in ``ref`` and ``cur`` (the eval frame)."""
    ref_col = ref[info.name]
    in_eval = info.name in cur.columns
    eval_col = cur[info.name] if in_eval else None
    numeric = _numeric_summary(ref_col, eval_col) if info.is_numeric else None
    ref_counts = eval_counts = None
    if info.is_categorical:  # categorical and bool: counts of the values themselves
        ref_counts = _value_counts(ref_col)
        eval_counts = _value_counts(eval_col if eval_col is not None else pd.Series(dtype=object))
    elif numeric is not None and numeric.ref_distinct <= DISCRETE_MAX_VALUES:
        ref_counts = _value_counts(pd.Series(numeric_values(ref_col)))
        eval_values = numeric_values(eval_col) if eval_col is not None else np.empty(0)
        eval_counts = _value_counts(pd.Series(eval_values))
    return FeatureProfile(
        info=info,
        ref_rows=len(ref),
        eval_rows=len(cur),
        ref_nulls=int(ref_col.isna().sum()),
        eval_nulls=int(eval_col.isna().sum()) if eval_col is not None else 0,
        in_eval=in_eval,
        numeric=numeric,
        ref_counts=ref_counts,
        eval_counts=eval_counts,
    )
