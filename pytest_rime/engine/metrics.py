"""Model metrics of a dataset (numpy only; scikit-learn is used by the tests, never at runtime).

The metric functions take plain arrays and return ``None`` (never raise) when the metric is not
defined for their input: an empty input, a single class for AUC, no predicted positives for
Precision, a constant target for R2, no non-zero target for MAPE.

Conventions:

- **Binary classification**: ``y_true`` / ``y_pred`` are booleans (True = the positive class),
  ``scores`` are positive-class probabilities; a row is predicted positive when its
  probability is at least the decision threshold (0.5).
- **Multi-class classification**: labels are integer codes. Macro metrics average over the
  classes present in ``y_true`` or ``y_pred`` (scikit-learn's ``unique_labels``); a class
  that is never predicted has precision 0 (scikit-learn's ``zero_division=0``). Multi-class
  AUC is the one-vs-rest macro average over the classes whose AUC is defined. Multi-class log
  loss clips the probabilities to ``[1e-15, 1 - 1e-15]`` and renormalises the rows.
- **Regression**: MAPE is the mean of ``|y - p| / |y|`` over the rows whose target is not
  zero (rows with a zero target are ignored; scikit-learn divides by a tiny epsilon instead),
  as a fraction (0.1 = 10 %).
- **Calibration**: the expected calibration error over :data:`CALIBRATION_BINS` equal-width
  probability bins, ``sum(n_b / n * |fraction positive_b - mean probability_b|)``; bin ``b``
  holds the probabilities in ``(b/10, (b+1)/10]`` (the first bin includes 0), as in
  scikit-learn's ``calibration_curve(strategy="uniform")``.

:func:`prepare` turns labels and predictions of a task into :class:`MetricInputs` (rows with a
missing label or prediction are dropped); :func:`compute_metrics` returns every metric of the
task; :func:`task_metrics` lists them. The metrics of a run's context (cached per run, and
``RunResult.model_perf``) are in :mod:`pytest_rime.engine.performance`.

For significance tests every :class:`Metric` says how two values of it are compared: a
proportion (Accuracy, Precision, Recall, FPR, FNR) gives its ``rate_counts`` for an exact test;
every other metric has a ``resample`` twin (``weighted_*``) computing it on a whole matrix of
row weights at once (matrix products and one sort, no loop over draws).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pytest_rime.engine.codec import JSONRecord
from pytest_rime.vocabulary import BINARY, MULTICLASS, REGRESSION

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

DECISION_THRESHOLD = 0.5
"""A binary row is predicted positive when its probability is at least this."""

LOG_LOSS_EPSILON = 1e-15
"""Probabilities are clipped to ``[eps, 1 - eps]`` in log loss."""

CALIBRATION_BINS = 10
"""Equal-width probability bins of the calibration error and the reliability table."""


# ------------------------------------------------------------------ binary classification
def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator > 0 else None


def accuracy(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float | None:
    """Share of rows whose predicted label equals the true label (any label type)."""
    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    return _ratio(float(np.sum(truth == predicted)), truth.size)


def _confusion(y_true: BoolArray, y_pred: BoolArray) -> tuple[int, int, int, int]:
    """``(tp, fp, fn, tn)`` of boolean arrays."""
    tp = int(np.sum(y_true & y_pred))
    fp = int(np.sum(~y_true & y_pred))
    fn = int(np.sum(y_true & ~y_pred))
    return tp, fp, fn, int(y_true.size - tp - fp - fn)


def precision(y_true: BoolArray, y_pred: BoolArray) -> float | None:
    """TP / (TP + FP); ``None`` without predicted positives."""
    tp, fp, _, _ = _confusion(y_true, y_pred)
    return _ratio(tp, tp + fp)


def recall(y_true: BoolArray, y_pred: BoolArray) -> float | None:
    """TP / (TP + FN), the true positive rate; ``None`` without positives."""
    tp, _, fn, _ = _confusion(y_true, y_pred)
    return _ratio(tp, tp + fn)


def f1(y_true: BoolArray, y_pred: BoolArray) -> float | None:
    """2 TP / (2 TP + FP + FN); ``None`` without positives and predicted positives."""
    tp, fp, fn, _ = _confusion(y_true, y_pred)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def false_positive_rate(y_true: BoolArray, y_pred: BoolArray) -> float | None:
    """FP / (FP + TN); ``None`` without negatives."""
    _, fp, _, tn = _confusion(y_true, y_pred)
    return _ratio(fp, fp + tn)


def false_negative_rate(y_true: BoolArray, y_pred: BoolArray) -> float | None:
    """FN / (FN + TP); ``None`` without positives."""
    tp, _, fn, _ = _confusion(y_true, y_pred)
    return _ratio(fn, fn + tp)


def _average_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks of ``values``; tied values share the average of their ranks.

    Values already in ascending order (e.g. a subset sliced from rows sorted by score) are not
    sorted again: one linear check replaces the sort.
    """
    if values.size < 2 or bool(np.all(values[1:] >= values[:-1])):
        order = np.arange(values.size)
        ordered = values
    else:
        order = np.argsort(values, kind="mergesort")
        ordered = values[order]
    starts_group = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.append(starts[1:], values.size)
    ranks = np.empty(values.size)
    ranks[order] = ((starts + ends + 1) / 2)[group]
    return ranks


def roc_auc(y_true: BoolArray, scores: FloatArray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U, ties count one half); ``None`` for one class."""
    n_pos = int(np.sum(y_true))
    n_neg = y_true.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(np.asarray(scores, dtype=float))
    u = float(np.sum(ranks[y_true])) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def _binary_row_losses(y_true: BoolArray, scores: FloatArray) -> FloatArray:
    """Cross-entropy of each row's clipped probability."""
    p = np.clip(np.asarray(scores, dtype=float), LOG_LOSS_EPSILON, 1 - LOG_LOSS_EPSILON)
    losses: FloatArray = -np.where(y_true, np.log(p), np.log1p(-p))
    return losses


def log_loss(y_true: BoolArray, scores: FloatArray) -> float | None:
    """Mean binary cross-entropy of the clipped probabilities; ``None`` when empty."""
    if y_true.size == 0:
        return None
    return float(np.mean(_binary_row_losses(y_true, scores)))


@dataclass(frozen=True)
class ReliabilityBin(JSONRecord):
    """One non-empty probability bin of a reliability table."""

    lower: float
    upper: float
    count: int
    mean_predicted: float
    fraction_positive: float


def _calibration_bins(scores: FloatArray, bins: int) -> tuple[FloatArray, IntArray]:
    """Probabilities clipped to 0..1 and their equal-width bin (``(b/bins, (b+1)/bins]``)."""
    p = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
    ids = np.searchsorted(np.linspace(0.0, 1.0, bins + 1)[1:-1], p, side="left")
    return p, ids.astype(np.int64)


def reliability_table(
    y_true: BoolArray, scores: FloatArray, bins: int = CALIBRATION_BINS
) -> list[ReliabilityBin]:
    """Per non-empty equal-width bin: count, mean probability and fraction of positives."""
    p, ids = _calibration_bins(scores, bins)
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.bincount(ids, minlength=bins)
    predicted = np.bincount(ids, weights=p, minlength=bins)
    positive = np.bincount(ids, weights=y_true.astype(float), minlength=bins)
    return [
        ReliabilityBin(
            lower=float(edges[b]),
            upper=float(edges[b + 1]),
            count=int(counts[b]),
            mean_predicted=float(predicted[b] / counts[b]),
            fraction_positive=float(positive[b] / counts[b]),
        )
        for b in np.flatnonzero(counts)
    ]


def expected_calibration_error(
    y_true: BoolArray, scores: FloatArray, bins: int = CALIBRATION_BINS
) -> float | None:
    """Row-weighted mean |fraction positive - mean probability| over the bins; ``None`` if empty."""
    if y_true.size == 0:
        return None
    table = reliability_table(y_true, scores, bins)
    gaps = sum(b.count * abs(b.fraction_positive - b.mean_predicted) for b in table)
    return float(gaps / y_true.size)


# ------------------------------------------------------------- multi-class classification
def _per_class_counts(y_true: IntArray, y_pred: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """``(tp, predicted, actual)`` per class present in ``y_true`` or ``y_pred``."""
    present = np.union1d(y_true, y_pred)
    true_idx = np.searchsorted(present, y_true)
    pred_idx = np.searchsorted(present, y_pred)
    size = present.size
    tp = np.bincount(true_idx[y_true == y_pred], minlength=size)
    return tp, np.bincount(pred_idx, minlength=size), np.bincount(true_idx, minlength=size)


def _macro(y_true: IntArray, y_pred: IntArray, part: ClassPart) -> float | None:
    if y_true.size == 0:
        return None
    tp, predicted, actual = _per_class_counts(y_true, y_pred)
    return float(np.mean(part(tp, predicted, actual)))


def _safe_divide(numerator: npt.ArrayLike, denominator: npt.ArrayLike) -> FloatArray:
    numerator, denominator = np.asarray(numerator), np.asarray(denominator)
    out = np.zeros(numerator.shape, dtype=float)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


ClassPart = Callable[[Any, Any, Any], FloatArray]
"""A per-class rate from per-class ``(tp, predicted, actual)`` counts (any matching shape)."""


def _class_precision(tp: Any, predicted: Any, _actual: Any) -> FloatArray:
    return _safe_divide(tp, predicted)


def _class_recall(tp: Any, _predicted: Any, actual: Any) -> FloatArray:
    return _safe_divide(tp, actual)


def _class_f1(tp: Any, predicted: Any, actual: Any) -> FloatArray:
    return _safe_divide(2 * tp, predicted + actual)


def macro_precision(y_true: IntArray, y_pred: IntArray) -> float | None:
    """Unweighted mean of the per-class precision (0 for a class never predicted)."""
    return _macro(y_true, y_pred, _class_precision)


def macro_recall(y_true: IntArray, y_pred: IntArray) -> float | None:
    """Unweighted mean of the per-class recall (0 for a class absent from ``y_true``)."""
    return _macro(y_true, y_pred, _class_recall)


def macro_f1(y_true: IntArray, y_pred: IntArray) -> float | None:
    """Unweighted mean of the per-class F1 = 2 TP / (predicted + actual)."""
    return _macro(y_true, y_pred, _class_f1)


def multiclass_roc_auc(y_true: IntArray, probabilities: FloatArray) -> float | None:
    """One-vs-rest macro AUC over the columns whose AUC is defined; ``None`` if none is."""
    aucs = [roc_auc(y_true == k, probabilities[:, k]) for k in range(probabilities.shape[1])]
    defined = [a for a in aucs if a is not None]
    return float(np.mean(defined)) if defined else None


def _multiclass_row_losses(y_true: IntArray, probabilities: FloatArray) -> FloatArray:
    """Cross-entropy of each row's true class (clipped, renormalised probabilities)."""
    p = np.clip(probabilities, LOG_LOSS_EPSILON, 1 - LOG_LOSS_EPSILON)
    p = p / p.sum(axis=1, keepdims=True)
    known = (y_true >= 0) & (y_true < p.shape[1])
    true_p = np.full(y_true.size, LOG_LOSS_EPSILON)
    true_p[known] = p[np.flatnonzero(known), y_true[known]]
    losses: FloatArray = -np.log(true_p)
    return losses


def multiclass_log_loss(y_true: IntArray, probabilities: FloatArray) -> float | None:
    """Mean cross-entropy of the true class; codes outside the columns get probability 0."""
    if y_true.size == 0:
        return None
    return float(np.mean(_multiclass_row_losses(y_true, probabilities)))


# ---------------------------------------------------------------------------- regression
def mean_absolute_error(y_true: FloatArray, y_pred: FloatArray) -> float | None:
    """Mean |y - p|; ``None`` when empty."""
    return float(np.mean(np.abs(y_true - y_pred))) if y_true.size else None


def mean_squared_error(y_true: FloatArray, y_pred: FloatArray) -> float | None:
    """Mean (y - p)^2; ``None`` when empty."""
    return float(np.mean((y_true - y_pred) ** 2)) if y_true.size else None


def root_mean_squared_error(y_true: FloatArray, y_pred: FloatArray) -> float | None:
    """Square root of the MSE; ``None`` when empty."""
    mse = mean_squared_error(y_true, y_pred)
    return None if mse is None else float(np.sqrt(mse))


def mean_absolute_percentage_error(y_true: FloatArray, y_pred: FloatArray) -> float | None:
    """Mean |y - p| / |y| over rows with a non-zero target (a fraction); ``None`` if none."""
    nonzero = y_true != 0
    if not np.any(nonzero):
        return None
    return float(np.mean(np.abs(y_true[nonzero] - y_pred[nonzero]) / np.abs(y_true[nonzero])))


def r2_score(y_true: FloatArray, y_pred: FloatArray) -> float | None:
    """1 - SS_res / SS_tot; ``None`` for fewer than two rows or a constant target."""
    if y_true.size < 2:
        return None
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    if total == 0:
        return None
    return 1 - float(np.sum((y_true - y_pred) ** 2)) / total


# ------------------------------------------------------ weighted metrics (resampling draws)
# Each function takes the arrays of its metric plus a (draws, rows) matrix of row weights
# (e.g. the 0/1 masks of pytest_rime.engine.stats.random_splits) and returns the metric of
# every weighted resample (NaN where undefined). With a row of ones the value is the metric
# itself; with integer weights it is the metric of the rows repeated that often.


def _weighted_sums(weights: FloatArray, *columns: npt.ArrayLike) -> FloatArray:
    """``(draws, len(columns))`` weighted sums of the columns (one matrix product)."""
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    sums: FloatArray = weights @ stacked
    return sums


def _weighted_ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio: FloatArray = np.where(denominator > 0, numerator / denominator, np.nan)
    return ratio


def _weighted_mean(weights: FloatArray, values: FloatArray) -> FloatArray:
    sums = _weighted_sums(weights, values, np.ones(values.size))
    return _weighted_ratio(sums[:, 0], sums[:, 1])


def weighted_f1(y_true: BoolArray, y_pred: BoolArray, weights: FloatArray) -> FloatArray:
    """F1 of each weighted resample."""
    sums = _weighted_sums(weights, y_true & y_pred, ~y_true & y_pred, y_true & ~y_pred)
    tp, fp, fn = sums.T
    return _weighted_ratio(2 * tp, 2 * tp + fp + fn)


def _columns_in_order(weights: FloatArray, order: IntArray) -> FloatArray:
    """``weights[:, order]``, without a copy when ``order`` is already ascending."""
    if bool(np.all(order[1:] > order[:-1])):
        return weights
    reordered: FloatArray = weights[:, order]
    return reordered


def _negatives_under(cumulative: FloatArray, ordered: FloatArray) -> FloatArray:
    """Per sorted row: twice the negative weight under it (ties count one half).

    ``cumulative`` is the running negative weight in score order with a leading 0 column;
    for a run of tied scores it is ``before + through`` the run, read at the run's ends.
    """
    starts_run = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    if starts_run.all():  # no ties: the run is the row itself
        under: FloatArray = cumulative[:, :-1] + cumulative[:, 1:]
        return under
    starts = np.flatnonzero(starts_run)
    run = np.cumsum(starts_run) - 1
    ends = np.append(starts[1:], ordered.size)  # one past the end of each run
    tied: FloatArray = cumulative[:, starts[run]] + cumulative[:, ends[run]]
    return tied


def weighted_roc_auc(y_true: BoolArray, scores: FloatArray, weights: FloatArray) -> FloatArray:
    """AUC of each weighted resample (weighted Mann-Whitney U), without re-sorting per draw.

    The rows are sorted once by score (rows given in score order are not copied), and each
    positive row counts the negative weight under it, ties one half.
    """
    order = np.argsort(scores, kind="stable")
    ordered = np.asarray(scores, dtype=float)[order]
    sorted_weights = _columns_in_order(weights, order)
    positive = np.asarray(y_true, dtype=float)[order]
    cumulative = np.zeros((weights.shape[0], ordered.size + 1))
    np.cumsum(sorted_weights * (1.0 - positive), axis=1, out=cumulative[:, 1:])
    positives = sorted_weights * positive
    u = 0.5 * np.einsum("ij,ij->i", positives, _negatives_under(cumulative, ordered))
    return _weighted_ratio(u, positives.sum(axis=1) * cumulative[:, -1])


def weighted_log_loss(y_true: BoolArray, scores: FloatArray, weights: FloatArray) -> FloatArray:
    """Log loss of each weighted resample."""
    return _weighted_mean(weights, _binary_row_losses(y_true, scores))


def weighted_calibration_error(
    y_true: BoolArray, scores: FloatArray, weights: FloatArray, bins: int = CALIBRATION_BINS
) -> FloatArray:
    """Expected calibration error of each weighted resample (the bins stay fixed)."""
    p, ids = _calibration_bins(scores, bins)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
    gaps = _columns_in_order(weights, order) * (y_true.astype(float) - p)[order]
    per_bin = np.add.reduceat(gaps, starts, axis=1) if ids.size else gaps
    return _weighted_ratio(np.abs(per_bin).sum(axis=1), weights.sum(axis=1))


def _weighted_macro(
    y_true: IntArray, y_pred: IntArray, weights: FloatArray, part: ClassPart
) -> FloatArray:
    """Macro average of ``part`` over the classes present in each weighted resample."""
    present = np.union1d(y_true, y_pred)
    rows = np.arange(y_true.size)
    actual = np.zeros((y_true.size, present.size))
    actual[rows, np.searchsorted(present, y_true)] = 1.0
    predicted = np.zeros_like(actual)
    predicted[rows, np.searchsorted(present, y_pred)] = 1.0
    tp, n_predicted, n_actual = (
        weights @ m for m in (actual * (y_true == y_pred)[:, None], predicted, actual)
    )
    in_draw = (n_predicted + n_actual) > 0
    total = np.sum(np.where(in_draw, part(tp, n_predicted, n_actual), 0.0), axis=1)
    return _weighted_ratio(total, in_draw.sum(axis=1).astype(float))


def weighted_macro_f1(y_true: IntArray, y_pred: IntArray, weights: FloatArray) -> FloatArray:
    """Macro F1 of each weighted resample."""
    return _weighted_macro(y_true, y_pred, weights, _class_f1)


def weighted_macro_precision(y_true: IntArray, y_pred: IntArray, weights: FloatArray) -> FloatArray:
    """Macro precision of each weighted resample."""
    return _weighted_macro(y_true, y_pred, weights, _class_precision)


def weighted_macro_recall(y_true: IntArray, y_pred: IntArray, weights: FloatArray) -> FloatArray:
    """Macro recall of each weighted resample."""
    return _weighted_macro(y_true, y_pred, weights, _class_recall)


def weighted_multiclass_roc_auc(
    y_true: IntArray, probabilities: FloatArray, weights: FloatArray
) -> FloatArray:
    """One-vs-rest macro AUC of each weighted resample (over the classes defined in it)."""
    aucs = np.column_stack(
        [
            weighted_roc_auc(y_true == k, probabilities[:, k], weights)
            for k in range(probabilities.shape[1])
        ]
    )
    defined = np.isfinite(aucs)
    return _weighted_ratio(np.where(defined, aucs, 0.0).sum(axis=1), defined.sum(axis=1) * 1.0)


def weighted_multiclass_log_loss(
    y_true: IntArray, probabilities: FloatArray, weights: FloatArray
) -> FloatArray:
    """Multi-class log loss of each weighted resample."""
    return _weighted_mean(weights, _multiclass_row_losses(y_true, probabilities))


def weighted_mean_absolute_error(
    y_true: FloatArray, y_pred: FloatArray, weights: FloatArray
) -> FloatArray:
    """MAE of each weighted resample."""
    return _weighted_mean(weights, np.abs(y_true - y_pred))


def weighted_mean_squared_error(
    y_true: FloatArray, y_pred: FloatArray, weights: FloatArray
) -> FloatArray:
    """MSE of each weighted resample."""
    return _weighted_mean(weights, (y_true - y_pred) ** 2)


def weighted_root_mean_squared_error(
    y_true: FloatArray, y_pred: FloatArray, weights: FloatArray
) -> FloatArray:
    """RMSE of each weighted resample."""
    root: FloatArray = np.sqrt(weighted_mean_squared_error(y_true, y_pred, weights))
    return root


def weighted_mean_absolute_percentage_error(
    y_true: FloatArray, y_pred: FloatArray, weights: FloatArray
) -> FloatArray:
    """MAPE of each weighted resample (rows with a zero target ignored)."""
    nonzero = y_true != 0
    ape = np.zeros(y_true.size)
    ape[nonzero] = np.abs(y_true[nonzero] - y_pred[nonzero]) / np.abs(y_true[nonzero])
    sums = _weighted_sums(weights, ape, nonzero)
    return _weighted_ratio(sums[:, 0], sums[:, 1])


def weighted_r2_score(y_true: FloatArray, y_pred: FloatArray, weights: FloatArray) -> FloatArray:
    """R2 of each weighted resample (NaN for a constant target in it)."""
    centred = y_true - y_true.mean() if y_true.size else y_true
    residuals = (y_true - y_pred) ** 2
    sums = _weighted_sums(weights, np.ones(y_true.size), centred, centred**2, residuals)
    count, total, squares, residual = sums.T
    spread = squares - total**2 / np.maximum(count, 1e-300)
    defined = spread > 1e-12 * squares
    r2: FloatArray = np.where(defined, 1 - residual / np.where(defined, spread, 1.0), np.nan)
    return r2


# ------------------------------------------------------ linearised metrics (large samples)
LINEARISED_METRICS = frozenset(
    ("Log Loss", "Multi-class Log Loss", "MAE", "MSE", "RMSE", "MAPE", "R2")
)
"""The metrics :func:`linearised_rows` has a form for."""


def linearised_rows(name: str, inputs: MetricInputs) -> tuple[FloatArray, float] | None:
    """Per-row values whose mean moves like metric ``name`` over subsets, and its value.

    For a mean of per-row values (log loss, MAE, MSE, MAPE over the rows with a non-zero
    target) the values are the per-row terms themselves; RMSE and R2 are smooth functions of
    such means, and their values are the first-order (delta-method, influence-function) terms:
    ``(e^2 - MSE) / (2 RMSE)`` and ``-(r^2 - A) / B + A (d^2 - B) / B^2`` (``A`` the mean
    squared residual, ``B`` the target variance, ``d`` the centred target). Over a random
    subset the metric then differs from its value on all rows by the subset's mean of the
    values minus their overall mean, up to terms of order ``1 / rows``: the variance of a
    metric difference between two random parts is a closed form of the values' variance.

    Returns ``(values, metric on the rows)``, or ``None`` for a metric without such a form
    (AUC, F1, the calibration error, the macro metrics) or one undefined on ``inputs``.
    """
    y, p = inputs.y_true, inputs.y_pred
    values: FloatArray
    if name in ("Log Loss", "Multi-class Log Loss"):
        if inputs.scores is None or inputs.size == 0:
            return None
        if name == "Log Loss":
            values = _binary_row_losses(y, inputs.scores)
        else:
            values = _multiclass_row_losses(y, inputs.scores)
        return values, float(values.mean())
    if inputs.task != REGRESSION or inputs.size < 2:
        return None
    error = np.asarray(y, dtype=float) - np.asarray(p, dtype=float)
    if name == "MAE":
        values = np.abs(error)
        return values, float(values.mean())
    if name in ("MSE", "RMSE"):
        values = error**2
        mse = float(values.mean())
        if name == "MSE":
            return values, mse
        if mse <= 0:
            return None
        root = float(np.sqrt(mse))
        return (values - mse) / (2 * root) + root, root
    if name == "MAPE":
        nonzero = y != 0
        if not np.any(nonzero):
            return None
        values = np.abs(error[nonzero]) / np.abs(y[nonzero])
        return values, float(values.mean())
    if name == "R2":
        centred = y - y.mean()
        spread, residual = float(np.mean(centred**2)), float(np.mean(error**2))
        if spread <= 0:
            return None
        r2 = 1 - residual / spread
        values = r2 - (error**2 - residual) / spread + residual * (centred**2 - spread) / spread**2
        return values, r2
    return None


# ------------------------------------------------------------------------- task inputs
@dataclass(frozen=True)
class MetricInputs:
    """Labels and predictions of one dataset (or subset) in the form the metrics take.

    Attributes:
        task: The model task.
        y_true: Binary: bool (positive class); multi-class: int codes (-1 = a label outside
            ``classes``); regression: floats.
        y_pred: Predicted labels (binary: probability >= threshold) or values, same form.
        scores: Binary: positive-class probabilities (n,); multi-class: (n, k) probabilities
            aligned with the classes, or ``None`` when only labels were predicted.
        rows: Position of each kept row in the labels given to :func:`prepare`.
    """

    task: str
    y_true: npt.NDArray[Any]
    y_pred: npt.NDArray[Any]
    scores: FloatArray | None
    rows: IntArray

    @property
    def size(self) -> int:
        """Number of rows."""
        return int(self.y_true.size)

    def subset(self, index: BoolArray | IntArray | slice) -> MetricInputs:
        """The rows selected by a boolean mask, positions or a slice (a slice gives views)."""
        scores = None if self.scores is None else self.scores[index]
        return MetricInputs(
            self.task, self.y_true[index], self.y_pred[index], scores, self.rows[index]
        )


def _binary_positive(labels: npt.NDArray[Any], classes: Sequence[Any] | None) -> Any:
    if classes is not None and len(classes) >= 2:
        return classes[-1]
    values = set(pd.unique(labels).tolist())
    if values <= {0, 1}:
        return 1
    return sorted(values, key=str)[-1] if values else 1


def _encode(values: npt.NDArray[Any], classes: Sequence[Any]) -> IntArray:
    return np.asarray(pd.Index(list(classes)).get_indexer(values), dtype=np.int64)


def _default_classes(labels: npt.NDArray[Any], predictions: npt.NDArray[Any]) -> list[Any]:
    values = pd.unique(labels).tolist()
    if predictions.ndim == 1:
        values += [v for v in pd.unique(predictions).tolist() if v not in values]
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _as_matrix(values: npt.NDArray[Any]) -> FloatArray:
    numbers = values.astype(float)
    return numbers if numbers.ndim == 2 else numbers[:, None]


def prepare(
    task: str,
    labels: npt.ArrayLike,
    predictions: npt.ArrayLike,
    *,
    classes: Sequence[Any] | None = None,
    threshold: float = DECISION_THRESHOLD,
) -> MetricInputs:
    """Labels and predictions of ``task`` as :class:`MetricInputs`.

    Rows with a missing label, or a missing or non-finite prediction, are dropped.

    Args:
        task: ``Binary Classification``, ``Multi-class Classification`` or ``Regression``.
        labels: True labels (n,).
        predictions: Binary: positive-class probabilities (n,) or an (n, 2) matrix;
            multi-class: (n, k) probabilities aligned with ``classes``, or labels (n,);
            regression: values (n,).
        classes: Class labels (binary: the last is the positive class; multi-class: the
            column order). Default: the sorted distinct labels.
        threshold: Decision threshold of binary classification.

    Raises:
        ValueError: Unknown task, or lengths / column counts that do not match.
    """
    y = np.asarray(labels)
    p = np.asarray(predictions)
    if p.shape[:1] != y.shape[:1]:
        raise ValueError(f"{p.shape[0]} predictions for {y.shape[0]} labels")
    keep = ~pd.isna(y)
    if task == REGRESSION or (task == BINARY and np.issubdtype(p.dtype, np.number)):
        keep &= np.all(np.isfinite(_as_matrix(p)), axis=1)
    elif task == MULTICLASS and p.ndim == 2:
        keep &= np.all(np.isfinite(p.astype(float)), axis=1)
    else:
        keep &= ~pd.isna(p)
    y, p = y[keep], p[keep]
    rows = np.flatnonzero(keep).astype(np.int64)
    if task == REGRESSION:
        return MetricInputs(task, y.astype(float), _as_matrix(p)[:, 0], None, rows)
    if task == BINARY:
        positive = _binary_positive(y, classes)
        if np.issubdtype(p.dtype, np.number):
            scores = _as_matrix(p)[:, -1]
        else:
            scores = (p == positive).astype(float)
        return MetricInputs(task, y == positive, scores >= threshold, scores, rows)
    if task == MULTICLASS:
        names = list(classes) if classes is not None and len(classes) else _default_classes(y, p)
        if p.ndim == 2:
            if p.shape[1] != len(names):
                raise ValueError(
                    f"predictions have {p.shape[1]} columns for {len(names)} classes {names}"
                )
            matrix = p.astype(float)
            predicted = np.argmax(matrix, axis=1)
            return MetricInputs(task, _encode(y, names), predicted, matrix, rows)
        return MetricInputs(task, _encode(y, names), _encode(p, names), None, rows)
    raise ValueError(f"unknown model task {task!r}")


# ---------------------------------------------------------------------- metric catalogue
def _on_labels(
    fn: Callable[[Any, Any], float | None],
) -> Callable[[MetricInputs], float | None]:
    return lambda inputs: fn(inputs.y_true, inputs.y_pred)


def _scored(
    fn: Callable[[Any, FloatArray], float | None],
) -> Callable[[MetricInputs], float | None]:
    return lambda inputs: None if inputs.scores is None else fn(inputs.y_true, inputs.scores)


Resample = Callable[[MetricInputs, FloatArray], FloatArray]
"""A metric of every weighted resample: ``(inputs, (draws, rows) weights) -> (draws,)``."""


def _on_labels_resampled(fn: Callable[[Any, Any, FloatArray], FloatArray]) -> Resample:
    return lambda inputs, weights: fn(inputs.y_true, inputs.y_pred, weights)


def _scored_resampled(fn: Callable[[Any, FloatArray, FloatArray], FloatArray]) -> Resample:
    def resample(inputs: MetricInputs, weights: FloatArray) -> FloatArray:
        if inputs.scores is None:
            return np.full(weights.shape[0], np.nan)
        return fn(inputs.y_true, inputs.scores, weights)

    return resample


RateCounts = Callable[[MetricInputs], tuple[int, int]]
"""``(hits, rows)`` of a metric that is the proportion ``hits / rows``."""


def _rate(
    hit: Callable[[MetricInputs], BoolArray], among: Callable[[MetricInputs], BoolArray]
) -> RateCounts:
    """Counts of the rows where ``hit`` holds among the rows where ``among`` holds."""

    def counts(inputs: MetricInputs) -> tuple[int, int]:
        mask = among(inputs)
        return int(np.sum(hit(inputs) & mask)), int(np.sum(mask))

    return counts


def _correct(inputs: MetricInputs) -> BoolArray:
    return np.asarray(inputs.y_true == inputs.y_pred)


def _every_row(inputs: MetricInputs) -> BoolArray:
    return np.ones(inputs.size, dtype=bool)


def _is_positive(inputs: MetricInputs) -> BoolArray:
    return np.asarray(inputs.y_true, dtype=bool)


def _is_negative(inputs: MetricInputs) -> BoolArray:
    return ~np.asarray(inputs.y_true, dtype=bool)


def _predicted_positive(inputs: MetricInputs) -> BoolArray:
    return np.asarray(inputs.y_pred, dtype=bool)


def _predicted_negative(inputs: MetricInputs) -> BoolArray:
    return ~np.asarray(inputs.y_pred, dtype=bool)


def _rows(inputs: MetricInputs) -> int:
    return inputs.size


def _positives(inputs: MetricInputs) -> int:
    return int(np.sum(inputs.y_true))


def _negatives(inputs: MetricInputs) -> int:
    return inputs.size - int(np.sum(inputs.y_true))


def _predicted_positives(inputs: MetricInputs) -> int:
    return int(np.sum(inputs.y_pred))


def _both_classes(inputs: MetricInputs) -> int:
    return min(_positives(inputs), _negatives(inputs))


@dataclass(frozen=True)
class Metric:
    """A model metric and how to compare two values of it.

    Attributes:
        name: Display name, the key of ``RunResult.model_perf`` (``"AUC"``, ``"MAE"``).
        slug: snake_case name used in test ids.
        higher_is_better: Direction of the metric.
        relative: Degradation is measured relative to the baseline value (metrics without a
            fixed scale: log loss, MAE, MSE, RMSE, MAPE); otherwise as an absolute difference
            (metrics in 0..1, and R2).
        compute: The metric of :class:`MetricInputs` (``None`` when undefined).
        support: Rows the metric averages over (Recall: positives; Precision: predicted
            positives; FPR: negatives; AUC: the smaller class), used to exclude small subsets.
        test_name: Display name of its Model Performance test, when not ``name``.
        requirement: What the metric needs to be defined (used in SKIP reasons).
        conditional: A rate conditioned on the label or the prediction (F1, Precision, Recall,
            FPR, FNR and their macro versions): it moves with the label mix of the data even
            when the model is sound.
        ranking: A ranking metric (AUC): it is lower on any slice that narrows the range of
            a predictive feature.
        rate_counts: For a proportion (Accuracy, Precision, Recall, FPR, FNR): its
            ``(hits, rows)``, compared between two sets by an exact test.
        resample: For any other metric: its value on every weighted resample of the rows.
    """

    name: str
    slug: str
    higher_is_better: bool
    relative: bool
    compute: Callable[[MetricInputs], float | None]
    support: Callable[[MetricInputs], int] = _rows
    test_name: str | None = None
    requirement: str = "labelled rows with predictions"
    conditional: bool = False
    ranking: bool = False
    rate_counts: RateCounts | None = None
    resample: Resample | None = None

    @property
    def display_test_name(self) -> str:
        """Name of the metric's Model Performance test."""
        return self.test_name or self.name

    def degradation(self, baseline: float, value: float) -> float:
        """How much worse ``value`` is than ``baseline``; positive = worse.

        Absolute metrics: the signed difference. Relative metrics: the signed difference
        divided by ``|baseline|`` (0 when both are 0, infinity when only the baseline is 0).
        """
        delta = baseline - value if self.higher_is_better else value - baseline
        if not self.relative:
            return float(delta)
        if baseline == 0:
            return 0.0 if delta <= 0 else float("inf")
        return float(delta / abs(baseline))


ACCURACY = Metric(
    "Accuracy",
    "accuracy",
    True,
    False,
    lambda i: accuracy(i.y_true, i.y_pred),
    rate_counts=_rate(_correct, _every_row),
)
_BOTH_CLASSES = "both classes and predicted probabilities"
_PROBABILITIES = "predicted probabilities"
_BINARY_METRICS = (
    ACCURACY,
    Metric(
        "AUC",
        "auc",
        True,
        False,
        _scored(roc_auc),
        _both_classes,
        requirement=_BOTH_CLASSES,
        ranking=True,
        resample=_scored_resampled(weighted_roc_auc),
    ),
    Metric(
        "F1",
        "f1",
        True,
        False,
        _on_labels(f1),
        requirement="positive labels or predictions",
        conditional=True,
        resample=_on_labels_resampled(weighted_f1),
    ),
    Metric(
        "Precision",
        "precision",
        True,
        False,
        _on_labels(precision),
        _predicted_positives,
        requirement="predicted positives",
        conditional=True,
        rate_counts=_rate(_is_positive, _predicted_positive),
    ),
    Metric(
        "Recall",
        "recall",
        True,
        False,
        _on_labels(recall),
        _positives,
        requirement="positives",
        conditional=True,
        rate_counts=_rate(_predicted_positive, _is_positive),
    ),
    Metric(
        "FPR",
        "fpr",
        False,
        False,
        _on_labels(false_positive_rate),
        _negatives,
        requirement="negatives",
        conditional=True,
        rate_counts=_rate(_predicted_positive, _is_negative),
    ),
    Metric(
        "FNR",
        "fnr",
        False,
        False,
        _on_labels(false_negative_rate),
        _positives,
        requirement="positives",
        conditional=True,
        rate_counts=_rate(_predicted_negative, _is_positive),
    ),
    Metric(
        "Log Loss",
        "log_loss",
        False,
        True,
        _scored(log_loss),
        requirement=_PROBABILITIES,
        resample=_scored_resampled(weighted_log_loss),
    ),
    Metric(
        "Calibration Error",
        "calibration_comparison",
        False,
        False,
        _scored(expected_calibration_error),
        test_name="Calibration Comparison",
        requirement=_PROBABILITIES,
        resample=_scored_resampled(weighted_calibration_error),
    ),
)
_MULTICLASS_METRICS = (
    ACCURACY,
    Metric(
        "Multi-class AUC",
        "multiclass_auc",
        True,
        False,
        _scored(multiclass_roc_auc),
        requirement="two classes and a probability matrix",
        ranking=True,
        resample=_scored_resampled(weighted_multiclass_roc_auc),
    ),
    Metric(
        "Macro F1",
        "macro_f1",
        True,
        False,
        _on_labels(macro_f1),
        conditional=True,
        resample=_on_labels_resampled(weighted_macro_f1),
    ),
    Metric(
        "Macro Precision",
        "macro_precision",
        True,
        False,
        _on_labels(macro_precision),
        conditional=True,
        resample=_on_labels_resampled(weighted_macro_precision),
    ),
    Metric(
        "Macro Recall",
        "macro_recall",
        True,
        False,
        _on_labels(macro_recall),
        conditional=True,
        resample=_on_labels_resampled(weighted_macro_recall),
    ),
    Metric(
        "Multi-class Log Loss",
        "multiclass_log_loss",
        False,
        True,
        _scored(multiclass_log_loss),
        requirement="a probability matrix",
        resample=_scored_resampled(weighted_multiclass_log_loss),
    ),
)
_REGRESSION_METRICS = (
    Metric(
        "MAE",
        "mae",
        False,
        True,
        _on_labels(mean_absolute_error),
        resample=_on_labels_resampled(weighted_mean_absolute_error),
    ),
    Metric(
        "MSE",
        "mse",
        False,
        True,
        _on_labels(mean_squared_error),
        resample=_on_labels_resampled(weighted_mean_squared_error),
    ),
    Metric(
        "RMSE",
        "rmse",
        False,
        True,
        _on_labels(root_mean_squared_error),
        resample=_on_labels_resampled(weighted_root_mean_squared_error),
    ),
    Metric(
        "MAPE",
        "mape",
        False,
        True,
        _on_labels(mean_absolute_percentage_error),
        requirement="non-zero targets",
        resample=_on_labels_resampled(weighted_mean_absolute_percentage_error),
    ),
    Metric(
        "R2",
        "r2",
        True,
        False,
        _on_labels(r2_score),
        requirement="a non-constant target",
        resample=_on_labels_resampled(weighted_r2_score),
    ),
)
TASK_METRICS: Mapping[str, tuple[Metric, ...]] = {
    BINARY: _BINARY_METRICS,
    MULTICLASS: _MULTICLASS_METRICS,
    REGRESSION: _REGRESSION_METRICS,
}
"""The metrics of each model task, in report order."""


def all_metrics() -> tuple[Metric, ...]:
    """Every metric of every task, once each, in report order."""
    seen: dict[str, Metric] = {}
    for metrics in TASK_METRICS.values():
        for metric in metrics:
            seen.setdefault(metric.name, metric)
    return tuple(seen.values())


def task_metrics(task: str) -> tuple[Metric, ...]:
    """The metrics of ``task`` (empty for an unknown task)."""
    return TASK_METRICS.get(task, ())


def metric_names(task: str) -> tuple[str, ...]:
    """Names of the metrics of ``task``."""
    return tuple(metric.name for metric in task_metrics(task))


def evaluate(inputs: MetricInputs) -> dict[str, float | None]:
    """Every metric of ``inputs.task`` on ``inputs`` (``None`` where undefined)."""
    return {metric.name: metric.compute(inputs) for metric in task_metrics(inputs.task)}


def compute_metrics(
    task: str,
    labels: npt.ArrayLike,
    predictions: npt.ArrayLike,
    *,
    classes: Sequence[Any] | None = None,
    threshold: float = DECISION_THRESHOLD,
) -> dict[str, float | None]:
    """Every metric of ``task`` for one dataset (arguments as in :func:`prepare`)."""
    return evaluate(prepare(task, labels, predictions, classes=classes, threshold=threshold))
