"""Drift tests: pass, fail and edge cases, statistics checked with scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_helpers import case_for, make_context, run_one, statuses, tabular_frame, x_model
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.evidence import apply_evidence
from pytest_rime.engine.results import Severity, Status, TestBatchResult, TestCaseResult
from pytest_rime.engine.stats import PERMUTATIONS
from pytest_rime.vocabulary import TABULAR


def test_feature_drift_passes_on_same_distribution(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    ref, cur = frames
    cases = run_one(make_context(ref, cur, model=x_model), "drift.feature_drift")
    assert {c.features for c in cases} == {("x",), ("z",), ("i",), ("c",), ("k",)}
    assert statuses(cases) == {Status.PASS}


def test_feature_drift_severity_follows_importance() -> None:
    ref, cur = tabular_frame(800, 0), tabular_frame(800, 1, shift=1.5)
    cur["z"] = cur["z"] + 1.5  # same shift on a feature the model ignores
    cases = run_one(make_context(ref, cur, model=x_model), "drift.feature_drift")
    x_case, z_case = case_for(cases, "x"), case_for(cases, "z")
    assert x_case.status is Status.FAIL and z_case.status is Status.FAIL
    assert x_case.severity is Severity.HIGH and x_case.importance_score == 1.0
    assert z_case.severity is Severity.LOW and z_case.importance_score == 0.0


def test_feature_drift_ks_matches_scipy() -> None:
    ref, cur = tabular_frame(500, 0), tabular_frame(400, 1, shift=0.4)
    cur.loc[:20, "x"] = np.nan
    ctx = make_context(ref, cur, tests_config={"drift.feature_drift": {"numeric_statistic": "ks"}})
    x_case = case_for(run_one(ctx, "drift.feature_drift"), "x")
    expected = scipy_stats.ks_2samp(ref["x"], cur["x"].dropna()).statistic
    assert x_case.metrics["ks"] == pytest.approx(expected)
    assert x_case.metrics["statistic_name"] == "ks"


def test_categorical_statistics_match_scipy() -> None:
    ref, cur = tabular_frame(500, 0), tabular_frame(500, 1)
    cur.loc[:150, "c"] = "red"
    ref_counts = ref["c"].value_counts()
    eval_counts = cur["c"].value_counts().reindex(ref_counts.index, fill_value=0)
    table = np.vstack([ref_counts.to_numpy(), eval_counts.to_numpy()])
    for stat, expected in (
        ("js", jensenshannon(table[0], table[1], base=2)),
        ("chi2", scipy_stats.contingency.association(table, method="cramer")),
    ):
        config = {"drift.feature_drift": {"categorical_statistic": stat}}
        c_case = case_for(
            run_one(make_context(ref, cur, tests_config=config), "drift.feature_drift"), "c"
        )
        assert c_case.metrics[stat] == pytest.approx(expected)
    psi_case = case_for(run_one(make_context(ref, cur), "drift.feature_drift"), "c")
    p, q = table[0] / table[0].sum(), table[1] / table[1].sum()
    assert psi_case.metrics["psi"] == pytest.approx(
        scipy_stats.entropy(p, q) + scipy_stats.entropy(q, p)
    )


def test_feature_drift_edge_cases() -> None:
    ref, cur = tabular_frame(200, 0), tabular_frame(200, 1)
    cur["x"] = np.nan
    ref["z"] = 3.0
    cur["z"] = 3.0
    cases = run_one(make_context(ref, cur.drop(columns="k")), "drift.feature_drift")
    assert case_for(cases, "x").status is Status.SKIP
    assert case_for(cases, "z").status is Status.PASS  # constant column: no drift
    assert case_for(cases, "k").status is Status.SKIP
    empty = run_one(make_context(ref, cur.iloc[:0]), "drift.feature_drift")
    assert statuses(empty) == {Status.SKIP}


def test_label_drift() -> None:
    ref, cur = tabular_frame(600, 0), tabular_frame(600, 1)
    [ok] = run_one(make_context(ref, cur), "drift.label_drift")
    assert ok.status is Status.PASS
    [bad] = run_one(make_context(ref, cur.assign(y=1)), "drift.label_drift")
    assert bad.status is Status.FAIL and bad.severity is Severity.HIGH
    [skip] = run_one(make_context(ref, cur.drop(columns="y")), "drift.label_drift")
    assert skip.status is Status.SKIP and "label" in skip.description
    regression = ref.assign(y=ref["x"] * 2.5)
    [reg] = run_one(make_context(regression, cur.assign(y=cur["x"] * 2.5 + 3)), "drift.label_drift")
    assert reg.status is Status.FAIL


def test_prediction_drift() -> None:
    ref = tabular_frame(600, 0)
    [ok] = run_one(
        make_context(ref, tabular_frame(600, 1), model=x_model), "drift.prediction_drift"
    )
    assert ok.status is Status.PASS
    [bad] = run_one(
        make_context(ref, tabular_frame(600, 1, shift=2.0), model=x_model), "drift.prediction_drift"
    )
    assert bad.severity is Severity.HIGH and bad.importance_score == 1.0
    [skip] = run_one(make_context(ref, ref), "drift.prediction_drift")
    assert skip.status is Status.SKIP


def test_prediction_drift_multiclass_uses_predicted_classes() -> None:
    ref = pd.DataFrame({"x": np.arange(90.0), "y": ["a", "b", "c"] * 30})
    probs = np.eye(3)[[0, 1, 2] * 30]
    ctx = make_context(ref, ref, ref_predictions=probs, eval_predictions=np.eye(3)[[0] * 90])
    [case] = run_one(ctx, "drift.prediction_drift")
    assert case.status is Status.FAIL


def test_nulls_per_feature_drift() -> None:
    ref, cur = tabular_frame(400, 0), tabular_frame(400, 1)
    cur.loc[:99, "x"] = np.nan
    cur.loc[:99, "z"] = np.nan
    cases = run_one(make_context(ref, cur, model=x_model), "drift.nulls_per_feature_drift")
    x_case = case_for(cases, "x")
    assert x_case.metrics["statistic"] == pytest.approx(0.25)
    assert x_case.severity is Severity.HIGH
    assert case_for(cases, "z").severity is Severity.LOW
    assert case_for(cases, "c").status is Status.PASS
    all_null = run_one(
        make_context(ref.assign(x=np.nan), cur.assign(x=np.nan)), "drift.nulls_per_feature_drift"
    )
    assert case_for(all_null, "x").status is Status.PASS


def test_correlation_drift_matches_scipy() -> None:
    ref, cur = tabular_frame(500, 0), tabular_frame(500, 1)
    cur["y"] = cur["y"].sample(frac=1.0, random_state=0).to_numpy()  # break x -> y in eval
    cases = run_one(make_context(ref, cur, model=x_model), "drift.correlation_drift")
    x_case = case_for(cases, "x")
    expected_ref = scipy_stats.pearsonr(ref["x"], ref["y"]).statistic
    expected_eval = scipy_stats.pearsonr(cur["x"], cur["y"]).statistic
    assert x_case.metrics["ref_correlation"] == pytest.approx(expected_ref)
    assert x_case.metrics["eval_correlation"] == pytest.approx(expected_eval)
    assert x_case.severity is Severity.HIGH
    assert case_for(cases, "z").status is Status.PASS
    assert all(c.features != ("c",) for c in cases)  # categorical features are not correlated


def test_correlation_drift_edge_cases() -> None:
    ref, cur = tabular_frame(100, 0), tabular_frame(100, 1)
    const = run_one(make_context(ref.assign(z=1.0), cur), "drift.correlation_drift")
    assert case_for(const, "z").status is Status.SKIP
    single = run_one(make_context(ref, cur.assign(y=1)), "drift.correlation_drift")
    assert case_for(single, "x").status is Status.SKIP
    multi = pd.DataFrame({"x": np.arange(30.0), "y": ["a", "b", "c"] * 10})
    [skip] = run_one(make_context(multi, multi), "drift.correlation_drift")
    assert skip.status is Status.SKIP


# ------------------------------------------------------------------- evidence (p-values)
def _drift_after_evidence(ctx) -> list[TestCaseResult]:
    """Every Drift case of ``ctx`` after the run-level Benjamini-Hochberg adjustment."""
    batches = [
        TestBatchResult(spec.test_id, spec.name, "Drift", "", 0, tuple(run_one(ctx, spec.test_id)))
        for spec in all_tests(TABULAR)
        if spec.category == "Drift"
    ]
    return [case for batch in apply_evidence(batches, 0.01) for case in batch.cases]


def _decile_table(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Counts in the bins ``(-inf, q1], (q1, q2], ..., (q9, inf)`` of the ref deciles."""
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)[1:-1]))
    return np.vstack(
        [
            np.bincount(np.searchsorted(edges, v, side="left"), minlength=edges.size + 1)
            for v in (ref, cur)
        ]
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_110_row_split_has_p_values_and_nothing_serious(seed: int) -> None:
    ref, cur = tabular_frame(110, 2 * seed), tabular_frame(110, 2 * seed + 1)
    cases = _drift_after_evidence(make_context(ref, cur, model=x_model))
    tested = [c for c in cases if c.status is not Status.SKIP]
    assert len(tested) > 10
    for case in tested:
        assert 0.0 <= case.metrics["p_value"] <= 1.0, case
        assert case.metrics["p_value_method"]
    assert [c for c in cases if c.severity in (Severity.MEDIUM, Severity.HIGH)] == []


@pytest.mark.parametrize(
    ("shift", "level"), [(0.4, Severity.MEDIUM), (0.5, Severity.HIGH), (0.75, Severity.HIGH)]
)
def test_shift_of_the_most_important_feature_at_1000_rows_keeps_its_level(
    shift: float, level: Severity
) -> None:
    """Evidence never lowers a real shift of the feature or of the predictions.

    0.4 sd of a normal feature is PSI about 0.16 (MEDIUM by the thresholds), 0.5 sd is PSI 0.25
    (HIGH, the edge of detectability the gate must catch); all have a p-value far below any
    adjusted level.
    """
    ref, cur = tabular_frame(1000, 0), tabular_frame(1000, 1)
    cur["x"] = cur["x"] + shift
    cases = _drift_after_evidence(make_context(ref, cur, model=x_model))
    feature = next(c for c in cases if c.test_id == "drift.feature_drift" and c.features == ("x",))
    assert feature.metrics["p_value"] < 1e-10
    assert feature.severity is level, feature.description
    assert "significant at 0.01" in feature.description
    prediction = next(c for c in cases if c.test_id == "drift.prediction_drift")
    assert prediction.severity is level and prediction.metrics["p_value"] < 1e-10


def test_feature_drift_p_value_is_chi_squared_on_the_psi_bins() -> None:
    ref, cur = tabular_frame(500, 0), tabular_frame(400, 1, shift=0.2)
    case = case_for(run_one(make_context(ref, cur), "drift.feature_drift"), "x")
    table = _decile_table(ref["x"].to_numpy(), cur["x"].to_numpy())
    expected = scipy_stats.chi2_contingency(table, correction=False).pvalue
    assert case.metrics["p_value"] == pytest.approx(expected)
    assert case.metrics["p_value_method"] == "chi-squared"
    c_case = case_for(run_one(make_context(ref, cur), "drift.feature_drift"), "c")
    counts = pd.concat([ref["c"].value_counts(), cur["c"].value_counts()], axis=1).fillna(0)
    expected_c = scipy_stats.chi2_contingency(counts.to_numpy().T, correction=False).pvalue
    assert c_case.metrics["p_value"] == pytest.approx(expected_c)


def test_ks_statistic_gets_the_ks_p_value() -> None:
    ref, cur = tabular_frame(500, 0), tabular_frame(400, 1, shift=0.15)
    ctx = make_context(ref, cur, tests_config={"drift.feature_drift": {"numeric_statistic": "ks"}})
    case = case_for(run_one(ctx, "drift.feature_drift"), "x")
    expected = scipy_stats.ks_2samp(ref["x"], cur["x"], method="asymp").pvalue
    assert case.metrics["p_value"] == pytest.approx(expected)
    assert case.metrics["p_value_method"] == "Kolmogorov-Smirnov"


def test_nulls_drift_p_value_is_fisher_exact() -> None:
    ref, cur = tabular_frame(400, 0), tabular_frame(300, 1)
    ref.loc[:3, "z"] = np.nan
    cur.loc[:14, "z"] = np.nan
    case = case_for(run_one(make_context(ref, cur), "drift.nulls_per_feature_drift"), "z")
    expected = scipy_stats.fisher_exact([[4, 396], [15, 285]]).pvalue
    assert case.metrics["p_value"] == pytest.approx(expected)
    clean = case_for(run_one(make_context(ref, cur), "drift.nulls_per_feature_drift"), "x")
    assert clean.metrics["p_value"] == 1.0


def test_correlation_drift_p_value_is_a_fisher_z_test() -> None:
    ref, cur = tabular_frame(500, 0), tabular_frame(500, 1)
    cur["y"] = cur["y"].sample(frac=1.0, random_state=0).to_numpy()  # break x -> y in eval
    cases = run_one(make_context(ref, cur, model=x_model), "drift.correlation_drift")
    x_case, z_case = case_for(cases, "x"), case_for(cases, "z")
    r_ref, r_eval = x_case.metrics["ref_correlation"], x_case.metrics["eval_correlation"]
    fisher = 2 * scipy_stats.norm.sf(abs(np.arctanh(r_ref) - np.arctanh(r_eval)) / np.sqrt(2 / 497))
    assert fisher * (1 - 1e-9) <= x_case.metrics["p_value"] < 1e-10
    assert z_case.metrics["p_value"] > 0.01


def test_tiny_samples_and_constant_columns() -> None:
    ref, cur = tabular_frame(6, 0), tabular_frame(6, 1, shift=5.0)
    ctx = make_context(ref.assign(z=2.0), cur.assign(z=2.0), model=x_model)
    cases = _drift_after_evidence(ctx)
    x_case = next(c for c in cases if c.test_id == "drift.feature_drift" and c.features == ("x",))
    assert x_case.metrics["p_value_method"] == "permutation"
    assert x_case.metrics["p_value"] >= 1 / (PERMUTATIONS + 1)
    z_case = next(c for c in cases if c.test_id == "drift.feature_drift" and c.features == ("z",))
    assert z_case.status is Status.PASS and z_case.metrics["p_value"] == 1.0
    assert [c for c in cases if c.severity in (Severity.MEDIUM, Severity.HIGH)] == []
