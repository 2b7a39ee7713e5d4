"""Drift statistics: one small function each, registered by name.

:func:`register_statistic` registers them; the drift tests pick theirs from here by the
``numeric_statistic`` and ``categorical_statistic`` parameters.

A statistic compares one column's reference and evaluation data, handed over as a
:class:`Comparison`: the aligned counts (per value for discrete columns, per reference-decile
bin for continuous ones) and, on demand, the sorted finite values. Larger is worse. A statistic
also names

- how its p-value is found (``evidence``; default: Pearson's chi-squared test of homogeneity of
  the counts it compares, :func:`~pytest_rime.engine.stats.homogeneity_p_value`), and
- optionally its row-wise twin (``rows``), which the firewall uses to measure the statistic on
  many reference chunks at once for its null spread: ``rows(ref_counts, eval_counts)`` over
  count matrices for statistics that compare counts, ``rows(pool_sorted, positions, rest=...)``
  for those that compare samples. Without it a firewall bin's case keeps its own p-value.

Adding a statistic is one function and one :func:`register_statistic` call below
(docs/internals.md, "Adding a statistic").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from pytest_rime.engine.profile import FeatureProfile, numeric_values
from pytest_rime.engine.stats import (
    PSI_EPSILON,
    FloatArray,
    IntArray,
    aligned_counts,
    chi_squared,
    homogeneity_p_value,
    js_distance,
    ks_p_value,
    ks_statistic,
    pearson_tables,
    psi,
)

Kind = Literal["numeric", "categorical"]
"""What a statistic may compare: continuous numeric columns, or discrete ones (categories,
booleans, numbers with few values)."""

Compares = Literal["counts", "samples"]
"""What a statistic reads of a :class:`Comparison`: its counts, or its sorted values."""

COUNTS: Compares = "counts"
SAMPLES: Compares = "samples"


@dataclass(frozen=True)
class Evidence:
    """P-value of a distribution shift and the test that gave it."""

    p_value: float
    method: str


class Comparison:
    """One column's reference and evaluation data as a statistic compares them.

    Args:
        profile: The column's profile (counts and reference bins).
        ref: The reference column (read only when a statistic asks for the values).
        cur: The evaluation column (``None``: absent).
    """

    def __init__(self, profile: FeatureProfile, ref: pd.Series, cur: pd.Series | None) -> None:
        self.profile = profile
        self._ref = ref
        self._cur = cur

    @functools.cached_property
    def counts(self) -> tuple[IntArray, IntArray] | None:
        """Aligned ref and eval counts: per value (discrete), else per reference-decile bin.

        ``None`` for a column with neither (text).
        """
        profile = self.profile
        if profile.ref_counts is not None and profile.eval_counts is not None:
            _, ref_counts, eval_counts = aligned_counts(profile.ref_counts, profile.eval_counts)
            return ref_counts, eval_counts
        if profile.numeric is not None:
            return profile.numeric.ref_bins, profile.numeric.eval_bins
        return None

    @functools.cached_property
    def sorted_values(self) -> tuple[FloatArray, FloatArray]:
        """The finite numeric values of ref and of eval, each sorted."""
        cur = numeric_values(self._cur) if self._cur is not None else np.empty(0)
        return _sorted_finite(numeric_values(self._ref)), _sorted_finite(cur)


def _sorted_finite(values: FloatArray) -> FloatArray:
    return np.sort(values[np.isfinite(values)])


def _counts_evidence(
    comparison: Comparison, _value: float, rng: np.random.Generator
) -> Evidence | None:
    counts = comparison.counts
    tested = None if counts is None else homogeneity_p_value(*counts, rng)
    return None if tested is None else Evidence(*tested)


@dataclass(frozen=True)
class DriftStatistic:
    """A registered drift statistic (see the module docstring)."""

    name: str
    label: str
    kinds: tuple[Kind, ...]
    compares: Compares
    compute: Callable[[Comparison], float]
    evidence: Callable[[Comparison, float, np.random.Generator], Evidence | None]
    rows: Callable[..., FloatArray] | None


_STATISTICS: dict[str, DriftStatistic] = {}


def register_statistic(
    name: str,
    kinds: tuple[Kind, ...],
    fn: Callable[[Comparison], float],
    *,
    label: str,
    compares: Compares = COUNTS,
    evidence: Callable[[Comparison, float, np.random.Generator], Evidence | None] | None = None,
    rows: Callable[..., FloatArray] | None = None,
) -> DriftStatistic:
    """Register the drift statistic ``fn`` under ``name`` for columns of ``kinds``.

    Args:
        name: The value of ``numeric_statistic`` / ``categorical_statistic`` choosing it.
        kinds: ``"numeric"`` and/or ``"categorical"``.
        fn: The statistic of a :class:`Comparison` (NaN when a side has no values).
        label: Its name in case descriptions, e.g. ``"PSI"``.
        compares: ``"counts"`` (reads ``comparison.counts``) or ``"samples"``
            (``comparison.sorted_values``).
        evidence: ``(comparison, value, rng) -> Evidence | None``; default: the chi-squared
            homogeneity test of the counts.
        rows: The row-wise twin for the firewall (see the module docstring), if any.

    Raises:
        ValueError: ``name`` is taken.
    """
    if name in _STATISTICS:
        raise ValueError(f"drift statistic {name!r} is already registered")
    _STATISTICS[name] = DriftStatistic(
        name, label, kinds, compares, fn, evidence or _counts_evidence, rows
    )
    return _STATISTICS[name]


def get_statistic(name: str) -> DriftStatistic:
    """The registered statistic ``name``.

    Raises:
        KeyError: No statistic has that name.
    """
    try:
        return _STATISTICS[name]
    except KeyError:
        raise KeyError(f"unknown drift statistic {name!r}") from None


def statistic_names(kind: Kind) -> tuple[str, ...]:
    """Names of the statistics for columns of ``kind``, in registration order."""
    return tuple(name for name, statistic in _STATISTICS.items() if kind in statistic.kinds)


def pick_statistic(
    profile: FeatureProfile, numeric: str, categorical: str
) -> DriftStatistic | None:
    """The statistic of ``profile``'s column, by its kind.

    ``categorical`` for discrete columns (unless a numeric column's ``numeric`` statistic
    compares samples), ``numeric`` for continuous ones; ``None`` for a column with no numbers
    and no counts.
    """
    chosen = get_statistic(numeric)
    discrete = profile.ref_counts is not None and profile.eval_counts is not None
    if discrete and (profile.numeric is None or chosen.compares == COUNTS):
        return get_statistic(categorical)
    return chosen if profile.numeric is not None else None


# ------------------------------------------------------------------------ row-wise twins
def _row_proportions(counts: npt.ArrayLike) -> FloatArray:
    values = np.asarray(counts, dtype=float)
    totals = values.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        proportions: FloatArray = np.where(totals > 0, values / totals, np.nan)
    return proportions


def psi_rows(ref_counts: npt.ArrayLike, eval_counts: npt.ArrayLike) -> FloatArray:
    """:func:`pytest_rime.engine.stats.psi` of each row pair of two count matrices."""
    ref = np.maximum(_row_proportions(ref_counts), PSI_EPSILON)
    cur = np.maximum(_row_proportions(eval_counts), PSI_EPSILON)
    result: FloatArray = np.sum((cur - ref) * np.log(cur / ref), axis=1)
    return result


def js_distance_rows(ref_counts: npt.ArrayLike, eval_counts: npt.ArrayLike) -> FloatArray:
    """:func:`pytest_rime.engine.stats.js_distance` of each row pair of two count matrices."""
    ref, cur = _row_proportions(ref_counts), _row_proportions(eval_counts)
    mid = (ref + cur) / 2

    def kl(p: FloatArray) -> FloatArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            terms = np.where(p > 0, p * np.log2(p / mid), 0.0)
        return np.asarray(terms.sum(axis=1), dtype=float)

    divergence = np.maximum((kl(ref) + kl(cur)) / 2, 0.0)
    undefined = np.isnan(ref).any(axis=1) | np.isnan(cur).any(axis=1)
    return np.where(undefined, np.nan, np.sqrt(divergence))


def cramers_v_rows(ref_counts: npt.ArrayLike, eval_counts: npt.ArrayLike) -> FloatArray:
    """Cramér's V of :func:`pytest_rime.engine.stats.chi_squared` for each row pair."""
    ref = np.asarray(ref_counts, dtype=float)
    cur = np.asarray(eval_counts, dtype=float)
    columns = ref + cur
    ref_total, cur_total = ref.sum(axis=1), cur.sum(axis=1)
    statistic = pearson_tables(np.stack([ref, cur], axis=-2))[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.sqrt(statistic / (ref_total + cur_total))
    single = np.count_nonzero(columns, axis=1) <= 1
    empty = (ref_total == 0) | (cur_total == 0)
    return np.where(empty, np.nan, np.where(single, 0.0, v))


def ks_rows(pool_sorted: FloatArray, chunks: IntArray, *, rest: bool) -> FloatArray:
    """Two-sample KS statistic of each chunk against the pool (``rest``: the pool minus it).

    Args:
        pool_sorted: The pool's values, sorted.
        chunks: ``(draws, size)`` positions in ``pool_sorted``; negative positions (rows without
            a value) are left out of their chunk.
        rest: Compare each chunk with the rest of the pool (chunks without repeats) instead of
            the whole pool.
    """
    draws = chunks.shape[0]
    pool = pool_sorted.size
    if pool == 0:
        return np.full(draws, np.nan)
    valid = chunks >= 0
    member = np.zeros((draws, pool), dtype=np.int64)
    np.add.at(member, (np.nonzero(valid)[0], chunks[valid]), 1)
    sizes = valid.sum(axis=1).astype(float)[:, None]
    others = pool - sizes if rest else np.full_like(sizes, pool)
    last_of_ties = np.append(pool_sorted[1:] != pool_sorted[:-1], True)
    in_chunk = np.cumsum(member, axis=1)[:, last_of_ties]
    in_pool = (np.flatnonzero(last_of_ties) + 1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        chunk_cdf = in_chunk / sizes
        other_cdf = (in_pool - in_chunk) / others if rest else in_pool / others
        distance = np.max(np.abs(chunk_cdf - other_cdf), axis=1)
    undefined = (sizes[:, 0] == 0) | (others[:, 0] <= 0)
    return np.where(undefined, np.nan, distance)


# ---------------------------------------------------------------------------- statistics
def _counts_psi(comparison: Comparison) -> float:
    counts = comparison.counts
    return float("nan") if counts is None else psi(*counts)


def _cramers_v(comparison: Comparison) -> float:
    counts = comparison.counts
    return float("nan") if counts is None else chi_squared(*counts)[1]


def _js_distance(comparison: Comparison) -> float:
    counts = comparison.counts
    return float("nan") if counts is None else js_distance(*counts)


def _ks(comparison: Comparison) -> float:
    return ks_statistic(*comparison.sorted_values)


def _ks_evidence(
    comparison: Comparison, value: float, _rng: np.random.Generator
) -> Evidence | None:
    ref, cur = comparison.sorted_values
    if not ref.size or not cur.size:
        return None
    return Evidence(ks_p_value(value, ref.size, cur.size), "Kolmogorov-Smirnov")


register_statistic("psi", ("numeric", "categorical"), _counts_psi, label="PSI", rows=psi_rows)
register_statistic(
    "ks",
    ("numeric",),
    _ks,
    label="KS statistic",
    compares=SAMPLES,
    evidence=_ks_evidence,
    rows=ks_rows,
)
register_statistic(
    "chi2", ("categorical",), _cramers_v, label="Cramér's V (chi-squared)", rows=cramers_v_rows
)
register_statistic(
    "js", ("categorical",), _js_distance, label="Jensen-Shannon distance", rows=js_distance_rows
)


@dataclass(frozen=True)
class Shift:
    """A column's measured shift: the statistic picked, its value and its evidence."""

    statistic: DriftStatistic
    value: float
    evidence: Evidence | None


def measure_shift(
    comparison: Comparison, numeric: str, categorical: str, rng: np.random.Generator
) -> Shift | None:
    """The shift of ``comparison``'s column, with its evidence.

    Measured by the statistic :func:`pick_statistic` chooses; ``None`` when there is no
    statistic for the column or a side has no values.
    """
    statistic = pick_statistic(comparison.profile, numeric, categorical)
    if statistic is None:
        return None
    value = statistic.compute(comparison)
    if value != value:  # NaN: one side has no values
        return None
    return Shift(statistic, value, statistic.evidence(comparison, value, rng))
