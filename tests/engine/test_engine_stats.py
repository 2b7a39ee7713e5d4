"""Distribution statistics against independent scipy / scikit-learn computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import mutual_info_score

from pytest_rime.engine import stats

RNG = np.random.default_rng(42)


def test_psi_is_the_symmetric_kl_divergence() -> None:
    ref = np.array([30, 50, 20])
    cur = np.array([20, 40, 40])
    p, q = ref / ref.sum(), cur / cur.sum()
    expected = scipy_stats.entropy(q, p) + scipy_stats.entropy(p, q)
    assert stats.psi(ref, cur) == pytest.approx(expected)
    assert stats.psi(ref, ref * 3) == pytest.approx(0.0)


def test_psi_floors_empty_bins_and_empty_inputs_are_nan() -> None:
    assert math.isfinite(stats.psi([10, 0], [0, 10]))
    assert math.isnan(stats.psi([0, 0], [1, 2]))
    assert math.isnan(stats.psi([], []))


@pytest.mark.parametrize("shift", [0.0, 0.3, 2.0])
def test_ks_matches_scipy(shift: float) -> None:
    a = RNG.normal(0, 1, 700)
    b = RNG.normal(shift, 1, 500)
    b[:50] = np.round(b[:50])  # ties
    expected = scipy_stats.ks_2samp(a, b).statistic
    assert stats.ks_statistic(np.sort(a), np.sort(b)) == pytest.approx(expected)


def test_ks_of_an_empty_sample_is_nan() -> None:
    assert math.isnan(stats.ks_statistic(np.empty(0), np.arange(3.0)))


def test_chi_squared_and_cramers_v_match_scipy() -> None:
    ref = np.array([40, 30, 30, 0])
    cur = np.array([10, 50, 20, 0])
    statistic, v = stats.chi_squared(ref, cur)
    table = np.vstack([ref, cur])[:, :3]
    expected = scipy_stats.chi2_contingency(table, correction=False).statistic
    assert statistic == pytest.approx(expected)
    assert v == pytest.approx(scipy_stats.contingency.association(table, method="cramer"))


def test_chi_squared_edge_cases() -> None:
    assert stats.chi_squared([5], [7]) == (0.0, 0.0)
    assert all(math.isnan(x) for x in stats.chi_squared([0, 0], [1, 1]))


def test_js_distance_matches_scipy() -> None:
    ref = np.array([10, 20, 30, 0])
    cur = np.array([0, 25, 25, 10])
    assert stats.js_distance(ref, cur) == pytest.approx(jensenshannon(ref, cur, base=2))
    assert stats.js_distance(ref, ref) == pytest.approx(0.0)


def test_mutual_information_matches_sklearn() -> None:
    x = RNG.integers(0, 5, 400)
    y = (x + RNG.integers(0, 2, 400)) % 3
    assert stats.mutual_information(x, y) == pytest.approx(mutual_info_score(x, y))
    assert stats.entropy(y) == pytest.approx(scipy_stats.entropy(np.bincount(y)))


def test_bin_counts_and_quantile_edges() -> None:
    values = np.sort(RNG.normal(0, 1, 1000))
    edges = stats.quantile_edges(values, 10)
    assert edges.size == 9
    counts = stats.bin_counts(values, edges)
    assert counts.sum() == 1000
    expected, _ = np.histogram(values, bins=[-np.inf, *edges, np.inf])
    # histogram bins are right-open; ours are right-closed: counts agree away from ties.
    assert np.abs(counts - expected).max() <= 1
    assert stats.quantile_edges(np.ones(10), 10).tolist() == [1.0]


def test_discretize_codes_numbers_categories_and_nulls() -> None:
    numbers = pd.Series([1.0, 2.0, np.nan, 3.0, 4.0])
    codes = stats.discretize(numbers, bins=2)
    assert codes[2] == codes.max() and len(set(codes[[0, 1, 3, 4]])) == 2
    words = stats.discretize(pd.Series(["a", "b", None, "a"]))
    assert words[0] == words[3] and words[2] not in (words[0], words[1])


def test_sorted_quantiles_match_numpy() -> None:
    values = np.sort(RNG.normal(0, 1, 101))
    qs = [0.0, 0.001, 0.25, 0.5, 0.99, 1.0]
    np.testing.assert_allclose(stats.sorted_quantiles(values, qs), np.quantile(values, qs))
    np.testing.assert_allclose(stats.sorted_quantiles(np.array([4.0]), qs), [4.0] * 6)


@pytest.mark.parametrize("seed", range(5))
def test_ks_matches_scipy_with_heavy_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, 50).astype(float)
    b = rng.integers(1, 7, 30).astype(float)
    expected = scipy_stats.ks_2samp(a, b).statistic
    assert stats.ks_statistic(np.sort(a), np.sort(b)) == pytest.approx(expected)


# ------------------------------------------------------------------------------ p-values
def test_homogeneity_p_value_matches_scipy_without_merging() -> None:
    ref, cur = np.array([120, 80, 60, 40]), np.array([100, 95, 50, 55])
    p, method = stats.homogeneity_p_value(ref, cur, np.random.default_rng(0)) or (None, None)
    expected = scipy_stats.chi2_contingency(np.vstack([ref, cur]), correction=False).pvalue
    assert method == "chi-squared"
    assert p == pytest.approx(expected)


def test_values_seen_on_one_side_only_do_not_fake_a_shift() -> None:
    # a near-continuous feature of a clean split: the same common values on both sides, and
    # 20 singletons seen only in ref, 20 others only in eval
    common_ref, common_eval = [40, 31, 27, 12, 6, 4], [38, 37, 18, 10, 7, 2]
    ref = np.array(common_ref + [1] * 20 + [0] * 20)
    cur = np.array(common_eval + [0] * 20 + [1] * 20)
    p, _ = stats.homogeneity_p_value(ref, cur, np.random.default_rng(0)) or (None, None)
    assert p is not None and p > 0.1


def test_sparse_bins_are_merged_until_expected_counts_reach_five() -> None:
    ref = np.array([200, 150, 3, 2, 1, 0, 4])
    cur = np.array([180, 170, 0, 4, 2, 3, 1])
    table = np.vstack([ref, cur]).astype(float)
    merged = stats.merge_sparse_columns(table[:, table.sum(axis=0) > 0])
    expected_counts = np.outer(merged.sum(axis=1), merged.sum(axis=0)) / merged.sum()
    assert expected_counts.min() >= stats.MIN_EXPECTED
    # a column needs a total of 5 * 720 / 360 = 10: every column short of it (totals 3, 3, 3,
    # 5, 6) pools into one column of 20; the large ones stay as they are
    np.testing.assert_array_equal(merged, [[150, 200, 10], [170, 180, 10]])
    p, method = stats.homogeneity_p_value(ref, cur, np.random.default_rng(0)) or (None, None)
    assert method == "chi-squared"
    assert p == pytest.approx(scipy_stats.chi2_contingency(merged, correction=False).pvalue)


def test_tiny_samples_use_a_permutation_test() -> None:
    rng = np.random.default_rng(0)
    different = stats.homogeneity_p_value([8, 0], [0, 8], rng)
    same = stats.homogeneity_p_value([4, 4], [4, 4], rng)
    assert different is not None and same is not None
    assert different[1] == same[1] == "permutation"
    # exact one-in-C(16, 8) arrangement: the permutation p-value is at its floor
    assert different[0] == pytest.approx(1 / (stats.PERMUTATIONS + 1))
    assert same[0] == 1.0


def test_homogeneity_edge_cases() -> None:
    rng = np.random.default_rng(0)
    assert stats.homogeneity_p_value([10], [7], rng) == (1.0, "chi-squared")  # one category
    assert stats.homogeneity_p_value([10, 3], [0, 0], rng) is None  # an empty side


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5])
def test_ks_p_value_matches_scipy_asymptotic(shift: float) -> None:
    a, b = RNG.normal(0, 1, 700), RNG.normal(shift, 1, 500)
    expected = scipy_stats.ks_2samp(a, b, method="asymp")
    assert stats.ks_p_value(expected.statistic, a.size, b.size) == pytest.approx(expected.pvalue)


@pytest.mark.parametrize("statistic", [0.004, 0.01, 0.015, 0.025])
def test_ks_p_value_of_large_samples_is_close_to_the_exact_distribution(statistic: float) -> None:
    p = stats.ks_p_value(statistic, 40_000, 40_000)  # 20 000 effective rows
    assert p == pytest.approx(scipy_stats.kstwo.sf(statistic, 20_000), rel=0.02)


@pytest.mark.parametrize(
    ("counts", "alternative", "scipy_alternative"),
    [
        ((80, 100, 60, 100), "eval_lower", "greater"),
        ((60, 100, 80, 100), "eval_higher", "less"),
        ((3, 1000, 9, 400), "eval_higher", "less"),
        ((5, 9, 5, 9), "eval_lower", "greater"),
    ],
)
def test_fisher_one_sided_matches_scipy(
    counts: tuple[int, int, int, int], alternative: str, scipy_alternative: str
) -> None:
    ref_hits, ref_total, eval_hits, eval_total = counts
    table = [[ref_hits, ref_total - ref_hits], [eval_hits, eval_total - eval_hits]]
    expected = scipy_stats.fisher_exact(table, alternative=scipy_alternative).pvalue
    assert stats.fisher_exact_p_value(*counts, alternative) == pytest.approx(expected)


def test_fisher_two_sided_is_the_sum_of_the_less_likely_tables() -> None:
    ref_hits, ref_total, eval_hits, eval_total = 2, 300, 11, 250
    hits, total = ref_hits + eval_hits, ref_total + eval_total
    law = scipy_stats.hypergeom(total, hits, eval_total)
    support = np.arange(0, hits + 1)
    pmf = law.pmf(support)
    expected = pmf[pmf <= law.pmf(eval_hits) * (1 + 1e-7)].sum()
    p = stats.fisher_exact_p_value(ref_hits, ref_total, eval_hits, eval_total, "two-sided")
    assert p == pytest.approx(expected)
    assert stats.fisher_exact_p_value(0, 0, 1, 5, "two-sided") == 1.0
    with pytest.raises(ValueError, match="alternative"):
        stats.fisher_exact_p_value(1, 2, 1, 2, "bigger")


def test_correlation_jackknife_matches_a_leave_one_out_loop() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_t(3, 60)
    y = 0.5 * x + rng.normal(0, 1, 60) * np.abs(x)  # heavy tails, noise growing with |x|
    r, variance = stats.correlation_and_z_variance(x, y)
    assert r == pytest.approx(scipy_stats.pearsonr(x, y).statistic)
    loo = np.array(
        [
            np.arctanh(scipy_stats.pearsonr(np.delete(x, i), np.delete(y, i)).statistic)
            for i in range(60)
        ]
    )
    jackknife = 59 / 60 * np.sum((loo - loo.mean()) ** 2)
    assert variance == pytest.approx(max(jackknife, 1 / 57), rel=1e-6)
    assert variance > 1 / 57  # heavy-tailed x: more variable than the normal theory says


def test_correlation_difference_is_the_fisher_z_test_on_normal_data() -> None:
    x1, x2 = RNG.normal(size=2000), RNG.normal(size=1500)
    y1, y2 = 0.5 * x1 + RNG.normal(size=2000), 0.3 * x2 + RNG.normal(size=1500)
    ref, cur = stats.correlation_and_z_variance(x1, y1), stats.correlation_and_z_variance(x2, y2)
    z = (np.arctanh(ref[0]) - np.arctanh(cur[0])) / np.sqrt(1 / 1997 + 1 / 1497)
    fisher = 2 * scipy_stats.norm.sf(abs(z))
    p = stats.correlation_difference_p_value(ref, cur)
    assert p >= fisher * (1 - 1e-9)  # the jackknife variance is floored at 1 / (n - 3)
    assert np.log(p) == pytest.approx(np.log(fisher), rel=0.25)


def test_correlation_edge_cases() -> None:
    assert all(np.isnan(stats.correlation_and_z_variance(np.ones(10), np.arange(10.0))))
    assert all(np.isnan(stats.correlation_and_z_variance(np.arange(2.0), np.arange(2.0))))
    r, variance = stats.correlation_and_z_variance(np.arange(3.0), np.array([0.0, 2.0, 1.0]))
    assert r == pytest.approx(0.5) and variance == np.inf
    assert stats.correlation_difference_p_value((0.5, np.inf), (-0.9, 0.01)) == 1.0


def test_null_p_value_is_the_normal_tail_of_the_draws() -> None:
    null = RNG.normal(0.1, 0.2, 400)
    expected = scipy_stats.norm.sf((0.9 - null.mean()) / null.std(ddof=1))
    assert stats.null_p_value(0.9, null) == pytest.approx(expected)
    assert stats.null_p_value(0.9, np.array([np.nan, 1.0])) == 1.0
    assert stats.null_p_value(0.5, np.zeros(50)) == 0.0
    assert stats.null_p_value(0.0, np.zeros(50)) == 1.0


def test_random_splits_are_seeded_binary_masks_of_the_ref_share() -> None:
    def draw(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return np.vstack(list(stats.random_splits(rng, 3000, 1000, 120)))

    masks = draw(5)
    assert masks.shape == (120, 4000)
    assert set(np.unique(masks)) == {0.0, 1.0}
    assert masks.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_array_equal(masks, draw(5))
    assert stats.split_draws(100) == stats.RANDOM_SPLITS
    assert stats.split_draws(10**7) == stats.MIN_RANDOM_SPLITS


def test_unsorted_quantile_edges_equal_the_sorted_ones() -> None:
    for values in (
        RNG.normal(size=1001),
        RNG.integers(0, 3, 500).astype(float),
        np.round(RNG.normal(size=77), 1),
        np.array([2.0]),
        np.empty(0),
    ):
        original = values.copy()
        for bins in (2, 5, 10):
            np.testing.assert_array_equal(
                stats.unsorted_quantile_edges(values, bins),
                stats.quantile_edges(np.sort(values), bins),
            )
        np.testing.assert_array_equal(values, original)  # not modified


def test_split_mean_difference_sd_is_the_permutation_spread() -> None:
    values = RNG.lognormal(0, 1.5, 400)  # heavy-tailed: the closed form uses every row
    rows = np.arange(values.size)
    diffs = []
    for _ in range(20000):
        eval_side = RNG.permutation(rows)[:100]
        mask = np.zeros(values.size, dtype=bool)
        mask[eval_side] = True
        diffs.append(values[mask].mean() - values[~mask].mean())
    expected = float(np.std(diffs))
    assert stats.split_mean_difference_sd(values, 300, 100) == pytest.approx(expected, rel=0.03)
    assert stats.split_mean_difference_sd(values[:1], 300, 100) == 0.0


def test_normal_p_value() -> None:
    assert stats.normal_p_value(1.0, 0.5) == pytest.approx(scipy_stats.norm.sf(2.0))
    assert stats.normal_p_value(0.1, 0.0) == 0.0
    assert stats.normal_p_value(0.0, 0.0) == 1.0
    assert stats.normal_p_value(float("nan"), 1.0) == 1.0


@pytest.mark.parametrize("size", [0, 2])
def test_correlation_of_too_few_finite_pairs_is_nan_without_warnings(size: int) -> None:
    x = np.full(5, np.nan)
    x[:size] = np.arange(size)
    r, variance = stats.correlation_and_z_variance(x, np.arange(5.0))
    assert np.isnan(r) and np.isnan(variance)
