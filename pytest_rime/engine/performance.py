"""Model metrics of a run: its context's labels and predictions, evaluated once per run.

:mod:`pytest_rime.engine.metrics` holds the metrics themselves, over arrays.
"""

from __future__ import annotations

from pytest_rime.engine.context import RunContext, Which
from pytest_rime.engine.errors import ModelError
from pytest_rime.engine.metrics import MetricInputs, evaluate, prepare, task_metrics
from pytest_rime.engine.results import ModelPerf


def metric_inputs(ctx: RunContext, which: Which) -> MetricInputs:
    """Labels and predictions of ``ref`` or ``eval`` of a run, prepared once and cached.

    Raises:
        KeyError: The frame has no label column.
        ModelError: There is no model and no precomputed predictions.
    """

    def compute() -> MetricInputs:
        labels = ctx.labels(which).to_numpy()
        classes = list(ctx.classes) if ctx.classes.size else None
        return prepare(ctx.model_task, labels, ctx.predictions(which), classes=classes)

    return ctx.memo(f"metrics.inputs:{which}", compute)


def dataset_metrics(ctx: RunContext, which: Which) -> dict[str, float | None]:
    """Every metric of the run's task on ``ref`` or ``eval`` (computed once)."""
    return ctx.memo(f"metrics.values:{which}", lambda: evaluate(metric_inputs(ctx, which)))


def model_perf(ctx: RunContext) -> list[ModelPerf]:
    """Reference and evaluation value of every metric of the task (``None`` when unknown)."""
    values: dict[str, dict[str, float | None]] = {}
    for which in ("ref", "eval"):
        try:
            values[which] = dataset_metrics(ctx, which)
        except (KeyError, ModelError):  # no labels or no predictions on that side
            values[which] = {}
    return [
        ModelPerf(metric.name, values["ref"].get(metric.name), values["eval"].get(metric.name))
        for metric in task_metrics(ctx.model_task)
    ]
