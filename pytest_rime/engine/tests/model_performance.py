"""Model Performance tests: each metric of the model task on eval compared with ref.

One test per metric of :mod:`pytest_rime.engine.metrics` ("Accuracy", "AUC", "F1", ...,
"Calibration Comparison" for binary classification; "Macro F1", "Multi-class AUC", ... for
multi-class; "MAE", "MSE", "RMSE", "MAPE", "R2" for regression). A test whose metric does not
belong to the run's task produces no case.

The statistic is the **degradation** from ref to eval, signed so that worse is positive
(:meth:`pytest_rime.engine.metrics.Metric.degradation`):

- metrics in 0..1 and R2: the absolute difference (``ref - eval`` for AUC, ``eval - ref`` for
  FPR); default thresholds :data:`ABSOLUTE_THRESHOLDS` (a drop of 0.05 / 0.10 / 0.15), and
  :data:`CONDITIONAL_THRESHOLDS` (0.05 / 0.10 / 0.20) for the rates conditioned on the label
  or the prediction (F1, Precision, Recall, FPR, FNR, macro versions), which also move with
  the class mix of the data (two random halves of the Titanic data differ by up to 0.14 in
  Recall);
- the calibration error (ECE): the absolute increase, :data:`CALIBRATION_THRESHOLDS`;
- metrics without a fixed scale (log loss, MAE, MSE, RMSE, MAPE): the increase relative to the
  ref value, :data:`RELATIVE_THRESHOLDS` (10 % / 25 % / 50 % worse).

A case is SKIP, with the reason, when the metric is not defined on ref or eval (one class for
AUC, no predicted positives for Precision, a constant target for R2, ...); the runner skips the
tests when labels or predictions are missing. Severity: the threshold level, with impact 1.0
(the metric is the model's own output, so it is never lowered).

Every case carries the one-sided p-value of "eval is worse than ref", so that a degradation
within sampling noise is at most LOW once the run's p-values are adjusted
(:mod:`pytest_rime.engine.evidence`):

- proportions (Accuracy, Precision, Recall, FPR, FNR): Fisher's exact test of the two
  proportions (exact at any size, valid for rare events);
- every other metric (AUC, F1, log loss, calibration error, the multi-class macro metrics, MAE,
  MSE, RMSE, MAPE, R2): a randomisation test of the metric difference. The rows of ref and
  eval are pooled and split at random into a ref side and an eval side a few hundred times
  (:func:`~pytest_rime.engine.stats.random_splits`, drawn once per run, seeded by
  ``ctx.rng``, shared by all metrics: :func:`null_metrics`); the observed difference against
  the normal tail of the split differences gives the p-value, so a clear degradation is not
  held at ``1 / (draws + 1)``. Metrics without a fixed scale (log loss, MAE, MSE, RMSE, MAPE)
  are compared as the log of their ratio.

At large sizes (more than :data:`NULL_POOL_ROWS` pooled rows) the draws over every row would
cost seconds per million rows, and the normal tail needs only the spread of the split
differences, so:

- log loss, MAE, MSE, RMSE, MAPE and R2 take it in closed form: they are means of per-row
  values (or smooth functions of means, linearised by the delta method:
  :func:`~pytest_rime.engine.metrics.linearised_rows`), and the variance of a difference of
  means between two random parts of the pooled values is exact
  (:func:`~pytest_rime.engine.stats.split_mean_difference_sd`). It uses every row, so a
  heavy tail counts in full (a sample could miss its few extreme rows); the delta method's
  error is of order ``1 / rows``, negligible above 100 000 rows. On the log scale the spread
  is divided by the pooled value (``d log m = dm / m``);
- AUC, F1, the calibration error and the macro metrics draw the splits on a uniform sample
  of :data:`NULL_POOL_ROWS` pooled rows, and the split differences are multiplied by
  ``sqrt((1/n_ref + 1/n_eval) / (1/s_ref + 1/s_eval))`` (``s`` the sample's side sizes): the
  variance of a difference of two sides' metric scales as ``1/n_ref + 1/n_eval`` for metrics
  that are asymptotically linear (AUC as a U-statistic, F1 as a ratio of means) and, for the
  calibration error, whose spread near perfect calibration is that of the folded bin gaps,
  also proportional to ``1 / sqrt(rows)``. Their rows contribute bounded terms (ranks,
  indicators, probabilities), so a sample of 100 000 rows estimates the spread as well as all
  rows do, with no heavy tail to miss.

Why a randomisation of the pooled rows rather than a bootstrap of each set: on a heavy-tailed
target (squared errors spanning orders of magnitude, a log loss averaging a few confident
mistakes) a set that happens to lack the extreme rows has a small bootstrap spread, and the
bootstrap flagged 5-12 % of clean random splits at the 1 % level; the pooled splits put the
extreme rows on either side, and flagged 0.3-0.7 %, with the same power on light tails.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.metrics import (
    LINEARISED_METRICS,
    Metric,
    MetricInputs,
    all_metrics,
    linearised_rows,
    metric_names,
    reliability_table,
    task_metrics,
)
from pytest_rime.engine.performance import dataset_metrics, metric_inputs
from pytest_rime.engine.registry import Finding, TestFunction, TestSettings, register_test
from pytest_rime.engine.results import JSONValue
from pytest_rime.engine.stats import (
    FloatArray,
    fisher_exact_p_value,
    normal_p_value,
    null_p_value,
    random_splits,
    split_draws,
    split_mean_difference_sd,
)
from pytest_rime.engine.tests._families import named_test
from pytest_rime.vocabulary import IMAGES, NLP, TABULAR

CATEGORY = "Model Performance"
ABSOLUTE_THRESHOLDS = (0.05, 0.1, 0.15)
CONDITIONAL_THRESHOLDS = (0.05, 0.1, 0.2)
CALIBRATION_THRESHOLDS = (0.02, 0.05, 0.1)
RELATIVE_THRESHOLDS = (0.1, 0.25, 0.5)
CALIBRATION_SLUG = "calibration_comparison"
NULL_POOL_ROWS = 100_000
"""Pooled ref + eval rows above which the randomisation null is not drawn on every row.

Above it, metrics with a linearised form (:func:`~pytest_rime.engine.metrics.linearised_rows`:
log loss, MAE, MSE, RMSE, MAPE, R2) use the closed-form spread of the random splits on all
rows, and the other metrics (AUC, F1, calibration error, macro metrics) draw the splits on a
uniform sample of this many pooled rows, their spread scaled to all rows (module docstring)."""


def default_thresholds(metric: Metric) -> tuple[float, float, float]:
    """Default ascending thresholds of ``metric``'s degradation (see the module docstring)."""
    if metric.slug == CALIBRATION_SLUG:
        return CALIBRATION_THRESHOLDS
    if metric.relative:
        return RELATIVE_THRESHOLDS
    return CONDITIONAL_THRESHOLDS if metric.conditional else ABSOLUTE_THRESHOLDS


def degradation_kind(metric: Metric) -> str:
    """``"relative"`` or ``"absolute"``: how the metric's degradation is measured."""
    return "relative" if metric.relative else "absolute"


def pooled_inputs(ctx: RunContext) -> MetricInputs:
    """The ref and eval rows as one :class:`MetricInputs` (cached).

    Binary rows are put in score order: the random splits do not depend on the row order, and
    the resampled AUC then needs no reordering of the split masks.
    """

    def compute() -> MetricInputs:
        ref, cur = metric_inputs(ctx, "ref"), metric_inputs(ctx, "eval")
        scores = (
            None
            if ref.scores is None or cur.scores is None
            else np.concatenate([ref.scores, cur.scores])
        )
        pooled = MetricInputs(
            ref.task,
            np.concatenate([ref.y_true, cur.y_true]),
            np.concatenate([ref.y_pred, cur.y_pred]),
            scores,
            np.concatenate([ref.rows, cur.rows]),
        )
        if scores is None or scores.ndim != 1:
            return pooled
        return pooled.subset(np.argsort(scores, kind="stable"))

    return ctx.memo("model_performance.pooled", compute)


def split_pool(ctx: RunContext) -> tuple[MetricInputs, int, float]:
    """The pooled rows the random splits are drawn on, their ref side size, and the scale.

    Every pooled row (scale 1.0) up to :data:`NULL_POOL_ROWS`; above, a uniform sample of that
    many rows (still in score order) with the ref share of the pooled rows, and the factor
    ``sqrt((1/n_ref + 1/n_eval) / (1/s_ref + 1/s_eval))`` that takes the spread of a metric
    difference on the sample to all rows (module docstring).
    """

    def compute() -> tuple[MetricInputs, int, float]:
        pooled = pooled_inputs(ctx)
        ref_rows = metric_inputs(ctx, "ref").size
        eval_rows = pooled.size - ref_rows
        if pooled.size <= NULL_POOL_ROWS or ref_rows == 0 or eval_rows == 0:
            return pooled, ref_rows, 1.0
        rng = ctx.rng("model_performance.split_pool")
        keep = np.sort(rng.choice(pooled.size, NULL_POOL_ROWS, replace=False))
        sample_ref = min(NULL_POOL_ROWS - 1, max(1, round(NULL_POOL_ROWS * ref_rows / pooled.size)))
        sample_eval = NULL_POOL_ROWS - sample_ref
        scale = np.sqrt((1 / ref_rows + 1 / eval_rows) / (1 / sample_ref + 1 / sample_eval))
        return pooled.subset(keep), sample_ref, float(scale)

    return ctx.memo("model_performance.split_pool", compute)


def closed_form(ctx: RunContext, metric: Metric) -> bool:
    """Whether ``metric``'s null spread is taken in closed form (large data, linearised form)."""
    return metric.name in LINEARISED_METRICS and pooled_inputs(ctx).size > NULL_POOL_ROWS


def null_metrics(ctx: RunContext) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Every resampled metric of the task on the two sides of random splits (once per run).

    Returns ``name -> (ref side values, eval side values)``, one value per split, on the rows
    of :func:`split_pool` (multiply their contrast by its scale). The splits
    (:func:`~pytest_rime.engine.stats.random_splits`) are drawn chunk by chunk and every metric
    with a ``resample`` is computed on each chunk, so they are drawn once for all metrics and
    never held whole. Metrics whose spread is taken in closed form (:func:`closed_form`) are
    not resampled.
    """

    def compute() -> dict[str, tuple[FloatArray, FloatArray]]:
        pooled, ref_rows, _ = split_pool(ctx)
        metrics = [
            m
            for m in task_metrics(ctx.model_task)
            if m.resample is not None and not closed_form(ctx, m)
        ]
        parts: dict[str, list[tuple[FloatArray, FloatArray]]] = {m.name: [] for m in metrics}
        if not metrics:
            return {}
        rng = ctx.rng("model_performance.random_splits")
        draws = split_draws(pooled.size)
        for mask in random_splits(rng, ref_rows, pooled.size - ref_rows, draws):
            both = np.vstack([mask, 1.0 - mask])  # one call per metric for both sides
            for metric in metrics:
                assert metric.resample is not None
                values = metric.resample(pooled, both)
                parts[metric.name].append((values[: len(mask)], values[len(mask) :]))
        return {
            name: (
                np.concatenate([ref for ref, _ in values]),
                np.concatenate([cur for _, cur in values]),
            )
            for name, values in parts.items()
        }

    return ctx.memo("model_performance.null_metrics", compute)


def contrast(metric: Metric, ref: FloatArray, cur: FloatArray, log: bool) -> FloatArray:
    """How much worse ``cur`` is than ``ref`` (positive = worse), element-wise.

    On the log scale (``log``: ``log(cur / ref)``) for metrics without a fixed scale whose
    values are positive, else the signed difference.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        change: FloatArray = np.log(cur) - np.log(ref) if log else cur - ref
    return -change if metric.higher_is_better else change


def degradation_p_value(
    ctx: RunContext, metric: Metric, ref: float, cur: float
) -> tuple[float, str] | None:
    """One-sided p-value that ``metric`` is worse on eval than on ref, and the method used.

    Proportions: Fisher's exact test; other metrics: random splits of the pooled rows
    (module docstring). ``None`` for a metric with neither (none in the catalogue).
    """
    if metric.rate_counts is not None:
        ref_hits, ref_rows = metric.rate_counts(metric_inputs(ctx, "ref"))
        eval_hits, eval_rows = metric.rate_counts(metric_inputs(ctx, "eval"))
        alternative = "eval_lower" if metric.higher_is_better else "eval_higher"
        p = fisher_exact_p_value(ref_hits, ref_rows, eval_hits, eval_rows, alternative)
        return p, "Fisher exact (one-sided)"
    if metric.resample is None:
        return None
    log = metric.relative and ref > 0 and cur > 0
    observed = float(contrast(metric, np.array([ref]), np.array([cur]), log)[0])
    kind = "log ratio" if log else "difference"
    if closed_form(ctx, metric):
        linear = linearised_rows(metric.name, pooled_inputs(ctx))
        if linear is not None:
            values, pooled_value = linear
            ref_rows = metric_inputs(ctx, "ref").size
            eval_rows = metric_inputs(ctx, "eval").size
            spread = split_mean_difference_sd(values, ref_rows, eval_rows)
            if log:
                spread = spread / pooled_value if pooled_value > 0 else float("nan")
        else:  # constant per-row values (e.g. no error at all): no spread
            spread = 0.0
        return normal_p_value(observed, spread), (
            f"random splits of the pooled rows, closed-form normal spread ({kind})"
        )
    _, _, scale = split_pool(ctx)
    null = contrast(metric, *null_metrics(ctx)[metric.name], log) * scale
    where = "the pooled rows" if scale == 1.0 else f"{NULL_POOL_ROWS} sampled pooled rows"
    return null_p_value(observed, null), f"random splits of {where} ({kind})"


def compare(ctx: RunContext, metric: Metric) -> list[Finding]:
    """The one case of ``metric`` on the run: eval vs ref (no case when off-task)."""
    if metric.name not in metric_names(ctx.model_task):
        return []
    ref = dataset_metrics(ctx, "ref")[metric.name]
    cur = dataset_metrics(ctx, "eval")[metric.name]
    missing = [side for side, value in (("ref", ref), ("eval", cur)) if value is None]
    if ref is None or cur is None:
        return [
            Finding.skip(
                (),
                f"Skipped: {metric.name} is not defined on the {' and '.join(missing)} data "
                f"(it needs {metric.requirement}).",
            )
        ]
    statistic = metric.degradation(ref, cur)
    metrics: dict[str, JSONValue] = {
        "metric": metric.name,
        "ref_metric": ref,
        "eval_metric": cur,
        "degradation": statistic,
        "degradation_kind": degradation_kind(metric),
        "ref_rows": metric_inputs(ctx, "ref").size,
        "eval_rows": metric_inputs(ctx, "eval").size,
    }
    change = f"{statistic:.1%}" if metric.relative else f"{statistic:+.3f}"
    evidence = degradation_p_value(ctx, metric, ref, cur)
    if evidence is not None:
        metrics["p_value_method"] = evidence[1]
    return [
        Finding(
            features=(),
            statistic=statistic,
            description=(
                f"{metric.name} is {cur:.4g} on eval vs {ref:.4g} on ref "
                f"({degradation_kind(metric)} degradation {change})."
            ),
            metrics=metrics,
            impact=1.0,
            p_value=None if evidence is None else evidence[0],
        )
    ]


def _metric_test(metric: Metric) -> TestFunction:
    return named_test(
        f"{metric.slug}_degradation",
        f"{metric.name} on eval vs ref; the statistic is its {degradation_kind(metric)} "
        "degradation (worse is positive). Severity: the threshold level (impact 1.0).",
        lambda ctx, settings: compare(ctx, metric),
    )


def calibration_comparison(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """ECE on eval minus ECE on ref, with both reliability tables in the metrics.

    Binary classification only. Severity: the threshold level (impact 1.0).
    """
    metric = next(m for m in all_metrics() if m.slug == CALIBRATION_SLUG)
    findings = compare(ctx, metric)
    if len(findings) != 1 or findings[0].statistic is None:
        return findings
    tables: dict[str, JSONValue] = {}
    for which in ("ref", "eval"):
        inputs = metric_inputs(ctx, which)
        assert inputs.scores is not None  # the metric is defined
        tables[f"{which}_reliability"] = [
            b.to_dict() for b in reliability_table(inputs.y_true, inputs.scores)
        ]
    return [replace(findings[0], metrics={**findings[0].metrics, **tables})]


def _register_metric_tests() -> None:
    for metric in all_metrics():
        calibration = metric.slug == CALIBRATION_SLUG
        register_test(
            f"model_performance.{metric.slug}",
            name=metric.display_test_name,
            category=CATEGORY,
            thresholds=default_thresholds(metric),
            description=(
                "Increase of the expected calibration error (ECE) from ref to eval."
                if calibration
                else f"{metric.name} on eval vs ref ({degradation_kind(metric)} degradation, "
                "worse is positive)."
            ),
            needs_labels=True,
            needs_predictions=True,
            data_types=(TABULAR, NLP, IMAGES),
        )(calibration_comparison if calibration else _metric_test(metric))


_register_metric_tests()
