"""Abnormal Inputs tests: pass, fail and edge cases, with the model impact of flagged rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_helpers import (
    case_for,
    make_context,
    planted,
    run_one,
    statuses,
    tabular_frame,
    x_model,
)
from scipy import stats

from pytest_rime.engine.results import Severity, Status
from pytest_rime.engine.tests.abnormal_inputs import ABNORMALITIES, features_with, type_violations

ROW_TESTS = [
    "abnormal_inputs.numeric_outliers",
    "abnormal_inputs.out_of_range",
    "abnormal_inputs.unseen_categorical",
    "abnormal_inputs.rare_categories",
    "abnormal_inputs.null_check",
    "abnormal_inputs.empty_string",
    "abnormal_inputs.capitalization",
    "abnormal_inputs.must_be_int",
    "abnormal_inputs.must_be_float",
    "abnormal_inputs.must_be_string",
    "abnormal_inputs.inconsistencies",
]


def c_model(frame: pd.DataFrame) -> np.ndarray:
    """A model driven by the categorical feature c (and x)."""
    weight = frame["c"].map({"red": 3.0, "green": -3.0, "blue": 0.0}).fillna(0.0).to_numpy()
    x = pd.to_numeric(frame["x"], errors="coerce").fillna(0.0).to_numpy()
    probability: np.ndarray = 1.0 / (1.0 + np.exp(-(weight + x)))
    return probability


@pytest.mark.parametrize("test_id", ROW_TESTS)
def test_clean_eval_passes(test_id: str, frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = frames
    cases = run_one(make_context(ref, cur, model=x_model), test_id)
    assert cases
    assert statuses(cases) <= {Status.PASS, Status.SKIP}, [c.description for c in cases]


@pytest.mark.parametrize("test_id", ROW_TESTS)
def test_empty_eval_does_not_crash(test_id: str, frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = frames
    cases = run_one(make_context(ref, cur.iloc[:0], model=x_model), test_id)
    assert all("raised" not in c.description for c in cases)
    assert statuses(cases) <= {Status.PASS, Status.SKIP}


def test_numeric_outliers_and_out_of_range() -> None:
    ref, cur = tabular_frame(500, 0), tabular_frame(500, 1)
    cur.loc[:59, "x"] = 40.0
    cur.loc[100:159, "z"] = -40.0  # other rows: the x outliers would confound the impact
    ctx = make_context(ref, cur, model=x_model)
    for test_id in ("abnormal_inputs.numeric_outliers", "abnormal_inputs.out_of_range"):
        cases = run_one(ctx, test_id)
        x_case, z_case = case_for(cases, "x"), case_for(cases, "z")
        assert x_case.metrics["num_failing_rows"] >= 60
        assert x_case.severity is Severity.HIGH and x_case.importance_score >= 0.3
        assert z_case.status is Status.FAIL and z_case.severity is Severity.LOW  # model ignores z
        assert z_case.importance_score < 0.1


def test_out_of_range_constant_and_all_null_columns() -> None:
    ref, cur = tabular_frame(100, 0), tabular_frame(100, 1)
    ref["z"], cur["z"] = 2.0, 2.0
    ref["x"], cur["x"] = np.nan, np.nan
    cases = run_one(make_context(ref, cur), "abnormal_inputs.out_of_range")
    assert case_for(cases, "z").status is Status.PASS
    assert case_for(cases, "x").status is Status.PASS


def test_unseen_categorical_uses_the_model_impact() -> None:
    ref, cur = tabular_frame(600, 0), tabular_frame(600, 1)
    cur.loc[:99, "c"] = "purple"
    cur.loc[:99, "k"] = "east"
    cases = run_one(make_context(ref, cur, model=c_model), "abnormal_inputs.unseen_categorical")
    c_case, k_case = case_for(cases, "c"), case_for(cases, "k")
    assert c_case.severity is Severity.HIGH and c_case.metrics["num_failing_rows"] == 100
    assert c_case.metrics["examples"][0] == "purple"
    assert k_case.status is Status.FAIL and k_case.severity is Severity.LOW
    no_labels = make_context(ref.drop(columns="y"), cur.drop(columns="y"), label_col=None)
    unknown = case_for(run_one(no_labels, "abnormal_inputs.unseen_categorical"), "k")
    assert unknown.severity is Severity.HIGH  # no model, no labels: no impact known, no cap


def test_rare_categories_counts_the_excess_over_ref() -> None:
    ref, cur = tabular_frame(1000, 0), tabular_frame(1000, 1)
    ref.loc[:4, "c"] = "teal"  # 0.5% of ref
    ok = run_one(make_context(ref, cur), "abnormal_inputs.rare_categories")
    assert case_for(ok, "c").status is Status.PASS
    cur.loc[:199, "c"] = "teal"
    bad = case_for(run_one(make_context(ref, cur), "abnormal_inputs.rare_categories"), "c")
    assert bad.status is Status.FAIL
    assert bad.metrics["statistic"] == pytest.approx(0.2 - 0.005)


def test_null_check_flags_unexpected_nulls_only() -> None:
    ref, cur = tabular_frame(500, 0), tabular_frame(500, 1)
    ref.loc[:50, "z"] = np.nan  # nulls expected in z
    cur.loc[:99, ["x", "z"]] = np.nan
    cur.loc[200:299, "c"] = np.nan  # other rows: the x nulls would confound the impact
    cases = run_one(make_context(ref, cur, model=x_model), "abnormal_inputs.null_check")
    x_case = case_for(cases, "x")
    assert x_case.status is Status.FAIL and x_case.metrics["num_failing_rows"] == 100
    assert all(c.features != ("z",) for c in cases)
    assert case_for(cases, "c").severity is Severity.LOW  # the model ignores c


def test_empty_string_and_capitalization() -> None:
    ref, cur = tabular_frame(400, 0), tabular_frame(400, 1)
    cur.loc[:59, "c"] = "  "
    cur.loc[60:119, "k"] = "NORTH"
    empty = run_one(make_context(ref, cur), "abnormal_inputs.empty_string")
    assert case_for(empty, "c").status is Status.FAIL and case_for(empty, "k").status is Status.PASS
    caps = run_one(make_context(ref, cur), "abnormal_inputs.capitalization")
    assert case_for(caps, "k").metrics["num_failing_rows"] == 60
    assert case_for(caps, "c").status is Status.PASS
    blank_ref = ref.assign(c="")
    assert all(
        c.features != ("c",)
        for c in run_one(make_context(blank_ref, cur), "abnormal_inputs.empty_string")
    )


def test_must_be_int_flags_an_int_column_written_as_strings() -> None:
    ref, cur = tabular_frame(300, 0), tabular_frame(300, 1)
    cur["i"] = cur["i"].astype(str)
    cur["x"] = cur["x"].astype(object)
    cur.loc[:9, "x"] = "oops"

    def i_model(frame: pd.DataFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(pd.to_numeric(frame["i"]).to_numpy() - 25) / 5))

    ctx = make_context(ref, cur, model=i_model)
    cases = run_one(ctx, "abnormal_inputs.must_be_int")
    i_case = case_for(cases, "i")
    assert i_case.status is Status.FAIL and i_case.severity is Severity.HIGH
    assert "'i'" in i_case.description
    floats = run_one(ctx, "abnormal_inputs.must_be_float")
    x_case = case_for(floats, "x")
    assert x_case.status is Status.WARNING and x_case.metrics["num_failing_rows"] == 10
    assert x_case.severity is Severity.LOW  # the model ignores x


def test_must_be_string_and_bool() -> None:
    ref = tabular_frame(200, 0).assign(flag=[True, False] * 100)
    cur = tabular_frame(200, 1).assign(flag=[1, 0] * 100)
    cur["c"] = cur["c"].astype(object)
    cur.loc[:49, "c"] = 7
    strings = case_for(run_one(make_context(ref, cur), "abnormal_inputs.must_be_string"), "c")
    assert strings.metrics["num_failing_rows"] == 50 and strings.status is Status.FAIL
    assert strings.severity is Severity.LOW  # c does not inform the label (fallback importance)
    flags = case_for(run_one(make_context(ref, cur), "abnormal_inputs.must_be_bool"), "flag")
    assert flags.metrics["num_failing_rows"] == 200
    [skip] = run_one(
        make_context(tabular_frame(20, 0), tabular_frame(20, 1)), "abnormal_inputs.must_be_bool"
    )
    assert skip.status is Status.SKIP


@pytest.mark.parametrize(
    ("values", "kind", "expected"),
    [
        ([1, 2, None], "int", [False, False, False]),
        ([1.0, 2.5, np.nan], "int", [False, True, False]),
        (["1", 2, None], "int", [True, False, False]),
        ([1, 2.5, "x"], "float", [False, False, True]),
        ([True, 1, None], "bool", [False, True, False]),
        (["a", 3, None], "str", [False, True, False]),
    ],
)
def test_type_violations(values: list[object], kind: str, expected: list[bool]) -> None:
    assert type_violations(pd.Series(values), kind).tolist() == expected


def test_inconsistencies_flags_pairs_never_seen_together() -> None:
    rng = np.random.default_rng(0)
    n = 600
    country = rng.choice(["fr", "de"], n)
    city = np.where(
        country == "fr", rng.choice(["paris", "lyon"], n), rng.choice(["berlin", "bonn"], n)
    )
    ref = pd.DataFrame(
        {"country": country, "city": city, "x": rng.normal(size=n), "y": rng.integers(0, 2, n)}
    )
    cur = ref.copy()
    ok = run_one(make_context(ref, cur), "abnormal_inputs.inconsistencies")
    assert [c.status for c in ok] == [Status.PASS]
    cur.loc[:79, ["country", "city"]] = ["fr", "berlin"]
    [bad] = run_one(make_context(ref, cur), "abnormal_inputs.inconsistencies")
    assert set(bad.features) == {"country", "city"}
    assert bad.metrics["num_failing_rows"] == 80 and bad.status is Status.FAIL


PLANTED = {
    "nulls": ("z", [np.nan] * 20),
    "out_of_range": ("z", [10.0] * 20),  # tabular_frame's z is standard normal
    "numeric_outliers": ("x", [1e6] * 20),
    "unseen_categorical": ("c", ["purple"] * 20),
    "empty_string": ("k", [""] * 20),
    "capitalization": ("k", ["NORTH"] * 20),
    "type": ("i", ["seven"] * 20),
}
"""For each kind of abnormal value: a feature of tabular_frame and values of that kind."""


def test_every_abnormality_has_a_planted_example() -> None:
    assert set(PLANTED) == set(ABNORMALITIES)


@pytest.mark.parametrize("abnormality", sorted(PLANTED))
def test_features_with_returns_the_feature_holding_such_values(abnormality: str) -> None:
    ref = tabular_frame(300, 0)
    feature, values = PLANTED[abnormality]
    clean = make_context(ref, ref.copy())  # eval values are exactly the reference values
    assert features_with(clean, abnormality) == frozenset()
    found = features_with(make_context(ref, planted(ref, feature, values)), abnormality)
    assert found == {feature}  # the untouched features are clean


def test_features_with_follows_the_reference_profile() -> None:
    ref, cur = tabular_frame(300, 0), tabular_frame(300, 1)
    ref.loc[:29, "z"] = np.nan  # nulls are expected in z: Null Check does not flag them
    cur.loc[:29, ["x", "z"]] = np.nan
    assert features_with(make_context(ref, cur), "nulls") == {"x"}


def test_out_of_range_p_value_is_the_binomial_test_against_two_over_n_plus_one() -> None:
    # Two samples of one distribution: with 50 reference values, each new value falls outside
    # their range with probability 2 / 51, so a few such values on 54 rows are sampling noise.
    ref, cur = tabular_frame(50, 3), tabular_frame(54, 4)
    cur.loc[:5, "x"] = ref["x"].max() + 0.01  # 6 of 54 just above the reference maximum
    case = case_for(
        run_one(make_context(ref, cur, model=x_model), "abnormal_inputs.out_of_range"), "x"
    )
    flagged = case.metrics["num_failing_rows"]
    expected = stats.binomtest(flagged, 54, 2 / 51, alternative="greater").pvalue
    assert case.metrics["expected_rate"] == pytest.approx(2 / 51)
    assert case.metrics["p_value"] == pytest.approx(expected)
    assert expected > 1e-3  # not significant at the default level over a run's cases
    planted_far = tabular_frame(500, 1)
    planted_far.loc[:59, "x"] = 40.0
    big = tabular_frame(500, 0)
    far = case_for(
        run_one(make_context(big, planted_far, model=x_model), "abnormal_inputs.out_of_range"), "x"
    )
    assert far.metrics["p_value"] < 1e-30


def test_unseen_categorical_expected_rate_is_good_turing() -> None:
    ref, cur = tabular_frame(200, 0), tabular_frame(200, 1)
    ref.loc[:2, "c"] = ["teal", "olive", "plum"]  # three values seen once
    cur.loc[:3, "c"] = "purple"
    case = case_for(run_one(make_context(ref, cur), "abnormal_inputs.unseen_categorical"), "c")
    assert case.metrics["expected_rate"] == pytest.approx((3 + 1) / (200 + 1))
    expected = stats.binomtest(4, 200, 4 / 201, alternative="greater").pvalue
    assert case.metrics["p_value"] == pytest.approx(expected)
