"""The null spread of firewall bin metrics, checked against brute-force computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pytest_rime.engine.drift_statistics import cramers_v_rows, js_distance_rows, ks_rows, psi_rows
from pytest_rime.engine.evidence import benjamini_hochberg
from pytest_rime.engine.monitoring import (
    NullTarget,
    adjust,
    chunk_counts,
    draw_chunks,
    empirical_p_value,
    null_p_values,
    target_draws,
    with_replacement,
)
from pytest_rime.engine.stats import chi_squared, js_distance, ks_statistic, psi


def test_empirical_p_value_counts_chunks_at_least_as_bad_plus_one() -> None:
    null = [0.1, 0.5, 0.5, 0.9, float("nan")]
    assert empirical_p_value(0.5, null, higher_is_worse=True) == pytest.approx((1 + 3) / 5)
    assert empirical_p_value(0.5, null, higher_is_worse=False) == pytest.approx((1 + 3) / 5)
    assert empirical_p_value(2.0, null, higher_is_worse=True) == pytest.approx(1 / 5)
    assert np.isnan(empirical_p_value(float("nan"), null, higher_is_worse=True))


def test_chunks_are_without_repeats_unless_the_pool_is_too_small() -> None:
    rng = np.random.default_rng(0)
    chunks = draw_chunks(rng, 100, 30, 50)
    assert chunks.shape == (50, 30)
    assert all(len(set(row)) == 30 for row in chunks.tolist())
    assert chunks.min() >= 0 and chunks.max() < 100
    assert not with_replacement(100, 50) and with_replacement(100, 51)
    assert draw_chunks(rng, 10, 8, 5).max() < 10


def test_row_wise_statistics_match_the_scalar_ones() -> None:
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 20, (40, 6))
    cur = rng.integers(0, 5, (40, 6))
    cur[0] = 0  # an empty chunk
    ref[1, :3] = cur[1, 3:] = 0  # disjoint supports
    cur[2, 1:] = ref[2, 1:] = 0  # a single category
    for row in range(40):
        assert psi_rows(ref, cur)[row] == pytest.approx(psi(ref[row], cur[row]), nan_ok=True)
        assert js_distance_rows(ref, cur)[row] == pytest.approx(
            js_distance(ref[row], cur[row]), nan_ok=True
        )
        assert cramers_v_rows(ref, cur)[row] == pytest.approx(
            chi_squared(ref[row], cur[row])[1], nan_ok=True
        )


def test_ks_of_each_chunk_against_the_rest_matches_the_scalar_ks() -> None:
    rng = np.random.default_rng(2)
    pool = np.sort(rng.integers(0, 15, 60).astype(float))  # ties on purpose
    chunks = draw_chunks(rng, 60, 12, 25)
    chunks[0, :4] = -1  # rows without a value
    for rest in (True, False):
        got = ks_rows(pool, chunks, rest=rest)
        for row, chunk in enumerate(chunks):
            kept = chunk[chunk >= 0]
            other = np.delete(pool, kept) if rest else pool
            expected = ks_statistic(np.sort(pool[kept]), other)
            assert got[row] == pytest.approx(expected)


def test_chunk_counts_match_value_counts() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 4, 50)
    chunks = draw_chunks(rng, 50, 10, 7)
    counts = chunk_counts(codes, chunks, 4)
    for row, chunk in enumerate(chunks):
        expected = pd.Series(codes[chunk]).value_counts().reindex(range(4), fill_value=0)
        assert counts[row].tolist() == expected.tolist()


def test_null_p_values_equal_a_brute_force_loop_over_the_same_chunks() -> None:
    rng = np.random.default_rng(4)
    ref_values = rng.integers(0, 5, 300)
    bin_values = np.concatenate([rng.integers(0, 5, 40), np.full(10, 4)])
    bin_counts = np.bincount(bin_values, minlength=5)
    pool_counts = np.bincount(ref_values, minlength=5)
    observed = psi(pool_counts, bin_counts)

    def statistic(chunks: np.ndarray) -> np.ndarray:
        counts = chunk_counts(ref_values, chunks, 5)
        return psi_rows(pool_counts - counts, counts)

    seed = 11
    draws = target_draws(3, 0.01)
    draw_rng = np.random.default_rng(seed)
    (p_value, used), (p_mean, used_mean) = null_p_values(
        {
            "psi": NullTarget(observed, statistic),
            "mean": NullTarget(bin_values.mean(), lambda c: ref_values[c].mean(axis=1)),
        },
        lambda n: draw_chunks(draw_rng, 300, 50, n),
        significance_level=0.01,
        max_draws=draws,
    ).values()
    replay = np.random.default_rng(seed)
    brute, brute_mean = [], []
    while len(brute) < max(used, used_mean):
        for chunk in draw_chunks(replay, 300, 50, 250):
            rest = np.delete(ref_values, chunk)
            brute.append(
                psi(np.bincount(rest, minlength=5), np.bincount(ref_values[chunk], minlength=5))
            )
            brute_mean.append(ref_values[chunk].mean())
    assert used <= draws
    assert p_value == pytest.approx(empirical_p_value(observed, brute[:used], higher_is_worse=True))
    assert used_mean % 250 == 0  # whole rounds of the shared chunks, as many as it needed
    assert p_mean == pytest.approx(
        empirical_p_value(bin_values.mean(), brute_mean[:used_mean], higher_is_worse=True)
    )


def test_a_metric_clearly_within_the_spread_stops_after_one_round() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(size=1000)
    result = null_p_values(
        {"mean": NullTarget(0.0, lambda c: values[c].mean(axis=1))},
        lambda n: draw_chunks(rng, 1000, 50, n),
        significance_level=0.01,
        max_draws=5000,
    )
    p_value, used = result["mean"]
    assert used == 250 and p_value > 0.2


def test_adjust_applies_benjamini_hochberg_over_the_bin_metrics() -> None:
    raw = {"a": (0.001, 1000), "b": (0.02, 1000), "c": (0.5, 250), "d": (float("nan"), 0)}
    evidence = adjust(raw)
    assert set(evidence) == {"a", "b", "c"}
    expected = benjamini_hochberg([0.001, 0.02, 0.5])
    assert [evidence[k].p_value_adjusted for k in "abc"] == pytest.approx(list(expected))
    assert evidence["a"].significant(0.01) and not evidence["b"].significant(0.01)
