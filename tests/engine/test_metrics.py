"""Model metrics: every metric against scikit-learn on random data, plus the edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_helpers import make_context, tabular_frame, x_model
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from pytest_rime.engine.metrics import (
    MetricInputs,
    all_metrics,
    compute_metrics,
    expected_calibration_error,
    metric_names,
    prepare,
    reliability_table,
    task_metrics,
)
from pytest_rime.engine.performance import model_perf
from pytest_rime.vocabulary import BINARY, MULTICLASS, REGRESSION

SEEDS = [0, 1, 2]


def _binary_data(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    # informative, with ties (rounded) so the rank-average path of AUC is exercised
    p = np.clip(np.round(0.3 * y + 0.7 * rng.random(n), 2), 0.0, 1.0)
    return y, p


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_metrics_match_sklearn(seed: int) -> None:
    y, p = _binary_data(seed)
    pred = (p >= 0.5).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    got = compute_metrics(BINARY, y, p)
    expected = {
        "Accuracy": skm.accuracy_score(y, pred),
        "AUC": skm.roc_auc_score(y, p),
        "F1": skm.f1_score(y, pred),
        "Precision": skm.precision_score(y, pred),
        "Recall": skm.recall_score(y, pred),
        "FPR": fp / (fp + tn),
        "FNR": fn / (fn + tp),
        "Log Loss": skm.log_loss(y, p),
    }
    assert set(got) == set(metric_names(BINARY))
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("seed", SEEDS)
def test_calibration_matches_sklearn_calibration_curve(seed: int) -> None:
    y, p = _binary_data(seed)
    p = np.clip(p + 0.001, 0, 1)  # move values off the bin edges: edge placement is float noise
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    table = reliability_table(y.astype(bool), p)
    assert [b.fraction_positive for b in table] == pytest.approx(prob_true)
    assert [b.mean_predicted for b in table] == pytest.approx(prob_pred)
    counts = np.array([b.count for b in table])
    assert counts.sum() == y.size
    ece = np.sum(counts / y.size * np.abs(prob_true - prob_pred))
    assert expected_calibration_error(y.astype(bool), p) == pytest.approx(ece)
    assert compute_metrics(BINARY, y, p)["Calibration Error"] == pytest.approx(ece)


def test_perfectly_calibrated_bins_have_no_calibration_error() -> None:
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    p = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])
    assert expected_calibration_error(y.astype(bool), p) == pytest.approx(0.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_multiclass_metrics_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, classes = 400, np.array(["a", "b", "c", "d"])
    y = rng.choice(classes, n)
    logits = rng.normal(size=(n, 4)) + 1.5 * (y[:, None] == classes[None, :])
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = classes[np.argmax(proba, axis=1)]
    got = compute_metrics(MULTICLASS, y, proba, classes=list(classes))
    expected = {
        "Accuracy": skm.accuracy_score(y, pred),
        "Multi-class AUC": skm.roc_auc_score(
            y, proba, multi_class="ovr", average="macro", labels=classes
        ),
        "Macro F1": skm.f1_score(y, pred, average="macro"),
        "Macro Precision": skm.precision_score(y, pred, average="macro", zero_division=0),
        "Macro Recall": skm.recall_score(y, pred, average="macro"),
        "Multi-class Log Loss": skm.log_loss(y, proba, labels=classes),
    }
    assert set(got) == set(metric_names(MULTICLASS))
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-9), name


def test_macro_metrics_with_a_class_never_predicted_match_sklearn_zero_division() -> None:
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 1, 1, 0, 1])  # class 2 is never predicted
    got = compute_metrics(MULTICLASS, y, pred)
    for name, fn in [
        ("Macro F1", skm.f1_score),
        ("Macro Precision", skm.precision_score),
        ("Macro Recall", skm.recall_score),
    ]:
        assert got[name] == pytest.approx(fn(y, pred, average="macro", zero_division=0)), name
    # label predictions: the probability metrics are undefined, not a crash
    assert got["Multi-class AUC"] is None
    assert got["Multi-class Log Loss"] is None


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_metrics_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, 250)
    p = y + rng.normal(0, 1.5, 250)
    got = compute_metrics(REGRESSION, y, p)
    expected = {
        "MAE": skm.mean_absolute_error(y, p),
        "MSE": skm.mean_squared_error(y, p),
        "RMSE": np.sqrt(skm.mean_squared_error(y, p)),
        "MAPE": skm.mean_absolute_percentage_error(y, p),
        "R2": skm.r2_score(y, p),
    }
    assert set(got) == set(metric_names(REGRESSION))
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-9), name


def test_mape_ignores_zero_targets() -> None:
    y = np.array([0.0, 2.0, 4.0, 0.0])
    p = np.array([5.0, 1.0, 5.0, -1.0])
    nonzero = y != 0
    expected = skm.mean_absolute_percentage_error(y[nonzero], p[nonzero])
    assert compute_metrics(REGRESSION, y, p)["MAPE"] == pytest.approx(expected)
    assert compute_metrics(REGRESSION, np.zeros(3), np.ones(3))["MAPE"] is None


def test_string_labels_use_the_last_class_as_positive() -> None:
    y = np.array(["no", "yes", "yes", "no", "yes"])
    p = np.array([0.2, 0.9, 0.4, 0.6, 0.7])
    got = compute_metrics(BINARY, y, p, classes=["no", "yes"])
    y01 = (y == "yes").astype(int)
    assert got["AUC"] == pytest.approx(skm.roc_auc_score(y01, p))
    assert got["Recall"] == pytest.approx(skm.recall_score(y01, p >= 0.5))


def test_decision_threshold_moves_the_predicted_labels() -> None:
    y, p = _binary_data(0)
    strict = compute_metrics(BINARY, y, p, threshold=0.8)
    assert strict["Recall"] == pytest.approx(skm.recall_score(y, p >= 0.8))
    assert strict["AUC"] == compute_metrics(BINARY, y, p)["AUC"]


def test_rows_with_missing_labels_or_predictions_are_dropped() -> None:
    y = pd.Series([1, 0, None, 1, 0, 1], dtype="Float64").to_numpy(dtype=object, na_value=None)
    p = np.array([0.9, 0.1, 0.5, np.nan, 0.8, 0.7])
    got = compute_metrics(BINARY, y, p)
    keep = [0, 1, 4, 5]
    y_kept = np.array([1, 0, 0, 1])
    assert got["AUC"] == pytest.approx(skm.roc_auc_score(y_kept, p[keep]))
    assert got["Accuracy"] == pytest.approx(skm.accuracy_score(y_kept, p[keep] >= 0.5))


@pytest.mark.parametrize("task", [BINARY, MULTICLASS, REGRESSION])
def test_empty_input_gives_none_for_every_metric(task: str) -> None:
    predictions = np.empty((0, 3)) if task == MULTICLASS else np.empty(0)
    got = compute_metrics(task, np.empty(0), predictions, classes=["a", "b", "c"])
    assert got == dict.fromkeys(metric_names(task))


def test_single_class_gives_none_where_undefined() -> None:
    y = np.ones(20, dtype=int)
    p = np.linspace(0.6, 0.99, 20)
    got = compute_metrics(BINARY, y, p, classes=[0, 1])
    assert got["AUC"] is None
    assert got["FPR"] is None  # no negatives
    assert got["Recall"] == 1.0
    assert got["Log Loss"] == pytest.approx(skm.log_loss(y, p, labels=[0, 1]))
    assert compute_metrics(BINARY, np.zeros(5, int), np.zeros(5))["Precision"] is None


def test_constant_target_gives_no_r2() -> None:
    got = compute_metrics(REGRESSION, np.full(10, 3.0), np.linspace(0, 1, 10))
    assert got["R2"] is None
    assert got["MAE"] == pytest.approx(
        skm.mean_absolute_error(np.full(10, 3.0), np.linspace(0, 1, 10))
    )


def test_mismatched_lengths_and_columns_are_rejected_with_a_reason() -> None:
    with pytest.raises(ValueError, match="3 predictions for 2 labels"):
        compute_metrics(BINARY, [0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="2 columns for 3 classes"):
        compute_metrics(MULTICLASS, [0, 1, 2], np.full((3, 2), 0.5), classes=[0, 1, 2])


def test_degradation_is_signed_so_that_worse_is_positive() -> None:
    by_name = {m.name: m for m in all_metrics()}
    assert by_name["AUC"].degradation(0.9, 0.8) == pytest.approx(0.1)
    assert by_name["AUC"].degradation(0.8, 0.9) == pytest.approx(-0.1)
    assert by_name["FPR"].degradation(0.1, 0.3) == pytest.approx(0.2)
    assert by_name["MAE"].degradation(2.0, 3.0) == pytest.approx(0.5)  # relative
    assert by_name["R2"].degradation(0.9, 0.6) == pytest.approx(0.3)  # absolute
    assert by_name["MSE"].degradation(0.0, 0.0) == 0.0
    assert by_name["MSE"].degradation(0.0, 1.0) == float("inf")


def test_every_task_lists_its_metrics_once() -> None:
    for task in (BINARY, MULTICLASS, REGRESSION):
        names = metric_names(task)
        assert len(names) == len(set(names)) > 0
        assert [m.name for m in task_metrics(task)] == list(names)
    assert task_metrics("Ranking") == ()


def test_model_perf_reports_ref_and_eval_for_every_metric_of_the_task() -> None:
    ref, cur = tabular_frame(400, 0), tabular_frame(400, 1)
    ctx = make_context(ref, cur, model=x_model)
    perf = {p.name: p for p in model_perf(ctx)}
    assert list(perf) == list(metric_names(BINARY))
    expected_ref = skm.roc_auc_score(ref["y"], x_model(ref))
    expected_eval = skm.roc_auc_score(cur["y"], x_model(cur))
    assert perf["AUC"].ref_metric == pytest.approx(expected_ref)
    assert perf["AUC"].eval_metric == pytest.approx(expected_eval)


def test_model_perf_without_eval_labels_keeps_the_ref_values() -> None:
    ref, cur = tabular_frame(200, 0), tabular_frame(200, 1).drop(columns="y")
    perf = model_perf(make_context(ref, cur, model=x_model))
    assert all(p.ref_metric is not None and p.eval_metric is None for p in perf)


# ------------------------------------------------------- significance: counts and resamples
def _task_inputs(task: str, seed: int, n: int = 120) -> MetricInputs:
    """Random labels and informative predictions of ``task`` (with ties and a zero target)."""
    rng = np.random.default_rng(seed)
    if task == BINARY:
        y = rng.integers(0, 2, n)
        return prepare(task, y, np.clip(np.round(0.4 * y + 0.6 * rng.random(n), 1), 0, 1))
    if task == MULTICLASS:
        y = rng.integers(0, 4, n)
        logits = rng.normal(size=(n, 4)) + 2 * np.eye(4)[y]
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return prepare(task, y, probabilities, classes=[0, 1, 2, 3])
    y = rng.lognormal(3, 1.5, n)
    y[0] = 0.0
    return prepare(task, y, y * rng.lognormal(0, 0.3, n))


def _resampled(task: str) -> list[pytest.param]:
    return [pytest.param(task, m, id=m.slug) for m in task_metrics(task) if m.resample is not None]


@pytest.mark.parametrize(
    ("task", "metric"), [p for task in (BINARY, MULTICLASS, REGRESSION) for p in _resampled(task)]
)
def test_resampled_metric_is_the_metric_of_the_weighted_rows(task: str, metric) -> None:
    inputs = _task_inputs(task, 0)
    rng = np.random.default_rng(1)
    counts = np.vstack([np.ones(inputs.size), rng.integers(0, 3, (3, inputs.size))])
    values = metric.resample(inputs, counts.astype(float))
    assert values[0] == pytest.approx(metric.compute(inputs))
    for weights, value in zip(counts[1:], values[1:], strict=True):
        repeated = inputs.subset(np.repeat(np.arange(inputs.size), weights.astype(int)))
        assert value == pytest.approx(metric.compute(repeated)), metric.name


def test_every_metric_has_one_significance_test() -> None:
    for metric in all_metrics():
        assert (metric.rate_counts is None) != (metric.resample is None), metric.name


@pytest.mark.parametrize("task", [BINARY, MULTICLASS])
def test_rate_counts_give_the_metric(task: str) -> None:
    inputs = _task_inputs(task, 2)
    for metric in task_metrics(task):
        if metric.rate_counts is not None:
            hits, rows = metric.rate_counts(inputs)
            assert hits / rows == pytest.approx(metric.compute(inputs)), metric.name


def test_resampled_metrics_are_nan_where_undefined() -> None:
    inputs = _task_inputs(BINARY, 3, n=6)
    only_negatives = (~inputs.y_true).astype(float)[None, :]
    auc = next(m for m in task_metrics(BINARY) if m.slug == "auc")
    assert np.isnan(auc.resample(inputs, only_negatives)[0])
    regression = _task_inputs(REGRESSION, 3, n=6)
    one_row = np.eye(6)[1][None, :] * 3
    r2 = next(m for m in task_metrics(REGRESSION) if m.slug == "r2")
    assert np.isnan(r2.resample(regression, one_row)[0])  # a constant target
    labels_only = prepare(MULTICLASS, np.array([0, 1, 2]), np.array([0, 1, 1]))
    log_loss = next(m for m in task_metrics(MULTICLASS) if m.slug == "multiclass_log_loss")
    assert np.isnan(log_loss.resample(labels_only, np.ones((2, 3)))).all()


@pytest.mark.parametrize("name", ["MAE", "MSE", "RMSE", "MAPE", "R2", "Log Loss"])
def test_linearised_rows_give_the_spread_of_random_splits(name: str) -> None:
    from pytest_rime.engine import stats
    from pytest_rime.engine.metrics import linearised_rows, task_metrics

    rng = np.random.default_rng(3)
    n, ref_rows = 6000, 4000
    x = rng.normal(size=n)
    if name == "Log Loss":
        scores = 1 / (1 + np.exp(-2 * x))
        inputs = MetricInputs(BINARY, rng.random(n) < scores, scores >= 0.5, scores, np.arange(n))
    else:
        y = np.exp(x + rng.normal(0, 0.7, n))
        inputs = MetricInputs(REGRESSION, y, np.exp(x + 0.2), None, np.arange(n))
    metric = next(m for m in task_metrics(inputs.task) if m.name == name)
    assert metric.resample is not None
    masks = np.vstack(list(stats.random_splits(rng, ref_rows, n - ref_rows, 600)))
    values = metric.resample(inputs, np.vstack([masks, 1 - masks]))
    expected = float(np.std(values[600:] - values[:600], ddof=1))
    linear = linearised_rows(name, inputs)
    assert linear is not None
    rows, value = linear
    assert value == pytest.approx(metric.compute(inputs))
    spread = stats.split_mean_difference_sd(rows, ref_rows, n - ref_rows)
    assert spread == pytest.approx(expected, rel=0.1)
