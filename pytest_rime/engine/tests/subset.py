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

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from pytest_rime.engine.context import REGRESSION, RunContext, Which
from pytest_rime.engine.data import DATETIME, TEXT, FeatureInfo
from pytest_rime.engine.metrics import (
    ACCURACY,
    IntArray,
    Metric,
    all_metrics,
    dataset_metrics,
    metric_inputs,
    metric_names,
    task_metrics,
)
from pytest_rime.engine.profile import numeric_values
from pytest_rime.engine.registry import Finding, TestFunction, TestSettings, register_test
from pytest_rime.engine.results import JSONValue
from pytest_rime.engine.stats import quantile_edges

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
_AUTO = "auto"


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
    edges = quantile_edges(np.sort(ref_values[np.isfinite(ref_values)]), bins)
    names = _bin_names(edges) if edges.size else ["all values"]

    def codes(values: np.ndarray) -> IntArray:
        out = np.searchsorted(edges, values, side="right").astype(np.int64)
        out[~np.isfinite(values)] = len(names)
        return out

    return [*names, MISSING], codes(ref_values), codes(eval_values)


def _categorical_split(
    ref: pd.Series, cur: pd.Series, max_categories: int
) -> tuple[list[str], IntArray, IntArray]:
    ref_values, eval_values = ref.astype(object), cur.astype(object)
    top = list(ref_values.value_counts(dropna=True).index[:max_categories])
    index = pd.Index(top, dtype=object)

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


def split_features(ctx: RunContext, params: Mapping[str, Any]) -> list[SubsetSplit]:
    """The subset splits of every feature that can be split."""
    splits = (feature_subsets(ctx, info, params) for info in ctx.features.values())
    return [split for split in splits if split is not None]


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

    The rows are grouped by subset with one stable sort, so each subset is a slice (a view).
    """

    def compute() -> list[_SubsetScores]:
        inputs = metric_inputs(ctx, which)
        codes = (split.ref_codes if which == "ref" else split.eval_codes)[inputs.rows]
        order = np.argsort(codes, kind="stable")
        grouped = inputs.subset(order)
        bounds = np.searchsorted(codes[order], np.arange(len(split.names) + 1))
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


def _too_small(feature: str, min_size: int, metric: Metric) -> Finding:
    return Finding.skip(
        (feature,),
        f"Skipped: no subset of feature {feature!r} has {min_size} rows on which {metric.name} "
        f"is defined (it needs {metric.requirement}; min_subset_size={min_size}).",
    )


def _gap_finding(
    ctx: RunContext, split: SubsetSplit, metric: Metric, overall: float, min_size: int
) -> Finding:
    inputs = metric_inputs(ctx, "eval")
    values = subset_values(ctx, "eval", split, metric, min_size)
    scored = [(metric.degradation(overall, v.value), v) for v in values if v.value is not None]
    if not scored:
        return _too_small(split.feature, min_size, metric)
    gap, worst = max(scored, key=lambda pair: pair[0])
    assert worst.value is not None
    share = worst.size / inputs.size
    return Finding(
        features=(split.feature,),
        statistic=gap,
        description=(
            f"{metric.name} on subset {worst.name!r} of feature {split.feature!r} is "
            f"{worst.value:.4g} vs {overall:.4g} on all eval rows ({worst.size} rows, "
            f"{share:.1%} of eval)."
        ),
        metrics={
            "metric": metric.name,
            "overall_metric": overall,
            "worst_subset": worst.name,
            "worst_subset_metric": worst.value,
            "worst_subset_size": worst.size,
            "worst_subset_share": share,
            "gap": gap,
            "gap_kind": "relative" if metric.relative else "absolute",
            "min_subset_size": min_size,
            "subsets": [v.to_dict() for v in values],
        },
        impact=subset_impact(metric, share),
    )


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
    min_size = int(settings.params["min_subset_size"])
    return [
        _gap_finding(ctx, split, metric, overall, min_size)
        for split in split_features(ctx, settings.params)
    ]


def _subset_metric_test(metric: Metric) -> TestFunction:
    def test(ctx: RunContext, settings: TestSettings) -> list[Finding]:
        return subset_metric_findings(ctx, settings, metric)

    test.__name__ = test.__qualname__ = f"subset_{metric.slug}"
    test.__doc__ = (
        f"Per feature, the worst subset's {metric.name} gap to the whole eval set. Severity: "
        "the threshold level capped by the worst subset's share of the eval rows."
    )
    return test


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


def _degradation_metric(ctx: RunContext, choice: str) -> Metric | None:
    if choice == _AUTO:
        choice = "MAE" if ctx.model_task == REGRESSION else ACCURACY.name
    return next((m for m in all_metrics() if m.name == choice), None)


@dataclass(frozen=True)
class _SubsetDrop:
    name: str
    ref: SubsetValue
    eval: SubsetValue
    drop: float


def _subset_drops(
    ctx: RunContext, split: SubsetSplit, metric: Metric, min_size: int
) -> list[_SubsetDrop]:
    ref = subset_values(ctx, "ref", split, metric, min_size)
    cur = subset_values(ctx, "eval", split, metric, min_size)
    ref_by_name = {v.name: v for v in ref if v.value is not None}
    drops = []
    for value in cur:
        before = ref_by_name.get(value.name)
        if before is None or before.value is None or value.value is None:
            continue
        drops.append(
            _SubsetDrop(value.name, before, value, metric.degradation(before.value, value.value))
        )
    return drops


@register_test(
    "subset_performance.subset_performance_degradation",
    name="Subset Performance Degradation",
    category=CATEGORY,
    thresholds=DEGRADATION_THRESHOLDS,
    description="Per feature, the largest drop of a subset's metric from ref to eval.",
    needs_labels=True,
    needs_predictions=True,
    params={**SUBSET_PARAMS, "metric": _AUTO},
    param_choices={"metric": (_AUTO, *(m.name for m in all_metrics()))},
)
def subset_performance_degradation(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Per feature, the worst subset's degradation of the metric from ref to eval.

    The metric is the ``metric`` parameter ("auto": Accuracy for classification, MAE for
    regression); a subset counts when it is large enough in both ref and eval. Severity: the
    threshold level capped by the subset's share of the eval rows.
    """
    metric = _degradation_metric(ctx, str(settings.params["metric"]))
    if metric is None or metric.name not in metric_names(ctx.model_task):
        return [
            Finding.skip(
                (),
                f"Skipped: metric {settings.params['metric']!r} is not a metric of the "
                f"{ctx.model_task} task.",
            )
        ]
    min_size = int(settings.params["min_subset_size"])
    eval_rows = metric_inputs(ctx, "eval").size
    findings = []
    for split in split_features(ctx, settings.params):
        drops = _subset_drops(ctx, split, metric, min_size)
        if not drops:
            findings.append(_too_small(split.feature, min_size, metric))
            continue
        worst = max(drops, key=lambda d: d.drop)
        assert worst.ref.value is not None and worst.eval.value is not None
        share = worst.eval.size / eval_rows
        findings.append(
            Finding(
                features=(split.feature,),
                statistic=worst.drop,
                description=(
                    f"{metric.name} on subset {worst.name!r} of feature {split.feature!r} went "
                    f"from {worst.ref.value:.4g} on ref to {worst.eval.value:.4g} on eval "
                    f"({worst.eval.size} eval rows, {share:.1%} of eval)."
                ),
                metrics={
                    "metric": metric.name,
                    "worst_subset": worst.name,
                    "worst_subset_ref_metric": worst.ref.value,
                    "worst_subset_eval_metric": worst.eval.value,
                    "worst_subset_size": worst.eval.size,
                    "worst_subset_share": share,
                    "degradation": worst.drop,
                    "degradation_kind": "relative" if metric.relative else "absolute",
                    "min_subset_size": min_size,
                    "subsets": [
                        {
                            "subset": d.name,
                            "ref_size": d.ref.size,
                            "eval_size": d.eval.size,
                            "ref_metric": d.ref.value,
                            "eval_metric": d.eval.value,
                        }
                        for d in drops
                    ],
                },
                impact=impact_of_share(share),
            )
        )
    return findings
