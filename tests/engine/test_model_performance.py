"""Model Performance tests: degradation of each metric from ref to eval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_helpers import make_context, run_one, tabular_frame, x_model
from scipy import stats as scipy_stats
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.evidence import apply_evidence
from pytest_rime.engine.metrics import metric_names
from pytest_rime.engine.results import Severity, Status, TestBatchResult, TestCaseResult
from pytest_rime.engine.tests.model_performance import CATEGORY
from pytest_rime.vocabulary import BINARY, MULTICLASS, REGRESSION, TABULAR


def _category_cases(ctx):
    return {
        spec.name: run_one(ctx, spec.test_id)
        for spec in all_tests(TABULAR)
        if spec.category == CATEGORY
    }


def _only(cases):
    assert len(cases) == 1, cases
    return cases[0]


def test_same_distribution_passes_and_statistics_match_sklearn() -> None:
    ref, cur = tabular_frame(800, 0), tabular_frame(800, 1)
    cases = _category_cases(make_context(ref, cur, model=x_model))
    ran = {name for name, found in cases.items() if found}
    assert ran == {"Calibration Comparison", *metric_names(BINARY)} - {"Calibration Error"}
    assert all(_only(found).severity is Severity.NONE for found in cases.values() if found)
    auc = _only(cases["AUC"])
    expected = skm.roc_auc_score(ref["y"], x_model(ref)) - skm.roc_auc_score(cur["y"], x_model(cur))
    assert auc.metrics["statistic"] == pytest.approx(expected)
    assert auc.metrics["degradation_kind"] == "absolute"
    assert auc.features == ()


def test_noisy_eval_labels_fail_high_on_accuracy_and_auc() -> None:
    ref, cur = tabular_frame(800, 0), tabular_frame(800, 1)
    cur["y"] = np.random.default_rng(5).integers(0, 2, len(cur))  # the model is now guessing
    cases = _category_cases(make_context(ref, cur, model=x_model))
    for name in ("Accuracy", "AUC", "F1", "Log Loss"):
        case = _only(cases[name])
        assert (case.status, case.severity) == (Status.FAIL, Severity.HIGH), case
        assert case.importance_score == 1.0
    ref_acc = skm.accuracy_score(ref["y"], x_model(ref) >= 0.5)
    eval_acc = skm.accuracy_score(cur["y"], x_model(cur) >= 0.5)
    accuracy = _only(cases["Accuracy"])
    assert accuracy.metrics["ref_metric"] == pytest.approx(ref_acc)
    assert accuracy.metrics["statistic"] == pytest.approx(ref_acc - eval_acc)
    log_loss = _only(cases["Log Loss"])
    ref_loss, eval_loss = skm.log_loss(ref["y"], x_model(ref)), skm.log_loss(cur["y"], x_model(cur))
    assert log_loss.metrics["degradation_kind"] == "relative"
    assert log_loss.metrics["statistic"] == pytest.approx((eval_loss - ref_loss) / ref_loss)


def test_improvement_is_a_negative_statistic_and_passes() -> None:
    ref, cur = tabular_frame(600, 0), tabular_frame(600, 1)
    ref["y"] = np.random.default_rng(3).integers(0, 2, len(ref))
    case = _only(run_one(make_context(ref, cur, model=x_model), "model_performance.auc"))
    assert case.metrics["statistic"] < 0
    assert case.status is Status.PASS


def test_single_class_eval_skips_auc_with_the_reason() -> None:
    ref, cur = tabular_frame(300, 0), tabular_frame(300, 1)
    cur["y"] = 1
    ctx = make_context(ref, cur, model=x_model)
    auc = _only(run_one(ctx, "model_performance.auc"))
    assert auc.status is Status.SKIP
    assert "AUC is not defined on the eval data" in auc.description
    fpr = _only(run_one(ctx, "model_performance.fpr"))
    assert fpr.status is Status.SKIP and "negatives" in fpr.description
    assert _only(run_one(ctx, "model_performance.recall")).status is not Status.SKIP


def test_no_predicted_positives_skips_precision() -> None:
    ref, cur = tabular_frame(300, 0), tabular_frame(300, 1)
    ctx = make_context(ref, cur, model=lambda frame: np.full(len(frame), 0.1))
    precision = _only(run_one(ctx, "model_performance.precision"))
    assert precision.status is Status.SKIP
    assert "predicted positives" in precision.description


def test_missing_eval_labels_or_predictions_skip_every_metric() -> None:
    ref, cur = tabular_frame(300, 0), tabular_frame(300, 1).drop(columns="y")
    for found in _category_cases(make_context(ref, cur, model=x_model)).values():
        assert [c.status for c in found] == [Status.SKIP]
        assert "label column" in found[0].description
    no_model = make_context(tabular_frame(300, 0), tabular_frame(300, 1))
    for found in _category_cases(no_model).values():
        assert [c.status for c in found] == [Status.SKIP]
        assert "predictions" in found[0].description


def test_calibration_comparison_reports_ece_increase_and_reliability_tables() -> None:
    ref, cur = tabular_frame(1000, 0), tabular_frame(1000, 1)

    ref_p = x_model(ref)
    eval_p = np.clip(x_model(cur) * 0.5 + 0.4, 0, 1)  # squashed towards 0.4-0.9: miscalibrated
    ctx = make_context(ref, cur, ref_predictions=ref_p, eval_predictions=eval_p)
    case = _only(run_one(ctx, "model_performance.calibration_comparison"))

    def ece(y: np.ndarray, p: np.ndarray) -> float:
        p = np.clip(p + 1e-9, 0, 1)  # off the bin edges
        prob_true, prob_pred = calibration_curve(y, p, n_bins=10)
        counts = np.histogram(p, bins=np.linspace(0, 1, 11))[0]
        counts = counts[counts > 0]
        return float(np.sum(counts / y.size * np.abs(prob_true - prob_pred)))

    expected = ece(cur["y"].to_numpy(), eval_p) - ece(ref["y"].to_numpy(), ref_p)
    assert case.metrics["statistic"] == pytest.approx(expected, abs=1e-6)
    assert case.severity is Severity.HIGH
    table = case.metrics["eval_reliability"]
    assert sum(row["count"] for row in table) == len(cur)
    assert {"lower", "upper", "mean_predicted", "fraction_positive"} <= set(table[0])
    assert case.metrics["ref_reliability"]


def _regression_frame(n: int, seed: int, noise: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    return pd.DataFrame(
        {"x": x, "c": rng.choice(["a", "b"], n), "y": 3 * x + 10 + rng.normal(0, noise, n)}
    )


def _linear(frame: pd.DataFrame) -> np.ndarray:
    return 3 * frame["x"].to_numpy() + 10


def test_regression_metrics_degrade_relative_to_ref() -> None:
    ref, cur = _regression_frame(500, 0, 0.5), _regression_frame(500, 1, 1.5)
    cases = _category_cases(make_context(ref, cur, model=_linear, model_task=REGRESSION))
    assert {name for name, found in cases.items() if found} == set(metric_names(REGRESSION))
    mae = _only(cases["MAE"])
    ref_mae = skm.mean_absolute_error(ref["y"], _linear(ref))
    eval_mae = skm.mean_absolute_error(cur["y"], _linear(cur))
    assert mae.metrics["statistic"] == pytest.approx((eval_mae - ref_mae) / ref_mae)
    assert mae.severity is Severity.HIGH
    r2 = _only(cases["R2"])
    expected = skm.r2_score(ref["y"], _linear(ref)) - skm.r2_score(cur["y"], _linear(cur))
    assert r2.metrics["statistic"] == pytest.approx(expected)


def test_constant_regression_target_skips_r2() -> None:
    ref, cur = _regression_frame(200, 0, 0.5), _regression_frame(200, 1, 0.5)
    cur["y"] = 10.0
    ctx = make_context(ref, cur, model=_linear, model_task=REGRESSION)
    r2 = _only(run_one(ctx, "model_performance.r2"))
    assert r2.status is Status.SKIP and "non-constant target" in r2.description


def test_multiclass_macro_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    classes = np.array(["a", "b", "c"])

    def frame(n: int, noise: float) -> pd.DataFrame:
        y = rng.choice(classes, n)
        x = (y[:, None] == classes[None, :]) * 2.0 + rng.normal(0, noise, (n, 3))
        return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "y": y})

    def softmax(df: pd.DataFrame) -> np.ndarray:
        z = np.exp(df[["x0", "x1", "x2"]].to_numpy())
        return z / z.sum(axis=1, keepdims=True)

    ref, cur = frame(600, 0.8), frame(600, 2.0)
    cases = _category_cases(make_context(ref, cur, model=softmax))
    assert {name for name, found in cases.items() if found} == set(metric_names(MULTICLASS))
    macro_f1 = _only(cases["Macro F1"])
    pred = {n: classes[np.argmax(softmax(f), axis=1)] for n, f in (("ref", ref), ("eval", cur))}
    expected = skm.f1_score(ref["y"], pred["ref"], average="macro") - skm.f1_score(
        cur["y"], pred["eval"], average="macro"
    )
    assert macro_f1.metrics["statistic"] == pytest.approx(expected)
    assert macro_f1.severity is Severity.HIGH
    auc = _only(cases["Multi-class AUC"])
    eval_auc = skm.roc_auc_score(cur["y"], softmax(cur), multi_class="ovr", labels=classes)
    assert auc.metrics["eval_metric"] == pytest.approx(eval_auc)


def test_thresholds_come_from_tests_config() -> None:
    ref, cur = tabular_frame(600, 0), tabular_frame(600, 1)
    strict = {"model_performance.auc": {"thresholds": [-1.0, -0.5, -0.1]}}
    ctx = make_context(ref, cur, model=x_model, tests_config=strict)
    case = _only(run_one(ctx, "model_performance.auc"))
    assert case.severity is Severity.HIGH
    assert case.metrics["thresholds"] == [-1.0, -0.5, -0.1]


# ------------------------------------------------------------------- evidence (p-values)
def _after_evidence(ctx, other_cases: int = 100) -> dict[str, TestCaseResult]:
    """Every case of the category after the run-level adjustment, by test name.

    ``other_cases`` unremarkable cases (p = 0.5) stand for the rest of a run, so the
    Benjamini-Hochberg adjustment is as strict as in a real run.
    """
    batches = [
        TestBatchResult(spec.test_id, spec.name, CATEGORY, "", 0, tuple(cases))
        for spec in all_tests(TABULAR)
        if spec.category == CATEGORY and (cases := run_one(ctx, spec.test_id))
    ]
    filler = TestCaseResult("drift.x", "X", "Drift", (), Status.PASS, Severity.NONE, 0.0, {}, "")
    filler = TestCaseResult(**{**filler.__dict__, "metrics": {"p_value": 0.5}})
    batches.append(TestBatchResult("drift.x", "X", "Drift", "", 0, (filler,) * other_cases))
    return {b.test_batch_type: b.cases[0] for b in apply_evidence(batches, 0.01)[:-1]}


def _serious(cases: dict[str, TestCaseResult]) -> dict[str, Severity]:
    return {
        name: case.severity
        for name, case in cases.items()
        if case.severity in (Severity.MEDIUM, Severity.HIGH)
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_small_split_has_p_values_and_nothing_serious(seed: int) -> None:
    ref, cur = tabular_frame(110, 2 * seed), tabular_frame(110, 2 * seed + 1)
    cases = _after_evidence(make_context(ref, cur, model=x_model))
    assert set(cases) == {"Calibration Comparison", *metric_names(BINARY)} - {"Calibration Error"}
    for case in cases.values():
        assert 0.0 <= case.metrics["p_value"] <= 1.0, case
        assert case.metrics["p_value_method"]
    assert _serious(cases) == {}


def test_real_degradation_has_tiny_p_values_and_stays_high() -> None:
    ref, cur = tabular_frame(800, 0), tabular_frame(800, 1)
    cur["y"] = np.random.default_rng(5).integers(0, 2, len(cur))  # the model is now guessing
    cases = _after_evidence(make_context(ref, cur, model=x_model))
    for name in ("Accuracy", "AUC", "F1", "Log Loss"):
        assert cases[name].metrics["p_value"] < 1e-10, cases[name].metrics
        assert cases[name].severity is Severity.HIGH
        assert "significant at 0.01" in cases[name].description


def test_rate_p_values_are_one_sided_fisher_exact_tests() -> None:
    ref, cur = tabular_frame(300, 0), tabular_frame(250, 1)
    cur["y"] = np.where(np.random.default_rng(2).random(250) < 0.15, 1 - cur["y"], cur["y"])
    ctx = make_context(ref, cur, model=x_model)
    accuracy = _only(run_one(ctx, "model_performance.accuracy"))
    fpr = _only(run_one(ctx, "model_performance.fpr"))
    correct = {n: (x_model(f) >= 0.5) == f["y"] for n, f in (("ref", ref), ("eval", cur))}
    table = [[int(c.sum()), int((~c).sum())] for c in correct.values()]
    expected = scipy_stats.fisher_exact(table, alternative="greater").pvalue
    assert accuracy.metrics["p_value"] == pytest.approx(expected)
    assert accuracy.metrics["p_value_method"] == "Fisher exact (one-sided)"
    false_pos = [
        [
            int(((x_model(f) >= 0.5) & (f["y"] == 0)).sum()),
            int(((x_model(f) < 0.5) & (f["y"] == 0)).sum()),
        ]
        for f in (ref, cur)
    ]
    expected_fpr = scipy_stats.fisher_exact(false_pos, alternative="less").pvalue
    assert fpr.metrics["p_value"] == pytest.approx(expected_fpr)


def test_improvement_has_a_large_p_value() -> None:
    ref, cur = tabular_frame(600, 0), tabular_frame(600, 1)
    ref["y"] = np.random.default_rng(3).integers(0, 2, len(ref))
    cases = _after_evidence(make_context(ref, cur, model=x_model))
    assert all(case.metrics["p_value"] > 0.5 for case in cases.values())


def _heavy_tailed(n: int, seed: int) -> pd.DataFrame:
    """A target spanning four orders of magnitude (a few stars dominate squared errors)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    return pd.DataFrame({"x": x, "y": np.exp(2 * x + rng.normal(0, 1, n) + 8)})


def _log_linear(frame: pd.DataFrame) -> np.ndarray:
    return np.exp(2 * frame["x"].to_numpy() + 8.5)


@pytest.mark.parametrize("seed", range(6))
def test_heavy_tailed_target_on_a_clean_split_is_not_serious(seed: int) -> None:
    frame = _heavy_tailed(300, seed)
    ref, cur = frame.iloc[:150].reset_index(drop=True), frame.iloc[150:].reset_index(drop=True)
    ctx = make_context(ref, cur, model=_log_linear, model_task=REGRESSION)
    assert _serious(_after_evidence(ctx)) == {}


def test_heavy_tailed_target_with_a_real_degradation_stays_high() -> None:
    def frame(seed: int, noise: float) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        x = rng.normal(0, 1, 1000)  # the target spans about four orders of magnitude
        return pd.DataFrame({"x": x, "y": np.exp(1.3 * x + 10 + rng.normal(0, noise, 1000))})

    ref, cur = frame(0, 0.3), frame(1, 0.6)  # the model's relative error doubles on eval
    predicted = {n: np.exp(1.3 * f["x"].to_numpy() + 10) for n, f in (("ref", ref), ("eval", cur))}
    ctx = make_context(
        ref,
        cur,
        ref_predictions=predicted["ref"],
        eval_predictions=predicted["eval"],
        model_task=REGRESSION,
    )
    cases = _after_evidence(ctx)
    for name in ("MAE", "MAPE"):
        assert cases[name].severity is Severity.HIGH, cases[name].description
        assert cases[name].metrics["p_value"] < 1e-6
    # squared errors are dominated by a few rows: a 4x MSE is only suggestive here
    assert cases["MSE"].metrics["statistic"] > 1.0
    assert cases["MSE"].metrics["p_value"] < 0.05


def test_multiclass_log_loss_with_confident_mistakes_on_104_rows_is_not_serious() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 208)
    probabilities = np.full((208, 3), 0.05)
    probabilities[np.arange(208), y] = 0.9
    wrong = rng.random(208) < 0.04  # a few confident mistakes: log loss terms of ~3
    probabilities[wrong] = np.roll(probabilities[wrong], 1, axis=1)
    frame = pd.DataFrame({"x": rng.normal(size=208), "y": y})
    ctx = make_context(
        frame.iloc[:104],
        frame.iloc[104:],
        ref_predictions=probabilities[:104],
        eval_predictions=probabilities[104:],
        model_task=MULTICLASS,
    )
    cases = _after_evidence(ctx)
    assert cases["Multi-class Log Loss"].metrics["p_value_method"].startswith("random splits")
    assert _serious(cases) == {}


def test_p_values_on_tiny_and_one_class_samples() -> None:
    ref, cur = tabular_frame(6, 0), tabular_frame(5, 1)
    cases = _after_evidence(make_context(ref, cur, model=x_model))
    for case in cases.values():
        if case.status is not Status.SKIP:
            assert 0.0 <= case.metrics["p_value"] <= 1.0
    assert _serious(cases) == {}
    one_class = tabular_frame(300, 1).assign(y=1)
    cases = _after_evidence(make_context(tabular_frame(300, 0), one_class, model=x_model))
    assert cases["AUC"].status is Status.SKIP and "p_value" not in cases["AUC"].metrics
    assert 0.0 <= cases["Recall"].metrics["p_value"] <= 1.0


def test_random_splits_are_seeded() -> None:
    ref, cur = tabular_frame(200, 0), tabular_frame(200, 1)
    first = _only(run_one(make_context(ref, cur, model=x_model), "model_performance.auc"))
    again = _only(run_one(make_context(ref, cur, model=x_model), "model_performance.auc"))
    assert first.metrics["p_value"] == again.metrics["p_value"]


def test_large_data_null_is_close_to_the_full_randomisation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above NULL_POOL_ROWS: closed-form spread or a scaled sample, close to all-row splits."""
    from pytest_rime.engine.tests import model_performance

    ref, cur = tabular_frame(3000, 0), tabular_frame(3000, 1)
    cur["y"] = np.where(np.random.default_rng(9).random(3000) < 0.04, 1 - cur["y"], cur["y"])
    full = _after_evidence(make_context(ref, cur, model=x_model))
    monkeypatch.setattr(model_performance, "NULL_POOL_ROWS", 2000)
    fast = _after_evidence(make_context(ref, cur, model=x_model))
    for name in ("AUC", "F1", "Log Loss", "Calibration Comparison"):
        method = fast[name].metrics["p_value_method"]
        assert ("closed-form" in method) == (name == "Log Loss"), method
        assert "2000 sampled" in method or name == "Log Loss", method
        z_full = scipy_stats.norm.isf(full[name].metrics["p_value"])
        z_fast = scipy_stats.norm.isf(fast[name].metrics["p_value"])
        assert z_fast == pytest.approx(z_full, abs=0.35 * max(1.0, abs(z_full))), name


@pytest.mark.parametrize("seed", [0, 1])
def test_large_data_clean_split_is_not_serious(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_rime.engine.tests import model_performance

    monkeypatch.setattr(model_performance, "NULL_POOL_ROWS", 500)
    ref, cur = tabular_frame(1500, 2 * seed), tabular_frame(1500, 2 * seed + 1)
    assert _serious(_after_evidence(make_context(ref, cur, model=x_model))) == {}
    frame = _heavy_tailed(3000, seed)
    ref, cur = frame.iloc[:1500].reset_index(drop=True), frame.iloc[1500:].reset_index(drop=True)
    ctx = make_context(ref, cur, model=_log_linear, model_task=REGRESSION)
    cases = _after_evidence(ctx)
    assert "closed-form" in cases["MSE"].metrics["p_value_method"]
    assert _serious(cases) == {}
