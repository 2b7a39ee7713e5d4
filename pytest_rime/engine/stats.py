"""Vectorised distribution statistics and p-values shared by the tests (no per-row Python).

Counts-based statistics (PSI, Jensen-Shannon, Cramér's V) take two aligned count vectors; the
KS statistic takes two sorted samples. Inputs are never modified.

P-values (numpy and scipy): chi-squared homogeneity of binned counts with sparse bins merged
(a permutation test when no table is large enough), the KS distribution, Fisher's exact test of
two proportions, the Fisher z test of two correlations (jackknife variance), and the normal
tail of a null distribution drawn as random splits of pooled rows (:func:`random_splits`) or,
for a difference of means, given in closed form (:func:`split_mean_difference_sd`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as scipy_stats

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
    statistic = float(pearson_tables(table)[0])
    return statistic, float(np.sqrt(statistic / total))


def pearson_tables(tables: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Pearson chi-squared of (..., r, c) tables and their expected counts.

    Cells with an expected count of 0 (an empty row or column, or an empty table) add nothing.
    """
    total = tables.sum(axis=(-2, -1), keepdims=True)
    expected = tables.sum(axis=-1, keepdims=True) * tables.sum(axis=-2, keepdims=True)
    expected = np.divide(expected, total, out=np.zeros_like(expected), where=total > 0)
    terms = np.divide(
        (tables - expected) ** 2, expected, out=np.zeros_like(expected), where=expected > 0
    )
    return terms.sum(axis=(-2, -1)), expected


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


def unsorted_quantile_edges(values: FloatArray, bins: int) -> FloatArray:
    """:func:`quantile_edges` of an unsorted sample, equal to it on ``np.sort(values)``.

    Only the order statistics the interpolation reads are placed (one ``np.partition``, about
    half the cost of a full sort); the input is not modified.
    """
    if values.size == 0:
        return np.empty(0)
    positions = np.linspace(0, 1, bins + 1)[1:-1] * (values.size - 1)
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, values.size - 1)
    kth = np.unique(np.concatenate([low, high]))
    placed = np.partition(values, kth)
    lower, upper = placed[low], placed[high]
    return np.unique(lower + (upper - lower) * (positions - low))


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
        edges = unsorted_quantile_edges(finite, bins)
        codes = np.searchsorted(edges, numbers, side="left").astype(np.int64)
        codes[np.isnan(numbers)] = edges.size + 1
        return codes
    codes, _ = pd.factorize(values.astype(object), use_na_sentinel=True)
    codes = codes.astype(np.int64)
    codes[codes < 0] = codes.max() + 1 if codes.size else 0
    return codes


# ------------------------------------------------------------------------------ p-values
MIN_EXPECTED = 5.0
"""Smallest expected count of a cell in the chi-squared test (bins are merged to reach it)."""

PERMUTATIONS = 2000
"""Draws of the permutation test used when no table with two columns reaches
:data:`MIN_EXPECTED` (samples of fewer than about ten rows)."""


def merge_sparse_columns(table: FloatArray, min_expected: float = MIN_EXPECTED) -> FloatArray:
    """Merge the columns of a 2 x k table until every expected count is at least ``min_expected``.

    Every column too small alone (total below ``min_expected * N / min(row totals)``, so that
    every expected count of a column reaching it is at least ``min_expected``) goes into one
    pooled column; when the pool is still too small it absorbs the smallest remaining columns
    until it is not. Pooling all sparse columns together, rather than in runs of the size
    order, keeps values seen on one side only (the singletons of a near-continuous feature)
    from forming ref-only and eval-only groups that fake a shift. The result may have a single
    column (no test possible).
    """
    rows = table.sum(axis=1)
    needed = min_expected * table.sum() / rows.min()
    totals = table.sum(axis=0)
    order = np.argsort(totals, kind="stable")
    sparse = [int(column) for column in order if totals[column] < needed]
    dense = [int(column) for column in order if totals[column] >= needed]
    while sparse and totals[sparse].sum() < needed and dense:
        sparse.append(dense.pop(0))
    groups = [[column] for column in dense]
    if sparse:
        if totals[sparse].sum() >= needed or not groups:
            groups.append(sparse)
        else:
            groups[0].extend(sparse)
    return np.stack([table[:, group].sum(axis=1) for group in groups], axis=1)


def homogeneity_p_value(
    ref_counts: npt.ArrayLike, eval_counts: npt.ArrayLike, rng: np.random.Generator
) -> tuple[float, str] | None:
    """P-value that ref and eval counts come from one distribution, and the method used.

    Pearson's chi-squared test of homogeneity of the 2 x k table, after
    :func:`merge_sparse_columns`; when no merged table keeps two columns (a sample of fewer
    than about ten rows), a permutation test of the pooled sample (:data:`PERMUTATIONS`
    multivariate hypergeometric draws of the eval counts given the column totals) on the
    unmerged table. A single category in both sets gives 1.0; an empty set gives ``None``.
    """
    table = np.vstack([np.asarray(ref_counts, float), np.asarray(eval_counts, float)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] == 0 or np.any(table.sum(axis=1) == 0):
        return None
    if table.shape[1] == 1:
        return 1.0, "chi-squared"
    merged = merge_sparse_columns(table)
    if merged.shape[1] >= 2:
        statistic = float(pearson_tables(merged)[0])
        return float(scipy_stats.chi2.sf(statistic, merged.shape[1] - 1)), "chi-squared"
    return _permutation_p_value(table, rng), "permutation"


def _permutation_p_value(table: FloatArray, rng: np.random.Generator) -> float:
    columns = table.sum(axis=0).astype(np.int64)
    eval_draws = rng.multivariate_hypergeometric(
        columns, int(table[1].sum()), size=PERMUTATIONS
    ).astype(float)
    null = pearson_tables(np.stack([columns - eval_draws, eval_draws], axis=-2))[0]
    observed = float(pearson_tables(table)[0])
    exceed = int(np.count_nonzero(null >= observed * (1 - 1e-9)))
    return (1 + exceed) / (1 + PERMUTATIONS)


KS_EXACT_ROWS = 10_000
"""Up to this effective sample size the KS p-value uses the exact one-sample distribution
(``scipy.stats.kstwo``, whose cost grows with the size: 0.5 s at 500 000); above it, the
limiting Kolmogorov distribution with Stephens' correction (within 2 % of the exact value at
10 000 rows, down to p = 1e-8, and closer for more rows)."""


def ks_p_value(statistic: float, n_ref: int, n_eval: int) -> float:
    """Two-sided p-value of a two-sample KS statistic (Smirnov's asymptotic distribution).

    Up to :data:`KS_EXACT_ROWS` effective rows the same as
    ``scipy.stats.ks_2samp(method="asymp")``: the one-sample Kolmogorov distribution with
    ``round(n m / (n + m))`` rows. Conservative with tied values.
    """
    effective = round(n_ref * n_eval / (n_ref + n_eval))
    if effective <= KS_EXACT_ROWS:
        p = scipy_stats.kstwo.sf(statistic, effective)
    else:
        root = np.sqrt(effective)
        p = scipy_stats.kstwobign.sf((root + 0.12 + 0.11 / root) * statistic)
    return float(np.clip(p, 0.0, 1.0))


def fisher_exact_p_value(
    ref_hits: int, ref_total: int, eval_hits: int, eval_total: int, alternative: str
) -> float:
    """Fisher's exact test of two proportions, ref hits / ref total vs eval hits / eval total.

    Args:
        ref_hits: Hits in ref (e.g. correct predictions, missing values).
        ref_total: Rows of ref the proportion is over.
        eval_hits: Hits in eval.
        eval_total: Rows of eval the proportion is over.
        alternative: ``"two-sided"``, ``"eval_lower"`` (the eval proportion is lower) or
            ``"eval_higher"``.

    Returns:
        The p-value (1.0 when a set is empty). One-sided values are hypergeometric tails of
        the eval hits given the margins.
    """
    if ref_total <= 0 or eval_total <= 0:
        return 1.0
    total, hits = ref_total + eval_total, ref_hits + eval_hits
    if alternative == "eval_lower":
        p = scipy_stats.hypergeom.cdf(eval_hits, total, hits, eval_total)
    elif alternative == "eval_higher":
        p = scipy_stats.hypergeom.sf(eval_hits - 1, total, hits, eval_total)
    elif alternative == "two-sided":
        table = [[ref_hits, ref_total - ref_hits], [eval_hits, eval_total - eval_hits]]
        p = scipy_stats.fisher_exact(table).pvalue
    else:
        raise ValueError(f"unknown alternative {alternative!r}")
    return float(np.clip(p, 0.0, 1.0))


def _standardized(values: FloatArray) -> FloatArray:
    centred: FloatArray = values - values.mean()
    spread = float(centred.std())
    return centred / spread if spread > 0 else centred


def correlation_and_z_variance(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Pearson correlation of the finite pairs and the variance of its Fisher z (``atanh r``).

    The variance is the jackknife estimate (leave-one-out correlations from running sums, no
    loop), floored at the normal-theory ``1 / (n - 3)``: heavy-tailed or skewed columns make
    the correlation far more variable than the normal theory says. NaNs for fewer than three
    pairs or a constant column; an infinite variance for three pairs.
    """
    mask = np.isfinite(x) & np.isfinite(y)
    n = int(np.count_nonzero(mask))
    if n < 3:
        return float("nan"), float("nan")
    x, y = _standardized(x[mask]), _standardized(y[mask])
    if not np.any(x) or not np.any(y):
        return float("nan"), float("nan")
    sums = [float(np.einsum("i,i->", a, b)) for a, b in ((x, y), (x, x), (y, y))]
    r = sums[0] / np.sqrt(sums[1] * sums[2])
    loo_x, loo_y = -x, -y  # sums of x and y without row i (both sum to 0)
    m = n - 1
    cov = (sums[0] - x * y) - loo_x * loo_y / m
    var_x = (sums[1] - x * x) - loo_x**2 / m
    var_y = (sums[2] - y * y) - loo_y**2 / m
    with np.errstate(divide="ignore", invalid="ignore"):
        loo_r = cov / np.sqrt(var_x * var_y)
    z = np.arctanh(np.clip(loo_r[np.isfinite(loo_r)], -1 + 1e-12, 1 - 1e-12))
    jackknife = (n - 1) / n * float(np.sum((z - z.mean()) ** 2)) if z.size else 0.0
    return float(r), max(jackknife, 1.0 / (n - 3)) if n > 3 else float("inf")


def correlation_difference_p_value(ref: tuple[float, float], cur: tuple[float, float]) -> float:
    """Two-sided p-value of a difference of two independent correlations (Fisher z test).

    Args:
        ref: ``(r, variance of atanh r)`` of ref, from :func:`correlation_and_z_variance`.
        cur: The same for eval.
    """
    (r_ref, v_ref), (r_eval, v_eval) = ref, cur
    z_ref, z_eval = (np.arctanh(np.clip(r, -1 + 1e-12, 1 - 1e-12)) for r in (r_ref, r_eval))
    z = abs(float(z_eval - z_ref)) / np.sqrt(v_ref + v_eval)
    return float(2 * scipy_stats.norm.sf(z))


def null_p_value(observed: float, null: FloatArray) -> float:
    """One-sided p-value ``P(null >= observed)`` by the normal tail of null draws.

    The observation is standardised by the mean and standard deviation of the finite null
    draws, so a clear effect gets a p-value far below ``1 / (draws + 1)`` (which no finding
    survives after the adjustment over a run's many cases). Without spread (every draw
    equal) the p-value is 0 for an observation above the draws, else 1; fewer than two finite
    draws give 1.
    """
    finite = null[np.isfinite(null)]
    if finite.size < 2 or not np.isfinite(observed):
        return 1.0
    centre, spread = float(finite.mean()), float(finite.std(ddof=1))
    if not spread > 1e-12 * max(1.0, abs(centre)):
        return 0.0 if observed > centre + 1e-12 * max(1.0, abs(centre)) else 1.0
    return float(scipy_stats.norm.sf((observed - centre) / spread))


def normal_p_value(observed: float, spread: float) -> float:
    """One-sided ``P(null >= observed)`` of a null centred on 0 with standard deviation ``spread``.

    Without spread the p-value is 0 for a positive observation, else 1; a NaN gives 1.
    """
    if not np.isfinite(observed) or not np.isfinite(spread):
        return 1.0
    if not spread > 0:
        return 0.0 if observed > 0 else 1.0
    return float(scipy_stats.norm.sf(observed / spread))


def split_mean_difference_sd(values: FloatArray, ref_rows: float, eval_rows: float) -> float:
    """Standard deviation of ``mean(eval part) - mean(ref part)`` over random splits of ``values``.

    The closed form of the randomisation distribution of a difference of means (the parts
    drawn without replacement, in the proportion ``ref_rows : eval_rows`` of the values):
    ``sigma^2 N^2 / (n_ref n_eval (N - 1))`` with ``sigma^2`` the variance of the ``N`` values
    (``ddof=0``). It uses every row, so a few extreme rows count exactly as they would in the
    draws; 0.0 for fewer than two values.
    """
    n = values.size
    if n < 2 or ref_rows <= 0 or eval_rows <= 0:
        return 0.0
    n_ref = n * ref_rows / (ref_rows + eval_rows)
    n_eval = n - n_ref
    if n_ref <= 0 or n_eval <= 0:
        return 0.0
    return float(np.sqrt(float(values.var()) * n * n / (n_ref * n_eval * (n - 1))))


RANDOM_SPLITS = 200
"""Random splits of the pooled rows when the data is small enough (see :data:`SPLIT_CELLS`)."""

MIN_RANDOM_SPLITS = 50
"""Fewest random splits, whatever the number of rows."""

SPLIT_CELLS = 10_000_000
"""Cap of splits x pooled rows: more rows get fewer splits (down to :data:`MIN_RANDOM_SPLITS`)."""

SPLIT_CHUNK_CELLS = 1_000_000
"""Splits x pooled rows of the masks handed out at once (bounds the memory)."""


def split_draws(rows: int) -> int:
    """Random splits for ``rows`` pooled rows (fewer for more rows)."""
    return max(MIN_RANDOM_SPLITS, min(RANDOM_SPLITS, SPLIT_CELLS // max(rows, 1)))


def random_splits(
    rng: np.random.Generator, ref_rows: int, eval_rows: int, draws: int
) -> Iterator[FloatArray]:
    """Random splits of ``ref_rows + eval_rows`` pooled rows into a ref side and an eval side.

    Each yielded (chunk, rows) matrix is 1.0 where a row goes to the ref side and 0.0 where it
    goes to the eval side (``1 - mask``): a metric weighted by either side is the metric of a
    random split of the pooled rows, the null distribution of "ref and eval are exchangeable".
    Each row goes to the ref side with probability ``ref_rows / rows`` independently (a
    permutation with binomial side sizes: ten times cheaper than shuffling, and the same null
    for metrics that are averages). Chunks keep chunk x rows under :data:`SPLIT_CHUNK_CELLS`.
    """
    rows = ref_rows + eval_rows
    share = np.float32(ref_rows / rows)
    chunk = max(1, SPLIT_CHUNK_CELLS // max(rows, 1))
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        yield (rng.random((size, rows), dtype=np.float32) < share).astype(float)
