"""Perturbed copies of sampled evaluation rows, run through the model in few batched calls.

Shared machinery of the Transformations and Attacks tests:

- :func:`perturbation_sample`: a seeded sample of evaluation rows (model inputs, labels) and
  the model's predictions on them, computed once per run and sample size (one predict call);
- :class:`Edit`: some sample rows with one feature replaced (rows may repeat: an attack tries
  several candidate values per row);
- :func:`predict_edits`: all edits of a test stacked into one frame and predicted in ONE call
  (more only beyond :data:`MAX_BATCH_ROWS` rows). When the model raises on the stacked frame,
  each edit is predicted alone, so an exception is pinned on the feature that causes it and
  returned in place of that edit's predictions (a crash is a finding, not an error of the run).
  Warnings the model emits on these deliberately corrupted inputs are silenced. A feature
  whose new values do not share its dtype (numbers given as text) is an object column in the
  whole stacked frame, its other rows keeping their original values;
- :func:`row_changes` / :func:`decision_changed`: how much each prediction moved;
- :func:`crash_finding`: the case of a feature whose perturbation makes the model raise.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np
import numpy.typing as npt
import pandas as pd

from pytest_rime.engine.context import MULTICLASS, REGRESSION
from pytest_rime.engine.registry import Finding
from pytest_rime.engine.results import JSONValue

if TYPE_CHECKING:
    from pytest_rime.engine.context import RunContext

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MAX_BATCH_ROWS = 100_000
"""Most rows given to the model in one call; larger batches are split."""

REGRESSION_TOLERANCE = 0.1
"""A regression prediction "changed" when it moved by more than this many standard deviations
of the sample's predictions."""

CRASH_STATISTIC = 1.0
"""Statistic and impact of a case whose perturbed inputs make the model raise."""

SAMPLE_SIZE_PARAM = "sample_size"
"""The ``tests_config`` parameter naming how many evaluation rows a test perturbs."""


@dataclass(frozen=True)
class PerturbationSample:
    """Sampled evaluation rows and the model's predictions on them.

    Attributes:
        positions: Row positions in the evaluation frame (sorted).
        inputs: The model inputs of those rows, index ``0..n-1``.
        base: Normal-form predictions of ``inputs`` (see :class:`RunContext`).
        labels: Labels of those rows (index ``0..n-1``), ``None`` without labels.
        scale: Standard deviation of ``base`` for regression (1.0 when it is 0), else 1.0.
    """

    positions: IntArray
    inputs: pd.DataFrame
    base: np.ndarray
    labels: pd.Series | None
    scale: float

    def __len__(self) -> int:
        return len(self.inputs)


def _regression_scale(ctx: RunContext, base: np.ndarray) -> float:
    if ctx.model_task != REGRESSION or base.size == 0:
        return 1.0
    std = float(np.nanstd(base.astype(float)))
    return std if std > 0 else 1.0


def _draw_sample(ctx: RunContext, size: int) -> PerturbationSample:
    n_rows = len(ctx.eval)
    rng = ctx.rng("perturbation_sample")
    picked = rng.choice(n_rows, size=min(size, n_rows), replace=False)
    positions = np.sort(picked).astype(np.int64)
    inputs = ctx.model_input(ctx.eval.iloc[positions]).reset_index(drop=True)
    labels = None
    if ctx.has_labels:
        labels = ctx.labels("eval").iloc[positions].reset_index(drop=True)
    base = _quiet_predict(ctx, inputs) if len(inputs) else np.empty(0)
    return PerturbationSample(positions, inputs, base, labels, _regression_scale(ctx, base))


def perturbation_sample(ctx: RunContext, size: int) -> PerturbationSample:
    """Up to ``size`` evaluation rows drawn with the run's seed, and their predictions.

    Computed once per run and size (tests with the same ``sample_size`` share the rows and the
    predict call).

    Raises:
        ValueError: ``size`` is not positive.
        Exception: Whatever the model raises on the unperturbed rows.
    """
    if size < 1:
        raise ValueError(f"{SAMPLE_SIZE_PARAM} must be a positive number of rows, got {size}")
    return ctx.memo(f"perturbation_sample.{size}", lambda: _draw_sample(ctx, size))


@dataclass(frozen=True)
class Edit:
    """Rows of a sample with one feature replaced.

    Attributes:
        feature: The replaced column.
        rows: Positions in the sample, one per new value (may repeat).
        values: The new values, aligned with ``rows``.
    """

    feature: str
    rows: IntArray
    values: np.ndarray

    @classmethod
    def of(cls, feature: str, rows: npt.ArrayLike, values: pd.Series | npt.ArrayLike) -> Edit:
        """An edit from any array-likes (a Series keeps its values' dtype)."""
        array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
        return cls(feature, np.asarray(rows, dtype=np.int64), array)


def _numeric_kind(dtype: Any) -> TypeGuard[np.dtype[Any]]:
    return isinstance(dtype, np.dtype) and dtype.kind in "biuf"


def _merged_column(column: pd.Series, pieces: Sequence[tuple[slice, np.ndarray]]) -> np.ndarray:
    """``column`` with each slice replaced, in the narrowest dtype holding every value."""
    dtype = column.dtype
    if _numeric_kind(dtype) and all(_numeric_kind(v.dtype) for _, v in pieces):
        dtype = np.result_type(dtype, *(v.dtype for _, v in pieces))
        merged = column.to_numpy(dtype=dtype, copy=True)
    else:
        merged = column.to_numpy(dtype=object, copy=True)
    for where, values in pieces:
        merged[where] = values
    return merged


def assemble(inputs: pd.DataFrame, edits: Sequence[Edit]) -> pd.DataFrame:
    """One frame stacking, for each edit, its rows of ``inputs`` with its feature replaced."""
    rows = np.concatenate([edit.rows for edit in edits]) if edits else np.empty(0, np.int64)
    batch = inputs.iloc[rows].reset_index(drop=True)
    pieces: dict[str, list[tuple[slice, np.ndarray]]] = {}
    start = 0
    for edit in edits:
        stop = start + edit.rows.size
        pieces.setdefault(edit.feature, []).append((slice(start, stop), edit.values))
        start = stop
    for feature, feature_pieces in pieces.items():
        batch[feature] = _merged_column(batch[feature], feature_pieces)
    return batch


def _quiet_predict(ctx: RunContext, frame: pd.DataFrame) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ctx.predict(frame)


def _chunks(edits: Sequence[Edit], max_rows: int) -> Iterator[list[Edit]]:
    chunk: list[Edit] = []
    rows = 0
    for edit in edits:
        if chunk and rows + edit.rows.size > max_rows:
            yield chunk
            chunk, rows = [], 0
        chunk.append(edit)
        rows += edit.rows.size
    if chunk:
        yield chunk


def _predict_chunk(
    ctx: RunContext, inputs: pd.DataFrame, chunk: list[Edit]
) -> list[np.ndarray | Exception]:
    try:
        predictions = _quiet_predict(ctx, assemble(inputs, chunk))
    except MemoryError:  # the worker reports it as OOMKILLED
        raise
    except Exception as exc:
        if len(chunk) == 1:
            return [exc]
        return [out for edit in chunk for out in _predict_chunk(ctx, inputs, [edit])]
    bounds = np.cumsum([0, *(edit.rows.size for edit in chunk)])
    return [predictions[start:stop] for start, stop in itertools.pairwise(bounds)]


def predict_edits(
    ctx: RunContext,
    sample: PerturbationSample,
    edits: Sequence[Edit],
    max_rows: int = MAX_BATCH_ROWS,
) -> list[np.ndarray | Exception]:
    """Normal-form predictions of every edit, or the exception the model raised on it.

    All edits go to the model in one call (split every ``max_rows`` rows); see the module
    docstring for what happens when the model raises.
    """
    results: list[np.ndarray | Exception] = []
    for chunk in _chunks([edit for edit in edits if edit.rows.size], max_rows):
        results.extend(_predict_chunk(ctx, sample.inputs, chunk))
    empty = iter(results)
    return [next(empty) if edit.rows.size else np.empty(0) for edit in edits]


def _invalid(predictions: np.ndarray) -> BoolArray:
    """Rows whose prediction is not a finite number (all False for label predictions)."""
    if not np.issubdtype(predictions.dtype, np.number):
        return np.zeros(len(predictions), dtype=bool)
    finite = np.isfinite(predictions)
    return np.asarray(~(finite.all(axis=1) if predictions.ndim == 2 else finite), dtype=bool)


def row_changes(
    ctx: RunContext, sample: PerturbationSample, base: np.ndarray, new: np.ndarray
) -> FloatArray:
    """How far each prediction moved from ``base`` to ``new`` (same rows, normal form).

    Binary: |change of the positive-class probability|; multi-class: half the L1 change of the
    probability vector (or 1.0 when a predicted label changed); regression: |change| divided by
    the sample's prediction scale. A prediction that is not a finite number counts as 1.0.
    """
    if base.ndim == 2:
        change = np.abs(base.astype(float) - new.astype(float)).sum(axis=1) / 2
    elif ctx.model_task == MULTICLASS or not np.issubdtype(base.dtype, np.number):
        change = (base != new).astype(float)
    else:
        change = np.abs(base.astype(float) - new.astype(float)) / sample.scale
    result: FloatArray = np.nan_to_num(np.asarray(change, dtype=float), nan=0.0)
    result[_invalid(new) & ~_invalid(base)] = 1.0
    return result


def _decisions(predictions: np.ndarray) -> np.ndarray:
    """The decision of normal-form classification predictions, independent of class names.

    Probability matrices: the arg-max column; binary probabilities: ``p >= 0.5``; labels:
    themselves (so a run whose labels hold a single class still sees decisions change).
    """
    if predictions.ndim == 2:
        return np.asarray(np.argmax(np.nan_to_num(predictions.astype(float), nan=-np.inf), axis=1))
    if np.issubdtype(predictions.dtype, np.floating):
        return predictions >= 0.5
    return predictions


def decision_changed(
    ctx: RunContext, sample: PerturbationSample, base: np.ndarray, new: np.ndarray
) -> BoolArray:
    """Rows whose decision changed.

    That is another predicted label (classification), a move beyond
    :data:`REGRESSION_TOLERANCE` scales (regression), or a prediction that is not a number.
    """
    invalid = _invalid(new) & ~_invalid(base)
    if ctx.model_task == REGRESSION:
        moved = row_changes(ctx, sample, base, new) > REGRESSION_TOLERANCE
    elif ctx.model_task == MULTICLASS and base.ndim == 1:
        moved = np.asarray(base != new, dtype=bool)
    else:
        moved = np.asarray(_decisions(base) != _decisions(new), dtype=bool)
    return np.asarray(moved | invalid, dtype=bool)


def crash_finding(
    feature: str, error: Exception, inputs: str, metrics: dict[str, JSONValue]
) -> Finding:
    """A FAIL case (statistic and impact :data:`CRASH_STATISTIC`) naming the model's exception.

    Args:
        feature: The perturbed feature.
        error: What the model raised.
        inputs: The perturbed inputs in words, completing "The model raised X on ...".
        metrics: Counts to report with the error.
    """
    message = f"{type(error).__name__}: {error}"
    return Finding(
        features=(feature,),
        statistic=CRASH_STATISTIC,
        impact=CRASH_STATISTIC,
        description=f"The model raised {message} on {inputs}.",
        metrics={**metrics, "model_error": message},
    )
