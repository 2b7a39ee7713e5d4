"""Vectorised distribution statistics shared by the tests (numpy only, no per-row Python).

Counts-based statistics (PSI, Jensen-Shannon, Cramér's V) take two aligned count vectors; the
KS statistic takes two sorted samples. Inputs are never modified.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PSI_EPSILON = 1e-4
"""Floor of a bin's proportion in PSI, so empty bins give a large but finite term."""


def _proportions(counts: npt.ArrayLike) -> FloatArray:
    values = np.asarray(counts, dtype=float)
    total = values.sum()
    return values / total if total > 0 else np.zeros_like(values)


def psi(ref_counts: npt.ArrayLike, eval_counts: npt.ArrayLike) -> float:
    """Population stability index ``sum((e - r) * ln(e / r))`` over aligned bins.

    Proportions are floored at :data:`PSI_EPSILON`. Empty inputs give NaN.
    """
    ref = _proportions(ref_counts)
    cur = _proportions(eval_counts)
    if ref.sum() == 0 or cur.sum() == 0:
        return float("nan")
    ref = np.maximum(ref, PSI_EPSILON)
    cur = np.maximum(cur, PSI_EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def js_distance(ref_counts: npt.ArrayLike, eval_counts: npt.ArrayLike) -> float:
    """Jensen-Shannon distance (base 2, in 0..1) between two aligned count vectors."""
    ref = _proportions(ref_counts)
    cur = _proportions(eval_counts)
    if ref.sum() == 0 or cur.sum() == 0:
        return float("nan")
    mid = (ref + cur) / 2

    def kl(p: FloatArray) -> float:
        mask = p > 0
        return float(np.sum(p[mask] * np.log2(p[mask] / mid[mask])))

    return float(np.sqrt(max(0.0, (kl(ref) + kl(cur)) / 2)))


def chi_squared(ref_counts: npt.ArrayLike, eval_counts: npt.ArrayLike) -> tuple[float, float]:
    """Pearson chi-squared of the 2 x k table (ref, eval) and Cramér's V (in 0..1).

    Categories empty in both sets are dropped. Returns NaNs when a set is empty.
    """
    table = np.vstack([np.asarray(ref_counts, float), np.asarray(eval_counts, float)])
    table = table[:, table.sum(axis=0) > 0]
    total = table.sum()
    if table.shape[1] == 0 or np.any(table.sum(axis=1) == 0):
        return float("nan"), float("nan")
    if table.shape[1] == 1:
        return 0.0, 0.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(np.sqrt(statistic / total))


def ks_statistic(ref_sorted: FloatArray, eval_sorted: FloatArray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic of two sorted samples (NaN if one is empty)."""
    if ref_sorted.size == 0 or eval_sorted.size == 0:
        return float("nan")
    return max(
        _ks_at_own_points(ref_sorted, eval_sorted), _ks_at_own_points(eval_sorted, ref_sorted)
    )


def _ks_at_own_points(own: FloatArray, other: FloatArray) -> float:
    """The largest |F_own(x) - F_other(x)| over the values x of ``own`` (both sorted).

    At the last of a run of ties, the own empirical CDF is simply (position + 1) / n, so only
    the other sample is searched: n log m instead of the (n + m) log(n + m) of searching the
    pooled sample in both.
    """
    last_of_ties = np.append(own[1:] != own[:-1], True)
    positions = np.flatnonzero(last_of_ties)
    own_cdf = (positions + 1) / own.size
    other_cdf = np.searchsorted(other, own[positions], side="right") / other.size
    return float(np.max(np.abs(own_cdf - other_cdf)))


def sorted_quantiles(values_sorted: FloatArray, qs: npt.ArrayLike) -> FloatArray:
    """Quantiles of an already sorted sample, by linear interpolation (numpy's default method).

    Reads only the needed elements (no copy or partition of the sample).
    """
    positions = np.asarray(qs, dtype=float) * (values_sorted.size - 1)
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, values_sorted.size - 1)
    fraction = positions - low
    lower, upper = values_sorted[low], values_sorted[high]
    result: FloatArray = lower + (upper - lower) * fraction
    return result


def quantile_edges(ref_sorted: FloatArray, bins: int) -> FloatArray:
    """Interior bin edges at the reference quantiles (duplicates removed)."""
    if ref_sorted.size == 0:
        return np.empty(0)
    return np.unique(sorted_quantiles(ref_sorted, np.linspace(0, 1, bins + 1)[1:-1]))


def bin_counts(sorted_values: FloatArray, edges: FloatArray) -> IntArray:
    """Counts of a sorted sample in the bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    cuts = np.searchsorted(sorted_values, edges, side="right")
    bounds = np.concatenate([[0], cuts, [sorted_values.size]])
    return np.diff(bounds).astype(np.int64)


def aligned_counts(ref: pd.Series, cur: pd.Series) -> tuple[list[object], IntArray, IntArray]:
    """Categories (union, ref order first) with the aligned counts of two value-count series."""
    categories = list(ref.index) + [c for c in cur.index if c not in ref.index]
    ref_counts = ref.reindex(categories, fill_value=0).to_numpy(dtype=np.int64)
    eval_counts = cur.reindex(categories, fill_value=0).to_numpy(dtype=np.int64)
    return categories, ref_counts, eval_counts


def entropy(codes: IntArray) -> float:
    """Shannon entropy (nats) of integer codes."""
    if codes.size == 0:
        return 0.0
    p = np.bincount(codes) / codes.size
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def mutual_information(x_codes: IntArray, y_codes: IntArray) -> float:
    """Mutual information (nats) of two aligned non-negative integer code arrays."""
    if x_codes.size == 0:
        return 0.0
    n_y = int(y_codes.max()) + 1
    n_x = int(x_codes.max()) + 1
    counts = np.bincount(x_codes * n_y + y_codes, minlength=n_x * n_y).reshape(n_x, n_y)
    joint = counts / x_codes.size
    px = joint.sum(axis=1, keepdims=True)
    py = joint.sum(axis=0, keepdims=True)
    mask = joint > 0
    return float(np.sum(joint[mask] * np.log(joint[mask] / (px @ py)[mask])))


def discretize(values: pd.Series, bins: int = 10) -> IntArray:
    """Integer codes: quantile bins for numbers, one code per value otherwise; nulls get a code."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=float)
        finite = numbers[~np.isnan(numbers)]
        edges = quantile_edges(np.sort(finite), bins)
        codes = np.searchsorted(edges, numbers, side="left").astype(np.int64)
        codes[np.isnan(numbers)] = edges.size + 1
        return codes
    codes, _ = pd.factorize(values.astype(object), use_na_sentinel=True)
    codes = codes.astype(np.int64)
    codes[codes < 0] = codes.max() + 1 if codes.size else 0
    return codes
