"""Subset Performance tests: does the model do much worse on some slice of one feature?

**Subsets of a feature** (:func:`feature_subsets`, defined on ref and applied to ref and eval):

- numeric features with more than ``max_categories`` distinct values: ``numeric_bins``
  reference-quantile bins (duplicate edges removed), named ``"< a"``, ``"[a, b)"``, ``">= b"``;
- categorical, bool and few-valued numeric features: the ``max_categories`` most frequent
  reference values, every other value in ``"Other"``;
- missing values (and non-numbers in a numeric feature) form their own subset ``"(missing)"``.

Text and datetime features are not split. A subset enters a test only when the rows its metric
averages over (all rows; positives for Recall/FNR; predicted positives for Precision; negatives
for FPR; the smaller class for AUC) number at least ``min_subset_size``; the sizes of every
subset are in the case's metrics.

**Tests**:

- ``Subset <metric>`` (one per metric of the task except the calibration error and R2, which
  is low on any slice that narrows the target's range): per feature, the statistic is the
  worst subset's gap to the metric on the whole eval set, signed so that worse is positive
  (absolute for metrics in 0..1, relative for log loss, MAE, MSE, RMSE, MAPE; see
  :meth:`pytest_rime.engine.metrics.Metric.degradation`). Default thresholds: Accuracy
  (0.05, 0.1, 0.2); AUC (0.1, 0.2, 0.3); F1, Precision, Recall, FPR, FNR and the macro
  versions (0.2, 0.4, 0.7); relative metrics (0.25, 0.5, 1.0), i.e. HIGH when a subset's
  error is double the overall one.
- ``Subset Performance Degradation``: per feature and subset, the metric's degradation from
  ref to eval (``metric`` parameter, default Accuracy for classification and MAE for
  regression); the statistic is the worst subset's; thresholds (0.1, 0.2, 0.3).

**Severity**: the threshold level of the gap, capped by the worst subset's share of the eval
rows, which is the case's impact: ``impact = min(1, share / FULL_IMPACT_SHARE)``. With
:data:`FULL_IMPACT_SHARE` = 0.1 a subset of at least 3 % of the rows may be HIGH, one of 1-3 %
at most MEDIUM and one under 1 % at most LOW (see :mod:`pytest_rime.engine.severity`).
Ranking and conditional metrics (AUC, F1, Precision, Recall, FPR, FNR, macro versions) move
with a subset's label mix and feature range even for a sound model (Recall on a group that
rarely has positives is low by construction), so their subset cases are diagnostics, capped
at MEDIUM (:data:`DIAGNOSTIC_MAX_IMPACT`); a model that really fails on a subset shows as HIGH
in Subset Accuracy, Subset Log Loss or the regression errors. Group rates by protected
feature are the Bias and Fairness tests' job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from pytest_rime.engine.context import RunContext, Which
from pytest_rime.engine.data import DATETIME, TEXT, FeatureInfo
from pytest_rime.engine.metrics import (
    ACCURACY,
    LOG_LOSS_EPSILON,
    FloatArray,
    IntArray,
    Metric,
    MetricInputs,
    _binary_row_losses,
    _multiclass_row_losses,
    all_metrics,
    metric_names,
    roc_auc,
    task_metrics,
)
from pytest_rime.engine.performance import dataset_metrics, metric_inputs
from pytest_rime.engine.profile import numeric_values
from pytest_rime.engine.registry import Finding, TestFunction, TestSettings, register_test
from pytest_rime.engine.resampling import random_subset_sums, tail_p_value
from pytest_rime.engine.results import JSONValue, Severity
from pytest_rime.engine.stats import normal_p_value, unsorted_quantile_edges
from pytest_rime.engine.tests._families import named_test
from pytest_rime.vocabulary import MULTICLASS, REGRESSION

CATEGORY = "Subset Performance"
MISSING = "(missing)"
OTHER = "Other"
FULL_IMPACT_SHARE = 0.1
"""A subset holding at least this share of the eval rows has full impact (1.0)."""

ABSOLUTE_THRESHOLDS = (0.05, 0.1, 0.2)
RANKING_THRESHOLDS = (0.1, 0.2, 0.3)
CONDITIONAL_THRESHOLDS = (0.2, 0.4, 0.7)
RELATIVE_THRESHOLDS = (0.25, 0.5, 1.0)
DIAGNOSTIC_MAX_IMPACT = 0.25
"""Impact cap of ``Subset <metric>`` cases of ranking and conditional metrics.

It is below :data:`pytest_rime.engine.severity.IMPACT_MEDIUM`, so those cases are at most MEDIUM.
"""
DEGRADATION_THRESHOLDS = (0.1, 0.2, 0.3)
SUBSET_PARAMS: Mapping[str, Any] = {"min_subset_size": 50, "numeric_bins": 5, "max_categories": 10}
"""``tests_config`` parameters of every subset test, with their defaults."""

_EXCLUDED_METRIC_SLUGS = ("calibration_comparison", "r2")
AUTO = "auto"
"""The ``metric`` parameter's default: the task's primary metric."""


@dataclass(frozen=True)
class SubsetSplit:
    """The subsets of one feature and the subset index of every ref and eval row."""

    feature: str
    names: tuple[str, ...]
    ref_codes: IntArray
    eval_codes: IntArray
    key: str


def _bin_names(edges: np.ndarray) -> list[str]:
    labels = [f"{edge:.4g}" for edge in edges]
    middle = [f"[{a}, {b})" for a, b in pairwise(labels)]
    return [f"< {labels[0]}", *middle, f">= {labels[-1]}"]


def _numeric_split(
    ref: pd.Series, cur: pd.Series, bins: int
) -> tuple[list[str], IntArray, IntArray]:
    ref_values, eval_values = numeric_values(ref), numeric_values(cur)
    edges = unsorted_quantile_edges(ref_values[np.isfinite(ref_values)], bins)
    names = _bin_names(edges) if edges.size else ["all values"]

    def codes(values: np.ndarray) -> IntArray:
        out = np.searchsorted(edges, values, side="right").astype(np.int64)
        out[~np.isfinite(values)] = len(names)
        return out

    return [*names, MISSING], codes(ref_values), codes(eval_values)


def _categorical_split(
    ref: pd.Series, cur: pd.Series, max_categories: int
) -> tuple[list[str], IntArray, IntArray]:
    if (
        ref.dtype == cur.dtype
        and ref.dtype != object
        and not isinstance(ref.dtype, pd.CategoricalDtype)
    ):
        ref_values, eval_values = ref, cur  # same values and order as objects, hashed natively
    else:
        ref_values, eval_values = ref.astype(object), cur.astype(object)
    top = list(ref_values.value_counts(dropna=True).index[:max_categories])
    index = pd.Index(top, dtype=ref_values.dtype)

    def codes(values: pd.Series) -> IntArray:
        out = np.asarray(index.get_indexer(values), dtype=np.int64)
        out[out < 0] = len(top)  # Other
        out[values.isna().to_numpy()] = len(top) + 1
        return out

    return [*(str(value) for value in top), OTHER, MISSING], codes(ref_values), codes(eval_values)


def feature_subsets(
    ctx: RunContext, info: FeatureInfo, params: Mapping[str, Any]
) -> SubsetSplit | None:
    """The subsets of feature ``info`` (module docstring), cached per parameters.

    Returns ``None`` for text and datetime features and features missing from eval.
    """
    name = info.name
    if info.type in (TEXT, DATETIME) or name not in ctx.eval.columns:
        return None
    bins, max_categories = int(params["numeric_bins"]), int(params["max_categories"])

    key = f"{name}:{bins}:{max_categories}"

    def compute() -> SubsetSplit:
        ref, cur = ctx.ref[name], ctx.eval[name]
        few_values = ref.nunique(dropna=True) <= max_categories
        if info.is_numeric and not info.is_categorical and not few_values:
            names, ref_codes, eval_codes = _numeric_split(ref, cur, bins)
        else:
            names, ref_codes, eval_codes = _categorical_split(ref, cur, max_categories)
        return SubsetSplit(name, tuple(names), ref_codes, eval_codes, key)

    return ctx.memo(f"subsets:{key}", compute)


def split_features(ctx: RunContext, params: Mapping[str, Any]) -> tuple[SubsetSplit, ...]:
    """The subset splits of every feature that can be split.

    Cached per parameters: each subset's p-value asks for them, so wide data would otherwise
    cost the number of features squared.
    """

    def compute() -> tuple[SubsetSplit, ...]:
        splits = (feature_subsets(ctx, info, params) for info in ctx.features.values())
        return tuple(split for split in splits if split is not None)

    key = f"split_features:{int(params['numeric_bins'])}:{int(params['max_categories'])}"
    return ctx.memo(key, compute)


def impact_of_share(share: float) -> float:
    """Impact of a subset holding ``share`` of the eval rows (module docstring)."""
    return min(1.0, share / FULL_IMPACT_SHARE)


def subset_impact(metric: Metric, share: float) -> float:
    """Impact of a ``Subset <metric>`` case: the share's, capped for diagnostic metrics."""
    impact = impact_of_share(share)
    if metric.ranking or metric.conditional:
        return min(impact, DIAGNOSTIC_MAX_IMPACT)
    return impact


@dataclass(frozen=True)
class SubsetValue:
    """A metric on one subset (``value`` is ``None`` when excluded or undefined)."""

    name: str
    size: int
    support: int
    value: float | None

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready form."""
        return {"subset": self.name, "size": self.size, "metric": self.value}


@dataclass(frozen=True)
class _SubsetScores:
    """Every metric of the task on one non-empty subset, with each metric's support."""

    name: str
    size: int
    supports: Mapping[str, int]
    values: Mapping[str, float | None]


def _subset_scores(ctx: RunContext, which: Which, split: SubsetSplit) -> list[_SubsetScores]:
    """Every task metric on every non-empty subset of ``split`` (computed once per run).

    The rows are grouped by subset (:func:`_grouped_rows`), so each subset is a slice, in score
    order for binary scores (its AUC needs no sort).
    """

    def compute() -> list[_SubsetScores]:
        within, bounds = _grouped_rows(ctx, which, split)
        grouped = _score_sorted_inputs(ctx, which).subset(within)
        scores = []
        for index, name in enumerate(split.names):
            start, stop = int(bounds[index]), int(bounds[index + 1])
            if stop == start:
                continue
            subset = grouped.subset(slice(start, stop))
            metrics = task_metrics(ctx.model_task)
            scores.append(
                _SubsetScores(
                    name=name,
                    size=stop - start,
                    supports={m.name: m.support(subset) for m in metrics},
                    values={m.name: m.compute(subset) for m in metrics},
                )
            )
        return scores

    return ctx.memo(f"subset_scores:{which}:{split.key}", compute)


def subset_values(
    ctx: RunContext, which: Which, split: SubsetSplit, metric: Metric, min_size: int
) -> list[SubsetValue]:
    """``metric`` on every non-empty subset of ``split`` in ``ref`` or ``eval``.

    A subset whose support for the metric is below ``min_size`` gets ``value=None``.
    """
    return [
        SubsetValue(
            scores.name,
            scores.size,
            scores.supports[metric.name],
            scores.values[metric.name] if scores.supports[metric.name] >= min_size else None,
        )
        for scores in _subset_scores(ctx, which, split)
    ]


# ------------------------------------------------------------------------------ evidence
REGRESSION_STRATA = 10
"""Quantile bins of the target that the random subsets of a regression null match."""

POOL_CAP = 2000
"""Rows of one subset (ref and eval together) the degradation permutation test uses at most."""

NULL_ROWS = 20_000
"""Eval rows the random subsets of :func:`subset_null` are drawn from at most.

Above it they come from a random sample of this many rows, each subset's counts scaled down
alike: the null of a smaller subset is wider, so the p-value is conservative."""

_Values = Callable[[FloatArray, Mapping[str, int]], FloatArray]


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """``numerator / denominator``, NaN where the denominator is not positive."""
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _column(name: str) -> Callable[[FloatArray, Mapping[str, int]], FloatArray]:
    return lambda sums, cols: sums[..., cols[name]]


def _classes(sums: FloatArray, cols: Mapping[str, int], part: str) -> FloatArray:
    start = cols[f"{part}:0"]
    return sums[..., start : start + cols["classes"]]


def _macro(part: Callable[[FloatArray, FloatArray, FloatArray], FloatArray]) -> _Values:
    """A macro metric over the classes present in the subset (as in the metrics module)."""

    def value(sums: FloatArray, cols: Mapping[str, int]) -> FloatArray:
        tp, predicted, actual = (_classes(sums, cols, p) for p in ("tp", "pred", "actual"))
        per_class = np.nan_to_num(part(tp, predicted, actual), nan=0.0)
        present = (predicted + actual) > 0
        return _ratio(np.sum(per_class * present, axis=-1), np.sum(present, axis=-1))

    return value


def _mean_of(name: str) -> _Values:
    return lambda sums, cols: _ratio(sums[..., cols[name]], sums[..., cols["one"]])


_SUM_FORMS: Mapping[str, _Values] = {
    "Accuracy": _mean_of("correct"),
    "Log Loss": _mean_of("loss"),
    "Multi-class Log Loss": _mean_of("loss"),
    "Precision": lambda s, c: _ratio(_column("tp")(s, c), _column("pred")(s, c)),
    "Recall": lambda s, c: _ratio(_column("tp")(s, c), _column("pos")(s, c)),
    "F1": lambda s, c: _ratio(2 * s[..., c["tp"]], s[..., c["pos"]] + s[..., c["pred"]]),
    "FPR": lambda s, c: _ratio(
        s[..., c["pred"]] - s[..., c["tp"]], s[..., c["one"]] - s[..., c["pos"]]
    ),
    "FNR": lambda s, c: _ratio(s[..., c["pos"]] - s[..., c["tp"]], s[..., c["pos"]]),
    "Macro Precision": _macro(lambda tp, predicted, _: _ratio(tp, predicted)),
    "Macro Recall": _macro(lambda tp, _, actual: _ratio(tp, actual)),
    "Macro F1": _macro(lambda tp, predicted, actual: _ratio(2 * tp, predicted + actual)),
    "MAE": _mean_of("abs_error"),
    "MSE": _mean_of("sq_error"),
    "RMSE": lambda s, c: np.sqrt(_mean_of("sq_error")(s, c)),
    "MAPE": lambda s, c: _ratio(s[..., c["pct_error"]], s[..., c["nonzero"]]),
}
"""Every metric that is a function of per-row sums over the subset (:func:`row_parts`)."""


@dataclass(frozen=True)
class RowParts:
    """Per-row values whose sums over any subset give every metric of :data:`_SUM_FORMS`."""

    values: FloatArray
    columns: Mapping[str, int]

    def metric(self, metric: Metric, sums: npt.ArrayLike) -> FloatArray | None:
        """``metric`` from sums (..., columns) of the parts; ``None`` without a sum form."""
        form = _SUM_FORMS.get(metric.name)
        return None if form is None else form(np.asarray(sums, dtype=float), self.columns)


def row_parts(inputs: MetricInputs, n_classes: int) -> RowParts:
    """The per-row parts of ``inputs`` (see :class:`RowParts`).

    Binary: correct, log loss, positive, predicted positive, true positive. Multi-class:
    correct, log loss, and per class (``n_classes`` plus one for labels outside the classes)
    actual, predicted and true positive indicators. Regression: absolute, squared and
    percentage error, and whether the target is non-zero. Every task has ``one`` (the count).
    """
    parts: dict[str, npt.NDArray[Any]] = {"one": np.ones(inputs.size)}
    if inputs.task == REGRESSION:
        error = inputs.y_true - inputs.y_pred
        nonzero = inputs.y_true != 0
        parts["abs_error"] = np.abs(error)
        parts["sq_error"] = error**2
        parts["pct_error"] = np.divide(
            np.abs(error), np.abs(inputs.y_true), out=np.zeros(inputs.size), where=nonzero
        )
        parts["nonzero"] = nonzero
        return _stack(parts)
    parts["correct"] = inputs.y_true == inputs.y_pred
    parts["loss"] = _row_log_loss(inputs)
    if inputs.task != MULTICLASS:
        parts.update(pos=inputs.y_true, pred=inputs.y_pred, tp=inputs.y_true & inputs.y_pred)
        return _stack(parts)
    classes = n_classes + 1  # code -1 (a label outside the classes) becomes class 0
    truth, predicted = inputs.y_true + 1, inputs.y_pred + 1
    for name, codes in (("actual", truth), ("pred", predicted)):
        for k in range(classes):
            parts[f"{name}:{k}"] = codes == k
    for k in range(classes):
        parts[f"tp:{k}"] = (truth == k) & (predicted == k)
    table = _stack(parts)
    return RowParts(table.values, {**table.columns, "classes": classes})


def _stack(parts: Mapping[str, npt.NDArray[Any]]) -> RowParts:
    return RowParts(
        np.column_stack([np.asarray(v, dtype=float) for v in parts.values()]),
        {name: i for i, name in enumerate(parts)},
    )


def _row_log_loss(inputs: MetricInputs) -> FloatArray:
    """Per-row cross-entropy (the mean is the log loss); zeros without probabilities."""
    if inputs.scores is None:
        return np.zeros(inputs.size)
    if inputs.scores.ndim == 1:
        return _binary_row_losses(inputs.y_true, inputs.scores)
    return _multiclass_row_losses(inputs.y_true, inputs.scores)


def label_strata(inputs: MetricInputs) -> IntArray:
    """Stratum of every row: its class, or its target's eval decile for regression."""
    if inputs.task == REGRESSION:
        edges = unsorted_quantile_edges(inputs.y_true, REGRESSION_STRATA)
        raw = np.searchsorted(edges, inputs.y_true, side="right")
    else:
        raw = np.asarray(inputs.y_true, dtype=np.int64)
    _, codes = np.unique(raw, return_inverse=True)
    return np.asarray(codes, dtype=np.int64).ravel()


def _auc_variance(inputs: MetricInputs) -> float | None:
    """Hanley--McNeil variance of the (macro one-vs-rest) AUC of ``inputs``."""
    if inputs.scores is None:
        return None
    if inputs.scores.ndim == 1:
        pairs = [(inputs.y_true, inputs.scores)]
    else:
        pairs = [(inputs.y_true == k, inputs.scores[:, k]) for k in range(inputs.scores.shape[1])]
    variances = []
    for truth, scores in pairs:
        auc = roc_auc(np.asarray(truth, dtype=bool), scores)
        if auc is None:
            continue
        n_pos = int(np.sum(truth))
        variances.append(_hanley_mcneil(auc, n_pos, truth.size - n_pos))
    return float(np.sum(variances)) / len(variances) ** 2 if variances else None


def _hanley_mcneil(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley--McNeil variance of an AUC on ``n_pos`` positives and ``n_neg`` negatives."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    return float(
        (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2))
        / (n_pos * n_neg)
    )


def _normal_p(worse_by: float, variance: float | None) -> float | None:
    """One-sided normal p-value of a metric ``worse_by`` this much, given its variance."""
    if variance is None or not np.isfinite(worse_by):
        return None
    return normal_p_value(worse_by, float(np.sqrt(max(variance, 0.0))))


def _badness(metric: Metric, values: npt.ArrayLike) -> FloatArray:
    """Values oriented so that larger is worse."""
    array = np.asarray(values, dtype=float)
    return -array if metric.higher_is_better else array


def eval_parts(ctx: RunContext) -> RowParts:
    """The per-row metric parts of the eval rows (:func:`row_parts`, computed once per run)."""
    return ctx.memo(
        "subset_eval_parts", lambda: row_parts(metric_inputs(ctx, "eval"), len(ctx.classes))
    )


@dataclass(frozen=True)
class SubsetNull:
    """Per-row parts of eval and, per (split key, subset name), sums over random subsets."""

    parts: RowParts
    sums: Mapping[tuple[str, str], FloatArray]

    def p_value(self, split: SubsetSplit, metric: Metric, value: SubsetValue) -> float | None:
        """Share of the random subsets of ``value``'s subset that do as badly as it does.

        :func:`~pytest_rime.engine.resampling.tail_p_value` of the metric on the random
        subsets; ``None`` when ``value`` is undefined, its subset is not in the null or the
        metric is no sum over rows (AUC).
        """
        sums = self.sums.get((split.key, value.name))
        if value.value is None or sums is None:
            return None
        null = self.parts.metric(metric, sums)
        if null is None:
            return None
        return tail_p_value(_badness(metric, null), float(_badness(metric, value.value)))


def subset_null(
    ctx: RunContext, splits: Sequence[SubsetSplit], *, seed: str, stratified: bool = True
) -> SubsetNull:
    """Random eval subsets matching every subset of ``splits`` in size (computed once per run).

    Every subset gets :data:`~pytest_rime.engine.resampling.NULL_DRAWS` random subsets with as
    many rows of each stratum (:func:`label_strata` when ``stratified``, else one stratum: the
    size only); one set of permutations, drawn by ``ctx.rng(seed)``, serves them all (from at
    most :data:`NULL_ROWS` rows). The tabular tests draw one null for every feature split, the
    nlp and image tests one per split.
    """
    split_keys = ",".join(split.key for split in splits)

    def compute() -> SubsetNull:
        inputs = metric_inputs(ctx, "eval")
        parts = eval_parts(ctx)
        strata = label_strata(inputs) if stratified else np.zeros(inputs.size, dtype=np.int64)
        n_strata = int(strata.max(initial=-1)) + 1
        rng = ctx.rng(seed)
        sample = np.arange(inputs.size)
        if inputs.size > NULL_ROWS:
            sample = np.sort(rng.choice(inputs.size, NULL_ROWS, replace=False))
        available = np.bincount(strata[sample], minlength=n_strata)
        scale = sample.size / max(1, inputs.size)
        keys: list[tuple[str, str]] = []
        counts: list[IntArray] = []
        for split in splits:
            codes = split.eval_codes[inputs.rows]
            table = np.bincount(
                codes * n_strata + strata, minlength=len(split.names) * n_strata
            ).reshape(len(split.names), n_strata)
            for index, name in enumerate(split.names):
                if table[index].any():
                    keys.append((split.key, name))
                    scaled = np.round(table[index] * scale).astype(np.int64)
                    counts.append(np.minimum(np.maximum(scaled, table[index] > 0), available))
        if not keys:
            return SubsetNull(parts, {})
        unique, inverse = np.unique(np.stack(counts), axis=0, return_inverse=True)
        sums = random_subset_sums(parts.values[sample], unique, rng, strata=strata[sample])
        return SubsetNull(
            parts, {key: sums[:, int(i), :] for key, i in zip(keys, inverse.ravel(), strict=True)}
        )

    return ctx.memo(f"subset_null:{seed}:{stratified}:{split_keys}", compute)


def _score_order(ctx: RunContext, which: Which) -> IntArray | None:
    """Positions of the metric inputs of ``which`` by ascending binary score (cached).

    ``None`` without one-dimensional scores (multi-class, regression, labels only).
    """

    def compute() -> IntArray | None:
        scores = metric_inputs(ctx, which).scores
        if scores is None or scores.ndim != 1:
            return None
        return np.argsort(scores, kind="stable").astype(np.int64)

    return ctx.memo(f"subset_score_order:{which}", compute)


def _score_sorted_inputs(ctx: RunContext, which: Which) -> MetricInputs:
    """The metric inputs of ``which`` in :func:`_score_order` (as given without binary scores)."""

    def compute() -> MetricInputs:
        base = _score_order(ctx, which)
        inputs = metric_inputs(ctx, which)
        return inputs if base is None else inputs.subset(base)

    return ctx.memo(f"subset_score_sorted:{which}", compute)


_Positions = npt.NDArray[np.signedinteger[Any]]


def _grouped_rows(ctx: RunContext, which: Which, split: SubsetSplit) -> tuple[_Positions, IntArray]:
    """Positions in :func:`_score_sorted_inputs` grouped by subset, and the group bounds.

    Subset ``i`` is ``within[bounds[i]:bounds[i + 1]]``: a stable radix sort of the small
    subset codes keeps the score order inside each subset. Held as int32 (4 bytes a row per
    feature and side).
    """

    def compute() -> tuple[_Positions, IntArray]:
        inputs = metric_inputs(ctx, which)
        codes = (split.ref_codes if which == "ref" else split.eval_codes)[inputs.rows]
        base = _score_order(ctx, which)
        if base is not None:
            codes = codes[base]
        small = codes.astype(np.int16) if len(split.names) < np.iinfo(np.int16).max else codes
        within = np.argsort(small, kind="stable")
        bounds = np.searchsorted(small[within], np.arange(len(split.names) + 1))
        positions = within.astype(np.int32) if within.size < np.iinfo(np.int32).max else within
        return positions, bounds.astype(np.int64)

    return ctx.memo(f"subset_grouped:{which}:{split.key}", compute)


def _subset_rows(ctx: RunContext, which: Which, split: SubsetSplit, name: str) -> IntArray:
    """Positions (in the metric inputs of ``which``) of the rows of subset ``name``.

    In score order for binary scores (:func:`_grouped_rows`).
    """
    within, bounds = _grouped_rows(ctx, which, split)
    index = split.names.index(name)
    part = within[bounds[index] : bounds[index + 1]]
    base = _score_order(ctx, which)
    return np.asarray(part if base is None else base[part], dtype=np.int64)


def subset_p_value(
    ctx: RunContext,
    params: Mapping[str, Any],
    split: SubsetSplit,
    metric: Metric,
    value: SubsetValue,
    overall: float,
) -> float | None:
    """P-value that a random eval subset with the same label mix does as badly as ``value``.

    Sum-decomposable metrics read it off the random subsets of :func:`subset_null`
    (:func:`~pytest_rime.engine.resampling.tail_p_value`); ranking metrics (AUC) use the
    normal approximation with the Hanley--McNeil variance of the subset's AUC, shrunk by the
    finite-population factor ``1 - size / rows``. ``None`` when the metric is undefined.
    """
    if value.value is None:
        return None
    if metric.name in _SUM_FORMS:
        null = subset_null(ctx, split_features(ctx, params), seed="subset_null")
        return null.p_value(split, metric, value)
    inputs = metric_inputs(ctx, "eval")
    known = next(
        (
            scores
            for scores in _subset_scores(ctx, "eval", split)
            if scores.name == value.name and metric.name == "AUC" and "FPR" in scores.supports
        ),
        None,
    )
    variance: float | None
    if known is not None:  # binary: the subset's AUC and class counts are already known
        variance = _hanley_mcneil(value.value, known.supports["Recall"], known.supports["FPR"])
    else:
        variance = _auc_variance(inputs.subset(_subset_rows(ctx, "eval", split, value.name)))
    shrink = 1 - value.size / inputs.size
    worse_by = float(_badness(metric, value.value) - _badness(metric, overall))
    return _normal_p(worse_by, None if variance is None else variance * shrink)


def degradation_p_value(
    ctx: RunContext, split: SubsetSplit, metric: Metric, drop: float, name: str
) -> float | None:
    """P-value of a subset's ref-to-eval ``drop`` of ``metric`` under exchangeable rows.

    A permutation test: the subset's ref and eval rows are pooled (at most :data:`POOL_CAP`,
    sampled from both sides in proportion, which only widens the null) and split at random
    into parts of the ref and eval sizes, as sums over index matrices. Ranking metrics use
    the normal approximation with the Hanley--McNeil variances of both AUCs.
    """
    ref_inputs, eval_inputs = metric_inputs(ctx, "ref"), metric_inputs(ctx, "eval")
    ref_rows = _subset_rows(ctx, "ref", split, name)
    eval_rows = _subset_rows(ctx, "eval", split, name)
    if metric.name not in _SUM_FORMS:
        variances = [
            _auc_variance(i.subset(r))
            for i, r in ((ref_inputs, ref_rows), (eval_inputs, eval_rows))
        ]
        known = [v for v in variances if v is not None]
        return _normal_p(drop, sum(known) if len(known) == 2 else None)
    rng = ctx.rng(f"subset_degradation:{split.key}:{name}")
    pooled = ref_rows.size + eval_rows.size
    if pooled > POOL_CAP:
        keep = POOL_CAP / pooled
        ref_rows = rng.choice(ref_rows, max(1, round(ref_rows.size * keep)), replace=False)
        eval_rows = rng.choice(eval_rows, max(1, round(eval_rows.size * keep)), replace=False)
    classes = len(ctx.classes)
    ref_parts = row_parts(ref_inputs.subset(ref_rows), classes)
    eval_parts = row_parts(eval_inputs.subset(eval_rows), classes)
    values = np.vstack([ref_parts.values, eval_parts.values])
    eval_sums = random_subset_sums(values, [eval_rows.size], rng)[:, 0, :]
    eval_null = ref_parts.metric(metric, eval_sums)
    ref_null = ref_parts.metric(metric, values.sum(axis=0) - eval_sums)
    assert eval_null is not None and ref_null is not None  # the metric has a sum form
    drops = np.vectorize(metric.degradation, otypes=[float])(ref_null, eval_null)
    return tail_p_value(drops, drop)


def bonferroni(p_value: float, tests: int) -> float:
    """``p_value`` of the most extreme of ``tests`` comparisons, Bonferroni-corrected."""
    return min(1.0, p_value * max(1, tests))


T = TypeVar("T")


def pick_worst(candidates: list[tuple[float, float, T]], alpha: float) -> tuple[float, float, T]:
    """The candidate ``(gap, p, item)`` a case reports, with its p corrected for the choice.

    The largest gap among the candidates whose Bonferroni-corrected p-value (over all
    candidates) is below ``alpha``, else the largest gap of all: a large gap on a few noisy
    rows does not hide a smaller one that is real.
    """
    tests = len(candidates)
    corrected = [(gap, bonferroni(p, tests), item) for gap, p, item in candidates]
    significant = [c for c in corrected if c[1] < alpha]
    return max(significant or corrected, key=lambda c: c[0])


def _too_small(feature: str, min_size: int, metric: Metric) -> Finding:
    return Finding.skip(
        (feature,),
        f"Skipped: no subset of feature {feature!r} has {min_size} rows on which {metric.name} "
        f"is defined (it needs {metric.requirement}; min_subset_size={min_size}).",
    )


def gap_candidates(
    values: Sequence[SubsetValue],
    metric: Metric,
    overall: float,
    p_value: Callable[[SubsetValue], float | None],
) -> list[tuple[float, float, SubsetValue]]:
    """``(gap to overall, p-value, value)`` of every subset whose metric and p-value are defined."""
    scored = []
    for v in values:
        p = p_value(v)
        if v.value is not None and p is not None:
            scored.append((metric.degradation(overall, v.value), p, v))
    return scored


@dataclass(frozen=True)
class WorstGap:
    """The subset a gap case reports (:func:`pick_worst`), with what its Finding says of it."""

    split: SubsetSplit
    metric: Metric
    overall: float
    gap: float
    p_value: float
    worst: SubsetValue
    worst_value: float
    share: float
    ref_value: float | None
    known: str | None
    tests: int
    p_by_subset: Mapping[str, float]

    def metrics(self, min_size: int, method: str, subsets: list[JSONValue]) -> dict[str, JSONValue]:
        """The case's metrics (``subsets``: the per-subset rows, ``method``: the p-value's)."""
        return {
            "metric": self.metric.name,
            "overall_metric": self.overall,
            "worst_subset": self.worst.name,
            "worst_subset_metric": self.worst_value,
            "worst_subset_ref_metric": self.ref_value,
            "worst_subset_size": self.worst.size,
            "worst_subset_share": self.share,
            "gap": self.gap,
            "gap_kind": "relative" if self.metric.relative else "absolute",
            "min_subset_size": min_size,
            "p_value_method": method,
            "subsets": subsets,
        }

    def mix_metrics(
        self, min_size: int, mix: str, values: Sequence[SubsetValue]
    ) -> dict[str, JSONValue]:
        """:meth:`metrics` with the subsets' ``values`` and support, p-values by random eval rows.

        ``mix``: what the random eval rows keep of the subset ("labels", "size").
        """
        return self.metrics(
            min_size,
            f"random eval subsets with the same {mix}, Bonferroni over the subsets",
            [
                {**v.to_dict(), "support": v.support, "p_value": self.p_by_subset.get(v.name)}
                for v in values
            ],
        )

    def describe(self, subset: str, of: str, mix: str) -> str:
        """The case's description: "<metric> on <subset> '<worst>' of <of> is ...".

        ``subset``: how the subsets are named ("subset", "the length subset"); ``of``: what
        they split ("feature 'x'"); ``mix``: what the random eval rows of the p-value keep.
        """
        return (
            f"{self.metric.name} on {subset} {self.worst.name!r} of {of} is "
            f"{self.worst_value:.4g} vs {self.overall:.4g} on all eval rows ({self.worst.size} "
            f"rows, {self.share:.1%} of eval); random eval rows with the same {mix} do as badly "
            f"with p = {self.p_value:.2g} (corrected for {self.tests} subsets)."
        )

    def finding(self, description: str, metrics: Mapping[str, JSONValue]) -> Finding:
        """The case: impact of the subset's share, at most MEDIUM for a known weakness."""
        return Finding(
            features=(self.split.feature,),
            statistic=self.gap,
            description=description,
            metrics=dict(metrics),
            impact=subset_impact(self.metric, self.share),
            severity_cap=None if self.known is None else Severity.MEDIUM,
            cap_reason=self.known or "",
            p_value=self.p_value,
        )


def worst_gap(
    ctx: RunContext,
    split: SubsetSplit,
    metric: Metric,
    overall: float,
    scored: list[tuple[float, float, SubsetValue]],
    min_size: int,
) -> WorstGap:
    """The worst of the (non-empty) ``scored`` gap candidates, its share, ref value and cap."""
    gap, p_value, worst = pick_worst(scored, ctx.config.significance_level)
    assert worst.value is not None
    in_ref = {v.name: v.value for v in subset_values(ctx, "ref", split, metric, min_size)}
    return WorstGap(
        split=split,
        metric=metric,
        overall=overall,
        gap=gap,
        p_value=p_value,
        worst=worst,
        worst_value=worst.value,
        share=worst.size / metric_inputs(ctx, "eval").size,
        ref_value=in_ref.get(worst.name),
        known=known_weakness(ctx, split, metric, worst, gap, in_ref.get(worst.name)),
        tests=len(scored),
        p_by_subset={v.name: p for _, p, v in scored},
    )


def _gap_finding(
    ctx: RunContext, settings: TestSettings, split: SubsetSplit, metric: Metric, overall: float
) -> Finding:
    min_size = int(settings.params["min_subset_size"])
    values = subset_values(ctx, "eval", split, metric, min_size)
    scored = gap_candidates(
        values,
        metric,
        overall,
        lambda v: subset_p_value(ctx, settings.params, split, metric, v, overall),
    )
    if not scored:
        return _too_small(split.feature, min_size, metric)
    case = worst_gap(ctx, split, metric, overall, scored, min_size)
    mix = "target range" if ctx.model_task == REGRESSION else "labels"
    return case.finding(
        case.describe("subset", f"feature {split.feature!r}", mix),
        case.metrics(
            min_size,
            _method(metric, "random subsets with the same label mix"),
            [{**v.to_dict(), "p_value": case.p_by_subset.get(v.name)} for v in values],
        ),
    )


def no_skill_comparison(subset: MetricInputs, ref: MetricInputs) -> tuple[float, float, bool]:
    """Mean loss on ``subset`` of the model and of the no-skill model, and whether it is worse.

    The no-skill model is one constant fitted to all of ``ref`` (its class shares as
    probabilities, its majority class when the model gives labels only, or its median label);
    the loss is the task's primary one (log loss, 0/1 error, or absolute error). The model
    is worse when the mean of the paired per-row differences exceeds two standard errors. The
    constant of the subset's own labels would be an oracle: on a subset that a feature ties to
    a narrow range of the label it beats any model trained on all rows.
    """
    y, y_ref = subset.y_true, ref.y_true
    if subset.task == REGRESSION:
        model_loss = np.abs(y - subset.y_pred)
        constant_loss = np.abs(y - np.median(y_ref))
    elif subset.scores is not None:
        model_loss = _row_log_loss(subset)
        values, counts = np.unique(y_ref, return_counts=True)
        shares = dict(zip(values.tolist(), (counts / y_ref.size).tolist(), strict=True))
        constant = np.array([shares.get(label, 0.0) for label in y.tolist()])
        constant_loss = -np.log(np.clip(constant, LOG_LOSS_EPSILON, 1.0))
    else:
        values, counts = np.unique(y_ref, return_counts=True)
        model_loss = (subset.y_pred != y).astype(float)
        constant_loss = (y != values[np.argmax(counts)]).astype(float)
    difference = model_loss - constant_loss
    spread = float(difference.std(ddof=1)) / np.sqrt(difference.size) if difference.size > 1 else 0
    worse = float(difference.mean()) > 2 * spread
    return float(model_loss.mean()), float(constant_loss.mean()), worse


def promised_accuracy(subset: MetricInputs) -> tuple[float, float] | None:
    """The accuracy of a classifier on ``subset`` and the lowest its probabilities promise.

    A calibrated model is right on a row with probability equal to its confidence in its own
    decision (the larger of ``p`` and ``1 - p``, or the top class probability), so its accuracy
    on the subset is expected at the mean confidence, with the standard error of a sum of
    independent Bernoulli trials. Returns ``(accuracy, mean confidence - 2 standard errors)``;
    ``None`` for regression, label-only predictions or an empty subset.
    """
    if subset.scores is None or subset.size == 0 or subset.task == REGRESSION:
        return None
    scores = np.asarray(subset.scores, dtype=float)
    confidence = np.maximum(scores, 1 - scores) if scores.ndim == 1 else scores.max(axis=1)
    spread = float(np.sqrt(np.sum(confidence * (1 - confidence)))) / subset.size
    accuracy = float(np.mean(subset.y_pred == subset.y_true))
    return accuracy, float(confidence.mean()) - 2 * spread


def known_weakness(
    ctx: RunContext,
    split: SubsetSplit,
    metric: Metric,
    worst: SubsetValue,
    gap: float,
    ref_value: float | None,
) -> str | None:
    """Why subset ``worst`` is a known, not material, weakness (``None``: it is material).

    Harder, not mishandled: a classifier right on the subset as often as its own probabilities
    promise (:func:`promised_accuracy`) is honest about rows that are uncertain by nature (the
    high-balance card holders among whom the defaults are); its subset metrics are worse than
    overall because the subset is, not because the model fails there.

    Known: the same subset is at least half as far behind in ref (so the weakness is not new
    in eval and was visible on the reference data) and the model is not significantly worse
    there than the no-skill model in the task's primary loss (:func:`no_skill_comparison`;
    scale-sensitive metrics such as MAPE on a subset of small labels would call any model
    trained on all rows useless there). A model worse than knowing nothing on a subset is a
    fault whatever ref shows.
    """
    subset = metric_inputs(ctx, "eval").subset(_subset_rows(ctx, "eval", split, worst.name))
    promised = promised_accuracy(subset)
    if promised is not None and promised[0] >= promised[1]:
        return (
            f"At most MEDIUM: on this subset the model is right as often as its own "
            f"probabilities promise (accuracy {promised[0]:.4g}, promised {promised[1]:.4g} "
            "less two standard errors): the subset is harder, not mishandled."
        )
    ref_overall = dataset_metrics(ctx, "ref").get(metric.name)
    if ref_value is None or ref_overall is None or worst.value is None:
        return None
    ref_gap = metric.degradation(ref_overall, ref_value)
    if not ref_gap >= gap / 2:
        return None
    if subset.size == 0:
        return None
    model_loss, constant_loss, worse = no_skill_comparison(subset, metric_inputs(ctx, "ref"))
    if worse:
        return None
    return (
        f"At most MEDIUM: the subset is as weak in ref ({metric.name} {ref_value:.4g} vs "
        f"{ref_overall:.4g} overall), a known property of the model rather than new in eval, and "
        f"the model is no worse there than the no-skill constant prediction (mean loss "
        f"{model_loss:.4g} vs {constant_loss:.4g})."
    )


def _method(metric: Metric, resampled: str) -> str:
    if metric.name in _SUM_FORMS:
        return f"{resampled}, Bonferroni over the subsets"
    return "normal approximation (Hanley-McNeil variance), Bonferroni over the subsets"


def subset_metric_findings(
    ctx: RunContext, settings: TestSettings, metric: Metric
) -> list[Finding]:
    """One case per feature: the worst subset's gap of ``metric`` to the whole eval set."""
    if metric.name not in metric_names(ctx.model_task):
        return []
    overall = dataset_metrics(ctx, "eval")[metric.name]
    if overall is None:
        return [
            Finding.skip(
                (),
                f"Skipped: {metric.name} is not defined on the eval data "
                f"(it needs {metric.requirement}).",
            )
        ]
    return [
        _gap_finding(ctx, settings, split, metric, overall)
        for split in split_features(ctx, settings.params)
    ]


def _subset_metric_test(metric: Metric) -> TestFunction:
    return named_test(
        f"subset_{metric.slug}",
        f"Per feature, the worst subset's {metric.name} gap to the whole eval set. Severity: "
        "the threshold level capped by the worst subset's share of the eval rows.",
        lambda ctx, settings: subset_metric_findings(ctx, settings, metric),
    )


def subset_thresholds(metric: Metric) -> tuple[float, float, float]:
    """Default thresholds of ``Subset <metric>`` (see the module docstring)."""
    if metric.relative:
        return RELATIVE_THRESHOLDS
    if metric.ranking:
        return RANKING_THRESHOLDS
    if metric.conditional:
        return CONDITIONAL_THRESHOLDS
    return ABSOLUTE_THRESHOLDS


def _register_subset_metric_tests() -> None:
    for metric in all_metrics():
        if metric.slug in _EXCLUDED_METRIC_SLUGS:
            continue
        register_test(
            f"subset_performance.subset_{metric.slug}",
            name=f"Subset {metric.name}",
            category=CATEGORY,
            thresholds=subset_thresholds(metric),
            description=(
                f"Per feature, the gap of the worst subset's {metric.name} to the whole eval set."
            ),
            needs_labels=True,
            needs_predictions=True,
            params=SUBSET_PARAMS,
        )(_subset_metric_test(metric))


_register_subset_metric_tests()


def chosen_metric(ctx: RunContext, settings: TestSettings, auto: Metric) -> Metric | Finding:
    """The ``metric`` parameter's metric (``auto`` for "auto"), or a SKIP for another task's."""
    choice = str(settings.params["metric"])
    if choice == AUTO:
        return auto
    metric = next((m for m in all_metrics() if m.name == choice), None)
    if metric is None or metric.name not in metric_names(ctx.model_task):
        return Finding.skip(
            (), f"Skipped: metric {choice!r} is not a metric of the {ctx.model_task} task."
        )
    return metric


@dataclass(frozen=True)
class SubsetDrop:
    """A subset's metric in ref and eval and its degradation from one to the other."""

    name: str
    ref: SubsetValue
    eval: SubsetValue
    drop: float

    def to_dict(self, p_value: float | None) -> dict[str, JSONValue]:
        """JSON-ready form, with the drop's p-value."""
        return {
            "subset": self.name,
            "ref_size": self.ref.size,
            "eval_size": self.eval.size,
            "ref_metric": self.ref.value,
            "eval_metric": self.eval.value,
            "p_value": p_value,
        }


def subset_drops(
    ctx: RunContext, split: SubsetSplit, metric: Metric, min_size: int
) -> list[SubsetDrop]:
    """The drop of ``metric`` of every subset of ``split`` defined in both ref and eval."""
    ref = subset_values(ctx, "ref", split, metric, min_size)
    cur = subset_values(ctx, "eval", split, metric, min_size)
    ref_by_name = {v.name: v for v in ref if v.value is not None}
    drops = []
    for value in cur:
        before = ref_by_name.get(value.name)
        if before is None or before.value is None or value.value is None:
            continue
        drops.append(
            SubsetDrop(value.name, before, value, metric.degradation(before.value, value.value))
        )
    return drops


def scored_drops(
    ctx: RunContext, split: SubsetSplit, metric: Metric, drops: list[SubsetDrop]
) -> list[tuple[float, float, SubsetDrop]]:
    """``(drop, p-value, drop)`` of every drop with a p-value (:func:`degradation_p_value`)."""
    return [
        (d.drop, p, d)
        for d in drops
        if (p := degradation_p_value(ctx, split, metric, d.drop, d.name)) is not None
    ]


def degradation_metrics(
    metric: Metric, worst: SubsetDrop, share: float, min_size: int, subsets: list[JSONValue]
) -> dict[str, JSONValue]:
    """The metrics of a degradation case about subset ``worst`` (``subsets``: per-subset rows)."""
    return {
        "metric": metric.name,
        "worst_subset": worst.name,
        "worst_subset_ref_metric": worst.ref.value,
        "worst_subset_eval_metric": worst.eval.value,
        "worst_subset_size": worst.eval.size,
        "worst_subset_share": share,
        "degradation": worst.drop,
        "degradation_kind": "relative" if metric.relative else "absolute",
        "min_subset_size": min_size,
        "p_value_method": _method(metric, "permutation of the subset's ref and eval rows"),
        "subsets": subsets,
    }


def drop_finding(
    ctx: RunContext,
    split: SubsetSplit,
    metric: Metric,
    scored: list[tuple[float, float, SubsetDrop]],
    drops: Sequence[SubsetDrop],
    naming: tuple[str, str],
    min_size: int,
    context: Mapping[str, JSONValue] | None = None,
) -> Finding:
    """The degradation case of the worst of the (non-empty) ``scored`` drops of ``split``.

    ``drops``: the subsets its metrics list, with their p-values in ``scored``; ``naming``:
    ``(subset, of)`` as in :meth:`WorstGap.describe`; ``context``: metrics put before the rest.
    Impact: the worst subset's share of the eval rows.
    """
    _, p_value, worst = pick_worst(scored, ctx.config.significance_level)
    share = worst.eval.size / metric_inputs(ctx, "eval").size
    p_by_subset = {d.name: p for _, p, d in scored}
    subset, of = naming
    return Finding(
        features=(split.feature,),
        statistic=worst.drop,
        description=(
            f"{metric.name} on {subset} {worst.name!r} of {of} went from {worst.ref.value:.4g} "
            f"on ref to {worst.eval.value:.4g} on eval ({worst.eval.size} eval rows, "
            f"{share:.1%} of eval); a random split of the subset's rows does as badly with "
            f"p = {p_value:.2g} (corrected for {len(scored)} subsets)."
        ),
        metrics={
            **(context or {}),
            **degradation_metrics(
                metric,
                worst,
                share,
                min_size,
                [d.to_dict(p_by_subset.get(d.name)) for d in drops],
            ),
        },
        impact=impact_of_share(share),
        p_value=p_value,
    )


@register_test(
    "subset_performance.subset_performance_degradation",
    name="Subset Performance Degradation",
    category=CATEGORY,
    thresholds=DEGRADATION_THRESHOLDS,
    description="Per feature, the largest drop of a subset's metric from ref to eval.",
    needs_labels=True,
    needs_predictions=True,
    params={**SUBSET_PARAMS, "metric": AUTO},
    param_choices={"metric": (AUTO, *(m.name for m in all_metrics()))},
)
def subset_performance_degradation(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Per feature, the worst subset's degradation of the metric from ref to eval.

    The metric is the ``metric`` parameter ("auto": Accuracy for classification, MAE for
    regression); a subset counts when it is large enough in both ref and eval. Severity: the
    threshold level capped by the subset's share of the eval rows.
    """
    auto = "MAE" if ctx.model_task == REGRESSION else ACCURACY.name
    metric = chosen_metric(ctx, settings, next(m for m in all_metrics() if m.name == auto))
    if isinstance(metric, Finding):
        return [metric]
    min_size = int(settings.params["min_subset_size"])
    findings = []
    for split in split_features(ctx, settings.params):
        drops = subset_drops(ctx, split, metric, min_size)
        scored = scored_drops(ctx, split, metric, drops)
        if not scored:
            findings.append(_too_small(split.feature, min_size, metric))
            continue
        findings.append(
            drop_finding(
                ctx,
                split,
                metric,
                scored,
                drops,
                ("subset", f"feature {split.feature!r}"),
                min_size,
            )
        )
    return findings
