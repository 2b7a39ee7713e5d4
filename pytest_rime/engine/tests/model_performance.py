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
"""

from __future__ import annotations

from dataclasses import replace

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.metrics import (
    Metric,
    all_metrics,
    dataset_metrics,
    metric_inputs,
    metric_names,
    reliability_table,
)
from pytest_rime.engine.registry import Finding, TestFunction, TestSettings, register_test
from pytest_rime.engine.results import JSONValue

CATEGORY = "Model Performance"
ABSOLUTE_THRESHOLDS = (0.05, 0.1, 0.15)
CONDITIONAL_THRESHOLDS = (0.05, 0.1, 0.2)
CALIBRATION_THRESHOLDS = (0.02, 0.05, 0.1)
RELATIVE_THRESHOLDS = (0.1, 0.25, 0.5)
CALIBRATION_SLUG = "calibration_comparison"


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
        )
    ]


def _metric_test(metric: Metric) -> TestFunction:
    def test(ctx: RunContext, settings: TestSettings) -> list[Finding]:
        return compare(ctx, metric)

    test.__name__ = test.__qualname__ = f"{metric.slug}_degradation"
    test.__doc__ = (
        f"{metric.name} on eval vs ref; the statistic is its {degradation_kind(metric)} "
        "degradation (worse is positive). Severity: the threshold level (impact 1.0)."
    )
    return test


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
        )(calibration_comparison if calibration else _metric_test(metric))


_register_metric_tests()
