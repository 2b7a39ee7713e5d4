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
