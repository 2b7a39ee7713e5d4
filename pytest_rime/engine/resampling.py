"""Resampling p-values: random subsets as index matrices, tail p-values, group independence.

Three building blocks the subset and fairness tests share (numpy and scipy, no per-row Python):

- :func:`random_subset_sums`: sums of per-row values over random subsets of given sizes, drawn
  as the first rows of random permutations (optionally within strata, e.g. with a fixed number
  of rows of each label). One set of permutations serves every requested size at once through
  prefix sums, so the cost is ``draws x rows x values`` whatever the number of subsets.
- :func:`tail_p_value`: the one-sided p-value of an observation against null draws,
  ``(1 + #draws >= observed) / (1 + draws)``. When fewer than :data:`MIN_EXCEEDANCES` draws
  reach the observation, the tail beyond the top :data:`TAIL_SHARE` of the draws is
  extrapolated with a generalized Pareto distribution fitted by probability-weighted moments
  (Knijnenburg et al. 2009, "Fewer permutations, more accurate P-values"), its shape clamped
  at 0 (an exponential tail: conservative for the light tails of averages, fitted for heavy
  ones). Without it, a few hundred draws could never give less than ``1 / (draws + 1)``, which
  no finding survives after the Benjamini--Hochberg adjustment over a run's hundreds of cases.
- :func:`independence_test`: Pearson's chi-squared test that group and outcome are independent,
  summed over strata (given the label: conditional independence); a permutation test of the
  groups within strata when an expected count is below :data:`MIN_EXPECTED`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as scipy_stats

from pytest_rime.engine.stats import MIN_EXPECTED, pearson_tables

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NULL_DRAWS = 300
"""Random subsets drawn per null distribution."""

MIN_EXCEEDANCES = 10
"""Below this many null draws at or beyond the observation, the tail is extrapolated."""

TAIL_SHARE = 0.1
"""Share of the largest null draws the generalized Pareto tail is fitted to."""

MAX_TAIL_SHAPE = 0.9
"""Upper clamp of the fitted tail shape (1 would be a tail without a mean)."""

CHUNK_ELEMENTS = 1 << 22
"""Elements of the gathered (draws, rows, values) block processed at once (32 MB of floats)."""

PERMUTATION_DRAWS = 500
"""Draws of the permutation test of :func:`independence_test`."""

MAX_PERMUTATION_ROWS = 10_000
"""Above this many rows :func:`independence_test` keeps the chi-squared approximation."""


def tail_p_value(null: npt.ArrayLike, observed: float) -> float:
    """One-sided p-value ``P(null >= observed)`` read off null draws (module docstring).

    Args:
        null: Draws of the statistic under the null hypothesis (NaNs are ignored).
        observed: The observed statistic (larger = more extreme).

    Returns:
        ``(1 + exceedances) / (1 + draws)``, or the generalized Pareto tail estimate when fewer
        than :data:`MIN_EXCEEDANCES` draws reach ``observed``; 1.0 without finite draws or
        with a NaN observation.
    """
    values = np.asarray(null, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0 or np.isnan(observed):
        return 1.0
    scale = max(1.0, float(np.max(np.abs(values))))
    exceed = int(np.count_nonzero(values >= observed - 1e-12 * scale))
    empirical = (1 + exceed) / (1 + values.size)
    if exceed >= MIN_EXCEEDANCES:
        return float(empirical)
    tail = _pareto_tail(values, observed)
    return float(empirical if tail is None else min(empirical, tail))


def _pareto_tail(values: FloatArray, observed: float) -> float | None:
    """P(X >= observed) from a generalized Pareto fit to the largest draws, or ``None``."""
    ordered = np.sort(values)
    k = max(MIN_EXCEEDANCES, int(TAIL_SHARE * ordered.size))
    if ordered.size < 2 * k:
        return None
    threshold = ordered[-k - 1]
    excess = ordered[-k:] - threshold  # ascending, >= 0
    if observed <= threshold or not np.any(excess > 0):
        return None
    # Probability-weighted moments (Hosking and Wallis 1987): a_s = E[X (1 - F(X))^s].
    plotting = (np.arange(1, k + 1) - 0.35) / k
    a0 = float(np.mean(excess))
    a1 = float(np.mean((1 - plotting) * excess))
    if a0 - 2 * a1 <= 0:
        return None
    shape = float(np.clip(2 - a0 / (a0 - 2 * a1), 0.0, MAX_TAIL_SHAPE))
    sigma = 2 * a0 * a1 / (a0 - 2 * a1)
    if sigma <= 0:
        return None
    z = (observed - threshold) / sigma
    survival = np.exp(-z) if shape < 1e-9 else (1 + shape * z) ** (-1 / shape)
    return max(float(k / ordered.size * survival), float(np.finfo(float).tiny))


def random_subset_sums(
    values: npt.ArrayLike,
    counts: npt.ArrayLike,
    rng: np.random.Generator,
    *,
    strata: npt.ArrayLike | None = None,
    draws: int = NULL_DRAWS,
) -> FloatArray:
    """Sums of ``values`` over random subsets holding ``counts`` rows of each stratum.

    Args:
        values: (rows, k) per-row values (a 1-d array is one column).
        counts: (subsets, strata) rows of each stratum in each requested subset (a 1-d array
            is one count per subset, without strata).
        rng: The random generator.
        strata: Stratum code (0 .. strata - 1) of every row; ``None``: a single stratum.
        draws: Random subsets per requested subset.

    Returns:
        (draws, subsets, k) sums. Subset ``s`` of draw ``d`` is, in every stratum ``j``, the
        first ``counts[s, j]`` rows of the draw's random permutation of that stratum's rows, so
        each is a uniformly random subset of its size and one permutation serves every size.

    Raises:
        ValueError: A count exceeds the rows of its stratum.
    """
    matrix = np.asarray(values, dtype=float)
    matrix = matrix[:, None] if matrix.ndim == 1 else matrix
    wanted = np.asarray(counts, dtype=np.int64)
    wanted = wanted[:, None] if wanted.ndim == 1 else wanted
    codes = (
        np.zeros(matrix.shape[0], dtype=np.int64)
        if strata is None
        else np.asarray(strata, dtype=np.int64)
    )
    sums = np.zeros((draws, wanted.shape[0], matrix.shape[1]))
    for stratum in range(wanted.shape[1]):
        rows = np.flatnonzero(codes == stratum)
        needed = int(wanted[:, stratum].max(initial=0))
        if needed > rows.size:
            raise ValueError(
                f"a subset needs {needed} rows of stratum {stratum}, it has {rows.size}"
            )
        if needed == 0:
            continue
        width = max(rows.size, needed * matrix.shape[1])
        chunk = max(1, min(draws, CHUNK_ELEMENTS // width))
        for start in range(0, draws, chunk):
            stop = min(draws, start + chunk)
            order = rng.permuted(np.tile(rows, (stop - start, 1)), axis=1)[:, :needed]
            if bool(np.all(wanted[:, stratum] == needed)):  # one size: a plain sum suffices
                sums[start:stop] += matrix[order].sum(axis=1)[:, None, :]
                continue
            prefix = np.zeros((stop - start, needed + 1, matrix.shape[1]))
            np.cumsum(matrix[order], axis=1, out=prefix[:, 1:])
            sums[start:stop] += prefix[:, wanted[:, stratum], :]
    return sums


@dataclass(frozen=True)
class IndependenceTest:
    """Result of :func:`independence_test`."""

    statistic: float
    """Pearson's chi-squared, summed over the strata."""
    dof: int
    """Degrees of freedom, summed over the strata (0: nothing to compare)."""
    p_value: float
    """P-value of independence (1.0 when nothing can be compared)."""
    method: str
    """``"chi-squared"`` or ``"permutation"``."""


def _codes(values: npt.ArrayLike) -> IntArray:
    _, inverse = np.unique(np.asarray(values), return_inverse=True)
    return np.asarray(inverse, dtype=np.int64).ravel()


def independence_test(
    groups: npt.ArrayLike,
    outcome: npt.ArrayLike,
    rng: np.random.Generator,
    *,
    strata: npt.ArrayLike | None = None,
    draws: int = PERMUTATION_DRAWS,
) -> IndependenceTest:
    """Test that ``outcome`` does not depend on ``groups`` (given ``strata``).

    Pearson's chi-squared of the group x outcome table of every stratum, summed, with the
    summed degrees of freedom (``(groups - 1) (outcomes - 1)`` of each stratum's non-empty
    rows and columns). When an expected count of a compared table is below
    :data:`MIN_EXPECTED` (and the data has at most :data:`MAX_PERMUTATION_ROWS` rows), the
    p-value is a permutation test instead: the groups are shuffled within each stratum
    (``draws`` times, as index matrices) and the summed statistic recomputed.

    Args:
        groups: Group of every row (any hashable values).
        outcome: Outcome of every row (e.g. predicted positive).
        rng: The random generator of the permutation test.
        strata: Stratum of every row (e.g. the true label); ``None``: one stratum.
        draws: Permutations of the permutation test.
    """
    g, y = _codes(groups), _codes(outcome)
    s = np.zeros(g.size, dtype=np.int64) if strata is None else _codes(strata)
    n_g, n_y, n_s = (
        int(g.max(initial=-1)) + 1,
        int(y.max(initial=-1)) + 1,
        int(s.max(initial=-1)) + 1,
    )
    cells = n_g * n_y
    flat = np.bincount(s * cells + g * n_y + y, minlength=n_s * cells).astype(float)
    tables = flat.reshape(n_s, n_g, n_y)
    statistic, expected = pearson_tables(tables)
    dofs = [
        max(0, int(np.count_nonzero(t.sum(axis=1)) - 1) * int(np.count_nonzero(t.sum(axis=0)) - 1))
        for t in tables
    ]
    dof = sum(dofs)
    observed = float(statistic.sum())
    if dof == 0:
        return IndependenceTest(observed, 0, 1.0, "chi-squared")
    compared = expected[np.asarray(dofs) > 0]
    if compared[compared > 0].min() >= MIN_EXPECTED or g.size > MAX_PERMUTATION_ROWS:
        return IndependenceTest(
            observed, dof, float(scipy_stats.chi2.sf(observed, dof)), "chi-squared"
        )
    null = np.zeros(draws)
    for stratum in range(n_s):
        members = np.flatnonzero(s == stratum)
        if members.size == 0:
            continue
        shuffled = rng.permuted(np.tile(g[members], (draws, 1)), axis=1)
        keys = np.arange(draws)[:, None] * cells + shuffled * n_y + y[members][None, :]
        permuted = np.bincount(keys.ravel(), minlength=draws * cells).astype(float)
        null += pearson_tables(permuted.reshape(draws, n_g, n_y))[0]
    return IndependenceTest(observed, dof, tail_p_value(null, observed), "permutation")
