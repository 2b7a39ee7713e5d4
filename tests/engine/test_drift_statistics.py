"""The drift statistic registry: each statistic against an independent computation (scipy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon

from pytest_rime.engine import drift_statistics
from pytest_rime.engine.catalog import get_test
from pytest_rime.engine.data import FeatureInfo
from pytest_rime.engine.drift_statistics import (
    Comparison,
    get_statistic,
    measure_shift,
    pick_statistic,
    register_statistic,
    statistic_names,
)
from pytest_rime.engine.profile import compute_profile


def _comparison(kind: str, ref: pd.Series, cur: pd.Series) -> Comparison:
    info = FeatureInfo(name="x", type=kind, value_kind="other", in_model=True)
    profile = compute_profile(info, ref.to_frame("x"), cur.to_frame("x"))
    return Comparison(profile, ref, cur)


@pytest.fixture
def continuous() -> Comparison:
    rng = np.random.default_rng(3)
    return _comparison(
        "numeric", pd.Series(rng.normal(0, 1, 700)), pd.Series(rng.normal(0.3, 1.2, 500))
    )


@pytest.fixture
def categorical() -> Comparison:
    rng = np.random.default_rng(4)
    ref = pd.Series(rng.choice(list("abcd"), 600, p=[0.4, 0.3, 0.2, 0.1]))
    cur = pd.Series(rng.choice(list("abcde"), 400, p=[0.25, 0.25, 0.2, 0.2, 0.1]))
    return _comparison("categorical", ref, cur)


def test_ks_is_scipys_two_sample_statistic_and_p_value(continuous: Comparison) -> None:
    ref, cur = continuous.sorted_values
    expected = scipy_stats.ks_2samp(ref, cur, method="asymp")
    ks = get_statistic("ks")
    value = ks.compute(continuous)
    assert value == pytest.approx(expected.statistic)
    evidence = ks.evidence(continuous, value, np.random.default_rng(0))
    assert evidence is not None and evidence.method == "Kolmogorov-Smirnov"
    assert evidence.p_value == pytest.approx(expected.pvalue, rel=0.05)


def test_count_statistics_match_scipy(categorical: Comparison) -> None:
    counts = categorical.counts
    assert counts is not None
    ref, cur = counts
    assert ref.sum() == 600 and cur.sum() == 400 and len(ref) == 5
    p, q = ref / ref.sum(), cur / cur.sum()
    assert get_statistic("js").compute(categorical) == pytest.approx(jensenshannon(p, q, base=2))
    table = np.vstack([ref, cur])
    chi2 = scipy_stats.chi2_contingency(table, correction=False).statistic
    assert get_statistic("chi2").compute(categorical) == pytest.approx(np.sqrt(chi2 / 1000))
    floored_p, floored_q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    psi = np.sum((floored_q - floored_p) * np.log(floored_q / floored_p))
    assert get_statistic("psi").compute(categorical) == pytest.approx(psi)
    evidence = get_statistic("psi").evidence(categorical, 0.0, np.random.default_rng(0))
    assert evidence is not None
    assert evidence.p_value == pytest.approx(scipy_stats.chi2_contingency(table).pvalue)


def test_psi_of_a_continuous_column_compares_reference_decile_bins(continuous: Comparison) -> None:
    counts = continuous.counts
    assert counts is not None
    assert len(counts[0]) == 10 and counts[0].sum() == 700 and counts[1].sum() == 500


def test_the_choice_follows_the_column_kind(categorical: Comparison) -> None:
    discrete_numbers = _comparison("numeric", pd.Series([1, 2, 3] * 50), pd.Series([1, 2] * 40))
    text = _comparison("text", pd.Series(["a b"] * 5), pd.Series(["c"] * 5))
    profile = discrete_numbers.profile
    assert pick_statistic(profile, "psi", "chi2") is get_statistic("chi2")
    assert pick_statistic(profile, "ks", "chi2") is get_statistic("ks")
    assert pick_statistic(categorical.profile, "ks", "js") is get_statistic("js")
    assert pick_statistic(text.profile, "psi", "psi") is None
    assert measure_shift(text, "psi", "psi", np.random.default_rng(0)) is None


def test_no_values_on_a_side_is_no_shift() -> None:
    empty = _comparison("numeric", pd.Series([1.0, 2.5, 3.0]), pd.Series([np.nan, np.nan]))
    assert measure_shift(empty, "ks", "psi", np.random.default_rng(0)) is None


def test_the_drift_tests_offer_every_registered_statistic() -> None:
    assert statistic_names("numeric") == ("psi", "ks")
    assert statistic_names("categorical") == ("psi", "chi2", "js")
    for test_id in ("drift.feature_drift", "drift.label_drift", "drift.prediction_drift"):
        choices = get_test(test_id).param_choices
        assert choices["numeric_statistic"] == statistic_names("numeric")
        assert choices["categorical_statistic"] == statistic_names("categorical")


def test_a_statistic_is_one_function(
    categorical: Comparison, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drift_statistics, "_STATISTICS", dict(drift_statistics._STATISTICS))

    def hellinger(comparison: Comparison) -> float:
        counts = comparison.counts
        assert counts is not None
        p, q = (np.asarray(c, float) / np.sum(c) for c in counts)
        return float(np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)))

    register_statistic("hellinger", ("categorical",), hellinger, label="Hellinger distance")
    assert statistic_names("categorical")[-1] == "hellinger"
    shift = measure_shift(categorical, "psi", "hellinger", np.random.default_rng(0))
    assert shift is not None and shift.statistic.label == "Hellinger distance"
    assert 0 < shift.value < 1
    assert shift.evidence is not None and shift.evidence.p_value < 0.01
    with pytest.raises(ValueError, match="already registered"):
        register_statistic("hellinger", ("categorical",), hellinger, label="again")
    with pytest.raises(KeyError, match="unknown drift statistic 'nope'"):
        get_statistic("nope")
