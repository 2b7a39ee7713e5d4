"""Model impact of flagged evaluation rows (used to set the severity of abnormal-input cases).

For each case (features + flagged eval rows) two measures, each in 0..1, are taken when
possible; the impact is the larger:

- **metric**: with labels and predictions, the share of the model's skill lost on the flagged
  rows: ``(loss(flagged) - loss(clean)) / (baseline - loss(clean))`` clipped to 0..1, where the
  loss is the 0/1 error (classification) or the absolute error (regression), "clean" are the
  other eval rows and the baseline is a constant predictor's loss. Not measured when the model
  is no better than the constant predictor.
- **prediction change**: with a model, the flagged rows are repaired (their features set to
  the typical reference value: the median, or the most frequent value; a column whose eval
  values do not share the reference dtype becomes an object column, as in the stacked frames
  of :mod:`pytest_rime.engine.robustness`) and re-predicted; the
  mean change of the prediction (see :func:`pytest_rime.engine.importance.prediction_change`).
  All cases of a test are repaired and predicted in ONE batched call (more only beyond
  :data:`~pytest_rime.engine.context.MAX_BATCH_CELLS` cells: wide data).

The metric measure compares different rows, so it is confounded when the flagged rows are
abnormal in other ways too (e.g. nulls in several features of the same rows): each feature's
case then shows the damage of the whole rows. The prediction change is specific to the feature.

When the model raises on the repaired rows and on the flagged rows themselves, the impact is
1.0 (the model cannot serve these inputs at all; the error is in ``metrics["model_error"]``).

A case with no flagged rows, or with neither measure available, has impact ``None``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pytest_rime.engine.context import RunContext, batch_rows
from pytest_rime.engine.data import BOOL
from pytest_rime.engine.importance import prediction_change
from pytest_rime.engine.model import error_text
from pytest_rime.engine.results import JSONValue
from pytest_rime.engine.robustness import merged_column


@dataclass(frozen=True)
class Impact:
    """Measured model impact of one case (``value`` is ``None`` when not measurable)."""

    value: float | None
    metrics: dict[str, JSONValue] = field(default_factory=dict)


def typical_value(ctx: RunContext, name: str) -> Any:
    """The reference's typical value of feature ``name``: median for numbers, else the mode."""

    def compute() -> Any:
        profile = ctx.profile(name)
        info = ctx.features[name]
        if profile.numeric is not None and info.type != BOOL and profile.numeric.ref_count:
            median = profile.numeric.quantiles[0.5]
            return round(median) if info.value_kind == "int" else median
        values = ctx.ref[name].dropna()
        return values.mode().iloc[0] if not values.empty else None

    return ctx.memo(f"typical:{name}", compute)


def metric_impact(ctx: RunContext, mask: np.ndarray) -> Impact | None:
    """Skill the model loses on the ``mask`` rows of eval, against the other labelled rows.

    ``None`` without labelled rows on either side.
    """
    losses = ctx.memo("eval_row_losses", lambda: ctx.row_losses("eval"))
    labelled = ctx.memo("eval_labelled", lambda: ctx.labels("eval").notna().to_numpy())
    flagged, clean = losses[mask & labelled], losses[~mask & labelled]
    if flagged.size == 0 or clean.size == 0:
        return None
    baseline = ctx.memo("baseline_loss", ctx.baseline_loss)
    skill = baseline - float(clean.mean())
    metrics: dict[str, JSONValue] = {
        "flagged_rows_loss": float(flagged.mean()),
        "clean_rows_loss": float(clean.mean()),
    }
    if not skill > 0:
        return Impact(None, metrics)
    value = float(np.clip((flagged.mean() - clean.mean()) / skill, 0.0, 1.0))
    return Impact(value, metrics)


def _typical_values(ctx: RunContext, name: str, rows: int) -> np.ndarray:
    """``rows`` copies of the typical value of ``name``, in the reference dtype."""
    value = typical_value(ctx, name)
    dtype = ctx.ref[name].dtype if value is not None else object
    return pd.Series([value] * rows, dtype=dtype).to_numpy()


def _repaired(ctx: RunContext, cases: Sequence[tuple[Sequence[str], np.ndarray]]) -> pd.DataFrame:
    """The flagged eval rows of every case, stacked, each with its features repaired."""
    frame = ctx.eval.iloc[np.concatenate([rows for _, rows in cases])].reset_index(drop=True)
    pieces: dict[str, list[tuple[slice, np.ndarray]]] = {}
    start = 0
    for features, rows in cases:
        where = slice(start, start + rows.size)
        for name in features:
            pieces.setdefault(name, []).append((where, _typical_values(ctx, name, rows.size)))
        start += rows.size
    for name, replaced in pieces.items():
        frame[name] = merged_column(frame[name], replaced)
    return frame


def _repaired_batches(
    ctx: RunContext, cases: Sequence[tuple[Sequence[str], np.ndarray]]
) -> Iterator[pd.DataFrame]:
    """:func:`_repaired` frames of consecutive cases, each one model call (``batch_rows``)."""
    limit = batch_rows(ctx.eval.shape[1])
    chunk: list[tuple[Sequence[str], np.ndarray]] = []
    rows = 0
    for case in cases:
        if chunk and rows + case[1].size > limit:
            yield _repaired(ctx, chunk)
            chunk, rows = [], 0
        chunk.append(case)
        rows += case[1].size
    if chunk:
        yield _repaired(ctx, chunk)


def _prediction_changes(
    ctx: RunContext, cases: Sequence[tuple[Sequence[str], np.ndarray]]
) -> list[float | None]:
    todo = [i for i, (_, rows) in enumerate(cases) if rows.size]
    out: list[float | None] = [None] * len(cases)
    if not todo or not ctx.has_model:
        return out
    base = ctx.predictions("eval")
    changed = ctx.predict_batches(_repaired_batches(ctx, [cases[i] for i in todo]))
    start = 0
    for i in todo:
        rows = cases[i][1]
        out[i] = min(1.0, prediction_change(ctx, base[rows], changed[start : start + rows.size]))
        start += rows.size
    return out


def failure_impact(ctx: RunContext, rows: np.ndarray, error: Exception) -> Impact:
    """Impact when the model raised on the repaired rows: 1.0 if it raises on these rows too.

    A model that cannot serve the flagged rows is a finding about the model with impact 1.0,
    like a crash on a what-if (:func:`pytest_rime.engine.robustness.crash_finding`); the error
    is quoted under the same ``model_error`` key. (The run checks up front that the model
    serves the whole eval data, so this is for models that fail on some batches only.)
    """
    metrics: dict[str, JSONValue] = {"impact_error": error_text(error)}
    if not rows.size or not ctx.has_model:
        return Impact(None, metrics)
    try:
        ctx.predict(ctx.eval.iloc[rows])
    except MemoryError:  # the worker reports it as OOMKILLED
        raise
    except Exception as exc:
        metrics["model_error"] = error_text(exc)
        return Impact(1.0, metrics)
    return Impact(None, metrics)


def measure_impacts(
    ctx: RunContext, cases: Sequence[tuple[Sequence[str], np.ndarray]]
) -> list[Impact]:
    """Impact of each ``(features, flagged eval row positions)`` case (see the module doc)."""
    if not ctx.has_predictions or not any(rows.size for _, rows in cases):
        return [Impact(None) for _ in cases]
    try:
        changes = _prediction_changes(ctx, cases)
    except MemoryError:  # the worker reports it as OOMKILLED
        raise
    except Exception as exc:  # the model may fail on the data: report, do not fail the test
        ctx.log(f"measuring the prediction change failed: {exc!r}")
        return [failure_impact(ctx, rows, exc) for _, rows in cases]
    impacts = []
    for (_, rows), change in zip(cases, changes, strict=True):
        mask = np.zeros(len(ctx.eval), dtype=bool)
        mask[rows] = True
        metric = metric_impact(ctx, mask) if ctx.has_labels and rows.size else None
        metrics = dict(metric.metrics) if metric is not None else {}
        values = [v for v in (change, metric.value if metric else None) if v is not None]
        if change is not None:
            metrics["prediction_change"] = change
        impacts.append(Impact(max(values) if values else None, metrics))
    return impacts
