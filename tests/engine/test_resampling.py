"""Resampling helpers: subset sums, tail p-values and the group independence test."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from scipy.stats import chi2_contingency

from pytest_rime.engine.resampling import (
    MIN_EXCEEDANCES,
    independence_test,
    random_subset_sums,
    tail_p_value,
)


def test_tail_p_value_counts_exceedances_with_the_plus_one_correction() -> None:
    null = np.arange(100.0)
    assert tail_p_value(null, 50.0) == pytest.approx((1 + 50) / 101)
    assert tail_p_value(null, -1.0) == 1.0
    assert tail_p_value(np.append(null, np.nan), 50.0) == pytest.approx(51 / 101)
    assert tail_p_value([], 1.0) == 1.0 and tail_p_value(null, float("nan")) == 1.0


def test_tail_p_value_extrapolates_beyond_the_draws_conservatively() -> None:
    null = np.random.default_rng(0).normal(size=300)
    inside = tail_p_value(null, 1.0)
    assert inside == pytest.approx((1 + np.sum(null >= 1.0)) / 301)
    far = [tail_p_value(null, z) for z in (3.0, 5.0, 8.0, 12.0)]
    assert all(a > b for a, b in pairwise(far))  # decreasing
    assert far[-1] < 1e-6 < far[0]  # below 1/(draws + 1) for a clear effect
    for z, p in zip((3.0, 5.0, 8.0, 12.0), far, strict=True):
        assert p >= scipy_stats.norm.sf(z)  # an exponential tail: never more confident
    constant = np.zeros(300)
    assert tail_p_value(constant, 1.0) == pytest.approx(1 / 301)


def test_tail_p_value_follows_a_heavy_tail() -> None:
    rng = np.random.default_rng(1)
    null = rng.pareto(1.5, 400)
    observed = float(np.sort(null)[-MIN_EXCEEDANCES // 2])
    # a heavy tail keeps a p-value of the order of the empirical one
    assert tail_p_value(null, observed) > 0.2 * (MIN_EXCEEDANCES // 2) / 401
    ratio = tail_p_value(null, 4 * observed) / (1 + 4 * observed) ** -1.5  # Lomax survival
    assert 1 / 3 < ratio < 3


def test_random_subset_sums_are_sums_of_uniform_random_subsets() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=(40, 2))
    sums = random_subset_sums(values, [1, 5, 40], rng, draws=4000)
    assert sums.shape == (4000, 3, 2)
    np.testing.assert_allclose(sums[:, 2], np.broadcast_to(values.sum(axis=0), (4000, 2)))
    # size 1: every row equally likely; size 5: mean and finite-population variance
    np.testing.assert_allclose(sums[:, 0].mean(axis=0), values.mean(axis=0), atol=0.08)
    expected_var = 5 * values.var(axis=0, ddof=1) * (40 - 5) / 40
    np.testing.assert_allclose(sums[:, 1].var(axis=0), expected_var, rtol=0.1)


def test_random_subset_sums_respect_strata_counts() -> None:
    rng = np.random.default_rng(3)
    strata = np.repeat([0, 1], [30, 10])
    values = np.column_stack([strata == 0, strata == 1, np.ones(40)])
    sums = random_subset_sums(values, [[4, 2], [30, 0], [0, 10]], rng, strata=strata, draws=50)
    np.testing.assert_array_equal(sums[:, 0], np.broadcast_to([4, 2, 6], (50, 3)))
    np.testing.assert_array_equal(sums[:, 1], np.broadcast_to([30, 0, 30], (50, 3)))
    np.testing.assert_array_equal(sums[:, 2], np.broadcast_to([0, 10, 10], (50, 3)))
    with pytest.raises(ValueError, match="stratum 1"):
        random_subset_sums(values, [[0, 11]], rng, strata=strata)


def test_independence_test_matches_scipy_chi2_contingency() -> None:
    rng = np.random.default_rng(4)
    groups = rng.choice(["a", "b", "c"], 900)
    outcome = rng.random(900) < np.where(groups == "c", 0.4, 0.3)
    result = independence_test(groups, outcome, rng)
    table = pd.crosstab(groups, outcome).to_numpy()
    expected = chi2_contingency(table, correction=False)
    assert result.method == "chi-squared"
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.dof == expected.dof
    assert result.p_value == pytest.approx(expected.pvalue)


def test_conditional_independence_sums_the_strata() -> None:
    rng = np.random.default_rng(5)
    labels = rng.random(1000) < 0.5
    groups = np.where(rng.random(1000) < np.where(labels, 0.8, 0.2), "p", "q")
    predicted = labels ^ (rng.random(1000) < 0.1)  # depends on the label only
    raw = independence_test(groups, predicted, rng)
    given = independence_test(groups, predicted, rng, strata=labels)
    assert raw.p_value < 1e-10  # the groups' label rates differ
    parts = [
        chi2_contingency(pd.crosstab(groups[labels == v], predicted[labels == v]), False)
        for v in (False, True)
    ]
    assert given.statistic == pytest.approx(sum(p.statistic for p in parts))
    assert given.dof == 2
    assert given.p_value == pytest.approx(scipy_stats.chi2.sf(given.statistic, 2))
    assert given.p_value > 0.01


def test_small_tables_use_a_permutation_test_close_to_brute_force() -> None:
    rng = np.random.default_rng(6)
    groups = np.repeat(["a", "b", "c"], [6, 5, 4])
    outcome = np.array([1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0])
    result = independence_test(groups, outcome, rng, draws=2000)
    assert result.method == "permutation"

    def statistic(g: np.ndarray) -> float:
        table = np.array([np.bincount(outcome[g == name], minlength=2) for name in "abc"])
        return float(chi2_contingency(table, correction=False).statistic)

    brute = np.array([statistic(rng.permutation(groups)) for _ in range(1000)])
    assert result.statistic == pytest.approx(statistic(groups))
    expected = (1 + np.sum(brute >= result.statistic - 1e-9)) / 1001
    assert result.p_value == pytest.approx(expected, abs=0.03)


def test_independence_edge_cases() -> None:
    rng = np.random.default_rng(7)
    single = independence_test(np.zeros(50), rng.random(50) < 0.5, rng)
    assert (single.dof, single.p_value) == (0, 1.0)
    constant = independence_test(rng.integers(0, 3, 50), np.ones(50), rng)
    assert (constant.dof, constant.p_value) == (0, 1.0)
    empty = independence_test(np.array([]), np.array([]), rng)
    assert empty.p_value == 1.0
