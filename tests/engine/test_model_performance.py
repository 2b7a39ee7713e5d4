"""Model Performance tests: degradation of each metric from ref to eval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_helpers import make_context, run_one, tabular_frame, x_model
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from pytest_rime.engine.context import BINARY, MULTICLASS, REGRESSION
from pytest_rime.engine.metrics import metric_names
from pytest_rime.engine.registry import all_tests
from pytest_rime.engine.results import Severity, Status
from pytest_rime.engine.tests.model_performance import CATEGORY


def _category_cases(ctx):
    return {
        spec.name: run_one(ctx, spec.test_id) for spec in all_tests() if spec.category == CATEGORY
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
