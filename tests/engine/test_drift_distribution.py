"""``metrics["distribution"]`` of drift cases, checked against pandas / numpy counts."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from engine_helpers import (
    case_for,
    decile_shares,
    distribution_frame,
    make_context,
    run_one,
    tabular_frame,
    x_model,
)

from pytest_rime.engine.distribution import (
    MAX_LABELS,
    OTHER,
    bin_labels,
    compact_numbers,
    top_shares,
)


def test_numeric_feature_shares_match_decile_bins() -> None:
    ref, cur = tabular_frame(700, 0), tabular_frame(500, 1, shift=0.8)
    cur.loc[:40, "x"] = np.nan  # nulls are left out of the shares
    x_case = case_for(run_one(make_context(ref, cur, model=x_model), "drift.feature_drift"), "x")
    shares = distribution_frame(x_case)
    edges, ref_expected, eval_expected = decile_shares(ref["x"], cur["x"])
    assert shares["ref"].to_numpy() == pytest.approx(ref_expected, abs=1e-6)
    assert shares["eval"].to_numpy() == pytest.approx(eval_expected, abs=1e-6)
    labels = list(shares.index)
    assert labels[0].startswith("<= ") and labels[-1].startswith("> ")
    assert all(re.fullmatch(r"\(\S+, \S+\]", label) for label in labels[1:-1])
    shown = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?", " ".join(labels))]
    assert shown[0] == pytest.approx(edges[0], rel=1e-3)
    assert shown[-1] == pytest.approx(edges[-1], rel=1e-3)
    assert shares.loc[labels[-1], "eval"] > 2 * shares.loc[labels[-1], "ref"]  # shifted up


def test_categorical_and_discrete_shares_match_value_counts() -> None:
    ref, cur = tabular_frame(600, 0), tabular_frame(600, 1)
    cur.loc[:150, "c"] = "red"
    ref.loc[:30, "c"] = None
    ref["d"] = np.random.default_rng(2).integers(0, 4, 600)
    cur["d"] = np.random.default_rng(3).integers(1, 5, 600)  # 4 is new in eval
    cases = run_one(make_context(ref, cur), "drift.feature_drift")
    c_shares = distribution_frame(case_for(cases, "c"))
    for side, frame in (("ref", ref), ("eval", cur)):
        expected = frame["c"].value_counts(normalize=True)
        assert c_shares[side].to_dict() == pytest.approx(expected.to_dict(), abs=1e-6)
    pooled = ref["c"].value_counts(normalize=True) + cur["c"].value_counts(normalize=True)
    assert list(c_shares.index) == list(pooled.sort_values(ascending=False).index)
    d_shares = distribution_frame(case_for(cases, "d"))
    assert list(d_shares.index) == ["0", "1", "2", "3", "4"]  # numbers in value order
    expected = cur["d"].value_counts(normalize=True).reindex(range(5), fill_value=0.0)
    assert d_shares["eval"].to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-6)


def test_many_categories_keep_the_most_frequent_and_sum_the_rest() -> None:
    rng = np.random.default_rng(0)
    ref = tabular_frame(3000, 0)
    cur = tabular_frame(3000, 1)
    weights = np.arange(40, 0, -1) / np.arange(40, 0, -1).sum()
    ref["c"] = rng.choice([f"v{i:02d}" for i in range(40)], 3000, p=weights)
    cur["c"] = rng.choice([f"v{i:02d}" for i in range(40)], 3000, p=weights[::-1])
    shares = distribution_frame(
        case_for(run_one(make_context(ref, cur), "drift.feature_drift"), "c")
    )
    assert len(shares) == MAX_LABELS and shares.index[-1] == OTHER
    pooled = (
        ref["c"]
        .value_counts(normalize=True)
        .add(cur["c"].value_counts(normalize=True), fill_value=0)
    )
    top = pooled.sort_values(ascending=False, kind="stable").index[: MAX_LABELS - 1]
    assert set(shares.index[:-1]) == set(top)
    rest = ~ref["c"].isin(top)
    assert shares.loc[OTHER, "ref"] == pytest.approx(rest.mean(), abs=1e-6)


def test_label_prediction_and_protected_drift_carry_a_distribution() -> None:
    ref, cur = tabular_frame(600, 0), tabular_frame(600, 1, shift=1.0)
    ctx = make_context(ref, cur, model=x_model)
    [label] = run_one(ctx, "drift.label_drift")
    label_shares = distribution_frame(label)
    assert sorted(label_shares.index) == ["0", "1"]
    expected = cur["y"].value_counts(normalize=True)
    assert label_shares.loc["1", "eval"] == pytest.approx(expected[1], abs=1e-6)
    [prediction] = run_one(ctx, "drift.prediction_drift")
    _, ref_expected, eval_expected = decile_shares(pd.Series(x_model(ref)), pd.Series(x_model(cur)))
    assert distribution_frame(prediction)["eval"].to_numpy() == pytest.approx(
        eval_expected, abs=1e-6
    )
    assert distribution_frame(prediction)["ref"].to_numpy() == pytest.approx(ref_expected, abs=1e-6)


def test_skipped_cases_have_no_distribution() -> None:
    ref, cur = tabular_frame(200, 0), tabular_frame(200, 1)
    cur["x"] = np.nan
    x_case = case_for(run_one(make_context(ref, cur), "drift.feature_drift"), "x")
    assert "distribution" not in x_case.metrics


def test_labels_and_shares_helpers() -> None:
    assert compact_numbers([1.0, 2.5, 1000.25, 1000.5]) == ["1", "2.5", "1000.2", "1000.5"]
    assert (
        compact_numbers([0.123456789, 0.123456781])[0]
        != compact_numbers([0.123456789, 0.123456781])[1]
    )
    assert bin_labels([1.5, 3.25]) == ["<= 1.5", "(1.5, 3.25]", "> 3.25"]
    assert bin_labels([]) == ["all values"]
    assert top_shares(["a", "b"], [0, 0], [1, 1]) is None
    tokens = top_shares(["a", "b"], [3, 1], [1, 1], rest=(4.0, 2.0))
    assert tokens == {
        "labels": ["a", "b", OTHER],
        "ref": [0.375, 0.125, 0.5],
        "eval": [0.25] * 2 + [0.5],
    }
