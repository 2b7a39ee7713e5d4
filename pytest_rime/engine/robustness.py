"""Perturbed copies of sampled evaluation rows, run through the model in few batched calls.

Shared machinery of the Transformations and Attacks tests:

- :func:`perturbation_sample`: a seeded sample of evaluation rows (model inputs, labels) and
  the model's predictions on them, computed once per run and sample size (one predict call);
- :class:`Edit`: some sample rows with one feature replaced (rows may repeat: an attack tries
  several candidate values per row);
- :func:`predict_edits`: all edits of a test stacked into one frame and predicted in ONE call
  (more only beyond :data:`MAX_BATCH_ROWS` rows, or beyond
  :data:`~pytest_rime.engine.context.MAX_BATCH_CELLS` cells for wide data). When the model
  raises on the stacked frame, each edit is predicted alone, so an exception is pinned on the
  feature that causes it and returned in place of that edit's predictions (a crash is a
  finding, not an error of the run). Warnings the model emits on these deliberately
  corrupted inputs are silenced. A feature whose new values do not share its dtype (numbers
  given as text) is an object column in the whole stacked frame, its other rows keeping their
  original values;
- :func:`row_changes` / :func:`decision_changed`: how much each prediction moved;
- :func:`paired_losses`: the model's loss on the same labelled rows before and after a
  perturbation (0/1 error for classification, absolute error for regression), the paired
  evidence of a what-if: :attr:`PairedLosses.p_value` is a one-sided paired test that the
  perturbation increased the loss (exact McNemar for 0/1 losses, Wilcoxon signed-rank for
  absolute errors); regression what-ifs are judged by :attr:`PairedLosses.relative_increase`,
  the change of the mean absolute error relative to the error of a constant predictor (the
  baseline: the median of the reference labels), so a move comparable to the model's own
  noise is not mistaken for a broken model;
- :func:`crash_finding`: the case of a feature whose perturbation makes the model raise;
- :func:`what_if_capped`, :class:`ExposureMeasure`, :func:`binomial_exposure`: the MEDIUM cap
  of a what-if the evaluation data is not exposed to, and how exposure is measured;
- :func:`decision_index`, :func:`confidence`, :func:`flip_p_value`,
  :func:`prediction_change`: decisions and their probabilities in the flip-rate tests of
  text and image classifiers;
- :func:`predict_variants`, :class:`AttackOutcome`, :func:`attack_finding`,
  :func:`attack_case`: the batched rounds and the case of a query-budgeted attack of text or
  image classifiers.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeGuard, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from pytest_rime.engine.context import batch_rows
from pytest_rime.engine.model import error_text
from pytest_rime.engine.registry import Finding, TestSettings
from pytest_rime.engine.results import JSONValue, Severity
from pytest_rime.vocabulary import MULTICLASS, REGRESSION

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

MAX_PERTURBED_CELLS = 2**30
"""Cells (rows x columns) of the perturbed copies of one test: a test perturbs every model
feature of every sampled row, ``sample x features x columns`` cells, which grows with the
square of the width. Wide data samples fewer rows (:func:`perturbed_rows`)."""

MIN_PERTURBED_ROWS = 10
"""The fewest sampled rows a perturbation test uses, however wide the data."""


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


def perturbed_rows(ctx: RunContext, size: int) -> int:
    """Rows a perturbation test samples: ``size``, or fewer for wide data.

    At most :data:`MAX_PERTURBED_CELLS` cells of copies with every model feature perturbed,
    and at least :data:`MIN_PERTURBED_ROWS` rows. Data of normal width keeps ``size`` (25
    features allow 1.7 million rows); at 10,000 columns a test perturbs 10 rows per feature,
    so its rates are coarser (what it can miss: a weakness that shows on fewer than one row
    in ten).
    """
    width = max(1, len(ctx.model_features)) * max(1, ctx.eval.shape[1])
    return min(size, max(MIN_PERTURBED_ROWS, MAX_PERTURBED_CELLS // width))


def perturbation_sample(ctx: RunContext, size: int) -> PerturbationSample:
    """Up to ``size`` evaluation rows drawn with the run's seed, and their predictions.

    Computed once per run and size (tests with the same ``sample_size`` share the rows and the
    predict call). Wide data gets fewer rows (:func:`perturbed_rows`).

    Raises:
        ValueError: ``size`` is not positive.
        Exception: Whatever the model raises on the unperturbed rows.
    """
    if size < 1:
        raise ValueError(f"{SAMPLE_SIZE_PARAM} must be a positive number of rows, got {size}")
    rows = perturbed_rows(ctx, size)
    return ctx.memo(f"perturbation_sample.{rows}", lambda: _draw_sample(ctx, rows))


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


def merged_column(column: pd.Series, pieces: Sequence[tuple[slice, np.ndarray]]) -> np.ndarray:
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
        batch[feature] = merged_column(batch[feature], feature_pieces)
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

    All edits go to the model in one call (split every ``max_rows`` rows, fewer for wide data:
    :func:`~pytest_rime.engine.context.batch_rows`); see the module
    docstring for what happens when the model raises.
    """
    results: list[np.ndarray | Exception] = []
    max_rows = min(max_rows, batch_rows(sample.inputs.shape[1]))
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


def paired_p_value(change: FloatArray) -> float:
    """One-sided p-value that per-row loss changes (after - before) are positive.

    Rows whose loss did not change carry no evidence and are left out. Changes of 0/1 losses
    (all -1 or +1) get the exact McNemar test (a sign test on the rows whose error changed);
    other changes the Wilcoxon signed-rank test. No changed row gives 1.0.
    """
    from scipy import stats

    moved = change[np.isfinite(change) & (change != 0)]
    if moved.size == 0:
        return 1.0
    if np.all(np.abs(moved) == 1.0):
        worse = int(np.count_nonzero(moved > 0))
        return float(stats.binomtest(worse, moved.size, 0.5, alternative="greater").pvalue)
    return float(stats.wilcoxon(moved, alternative="greater").pvalue)


@dataclass(frozen=True)
class PairedLosses:
    """The model's per-row loss on the same labelled rows before and after a perturbation.

    Attributes:
        before: Loss of each row before (0/1 error, or absolute error for regression).
        after: Loss of the same rows after. A prediction that is not a finite number counts as
            an error (classification) or as an absolute error larger by ``scale``.
        scale: Regression: the mean absolute error of a constant predictor on ref
            (:meth:`RunContext.baseline_loss`; the mean error before, then 1.0, when that is
            0). Classification: 1.0.
    """

    before: FloatArray
    after: FloatArray
    scale: float

    @property
    def change(self) -> FloatArray:
        """Per-row loss change ``after - before`` (positive = worse)."""
        change: FloatArray = self.after - self.before
        return change

    @property
    def relative_increase(self) -> float:
        """Change of the mean loss over ``scale``.

        Regression: +0.3 means the mean absolute error rose by 30% of a constant predictor's.
        """
        return float((self.after.mean() - self.before.mean()) / self.scale)

    @property
    def p_value(self) -> float:
        """:func:`paired_p_value` of the per-row changes."""
        return paired_p_value(self.change)

    def metrics(self) -> dict[str, JSONValue]:
        """Labelled rows, mean loss before and after, rows worse and better."""
        change = self.change
        return {
            "rows_labelled": int(change.size),
            "loss_before": float(self.before.mean()),
            "loss_after": float(self.after.mean()),
            "rows_worse": int(np.count_nonzero(change > 0)),
            "rows_better": int(np.count_nonzero(change < 0)),
        }


def paired_losses(
    ctx: RunContext,
    sample: PerturbationSample,
    rows: IntArray,
    base: np.ndarray,
    new: np.ndarray,
) -> PairedLosses | None:
    """Per-row losses of sample ``rows`` with predictions ``base`` and ``new``.

    Rows without a label are left out; ``None`` when no row has one (or the run has no labels).
    """
    if sample.labels is None:
        return None
    labels = sample.labels.to_numpy()[rows]
    known = np.asarray(~pd.isna(labels), dtype=bool)
    if not known.any():
        return None
    labels, base, new = labels[known], base[known], new[known]
    invalid = _invalid(new) & ~_invalid(base)
    if ctx.model_task == REGRESSION:
        truth = labels.astype(float)
        before = np.abs(truth - base.astype(float))
        mean_before = float(before.mean())
        baseline = ctx.baseline_loss()
        scale = next((v for v in (baseline, mean_before) if v > 0), 1.0)
        with np.errstate(invalid="ignore"):
            after = np.abs(truth - new.astype(float))
        after = np.where(invalid | ~np.isfinite(after), before + scale, after)
        return PairedLosses(before, after, scale)
    before = np.asarray(ctx.labels_of(base) != labels, dtype=float)
    after = np.asarray(ctx.labels_of(new) != labels, dtype=float)
    after[invalid] = 1.0
    return PairedLosses(before, after, 1.0)


NO_LABELS_CAP = (
    "Capped at MEDIUM: without labels the change of the error cannot be measured, only how far "
    "the predictions moved."
)
"""Cap reason of a regression what-if measured without labels."""


def judged_by_error(
    finding: Finding, losses: PairedLosses | None, is_regression: bool, change: str
) -> Finding:
    """``finding`` with the paired evidence of ``losses``.

    Classification keeps its statistic and gains the paired p-value. Regression is judged by
    the change of the error instead: the statistic and impact become
    :attr:`PairedLosses.relative_increase` (so a move that leaves the error as it was passes
    whatever its size, and one that doubles a tiny error is measured against a constant
    predictor's error, not the tiny one); without labels the movement statistic stays, capped
    at MEDIUM.

    Args:
        finding: The finding measured by prediction movement.
        losses: The paired losses of the perturbed rows (``None`` without labels).
        is_regression: The run's model task is regression.
        change: The perturbation in words, completing "With ..., the mean absolute error".
    """
    if losses is None:
        if not is_regression:
            return finding
        return dataclasses.replace(finding, severity_cap=Severity.MEDIUM, cap_reason=NO_LABELS_CAP)
    metrics = {**finding.metrics, **losses.metrics()}
    p_value = losses.p_value
    if not is_regression:
        worse, better = metrics["rows_worse"], metrics["rows_better"]
        description = (
            f"{finding.description} {worse} of {losses.change.size} labelled rows became wrong "
            f"and {better} became right."
        )
        return dataclasses.replace(
            finding, metrics=metrics, description=description, p_value=p_value
        )
    increase = losses.relative_increase
    metrics.update(baseline_error=losses.scale, error_relative_increase=increase)
    description = (
        f"{change}, the mean absolute error on the {losses.change.size} changed rows went "
        f"from {losses.before.mean():.4g} to {losses.after.mean():.4g}: {increase:+.1%} of a "
        f"constant predictor's error {losses.scale:.4g} ({metrics['rows_worse']} rows worse, "
        f"{metrics['rows_better']} better)."
    )
    return dataclasses.replace(
        finding,
        statistic=increase,
        impact=min(1.0, max(0.0, increase)),
        description=description,
        metrics=metrics,
        p_value=p_value,
    )


def crash_finding(
    feature: str, error: Exception, inputs: str, metrics: dict[str, JSONValue]
) -> Finding:
    """A FAIL case (statistic and impact :data:`CRASH_STATISTIC`) naming the model's exception.

    A model that cannot serve perturbed inputs is a finding about the model, never a SKIP; the
    test decides how severe (a what-if on values the data does not hold is capped).

    Args:
        feature: The perturbed feature.
        error: What the model raised.
        inputs: The perturbed inputs in words, completing "The model raised X on ...".
        metrics: Counts to report with the error.
    """
    message = error_text(error)
    return Finding(
        features=(feature,),
        statistic=CRASH_STATISTIC,
        impact=CRASH_STATISTIC,
        description=f"The model raised {message} on {inputs}.",
        metrics={**metrics, "model_error": message},
    )


# ------------------------------------------------------------------------------ exposure
EXPOSURE_SHARE = 0.05
"""Share of eval rows showing what a perturbation imitates from which the eval data is exposed
to it (the Abnormal Inputs medium threshold)."""


def what_if_capped(finding: Finding, held: str) -> Finding:
    """``finding`` capped at MEDIUM: a what-if the evaluation data is not exposed to.

    A cap the finding already has at MEDIUM or below stays (with its reason).

    Args:
        finding: The case.
        held: What the evaluation data holds, completing "Capped at MEDIUM: ..., so the
            weakness is hypothetical."
    """
    if finding.severity_cap is not None and finding.severity_cap.rank <= Severity.MEDIUM.rank:
        return finding
    reason = f"Capped at MEDIUM: {held}, so the weakness is hypothetical."
    return dataclasses.replace(finding, severity_cap=Severity.MEDIUM, cap_reason=reason)


@dataclass(frozen=True)
class ExposureMeasure:
    """How much of the eval data shows what a perturbation creates.

    Attributes:
        share: Share of eval rows (texts, readable images) showing it.
        baseline: The share expected without it (chance, or the reference's share; ``None``
            when none is compared).
        p_value: One-sided test that the eval share exceeds the baseline (``None``: no test).
        exposed: The eval data shows it.
    """

    share: float
    baseline: float | None
    p_value: float | None
    exposed: bool

    def metrics(self) -> dict[str, JSONValue]:
        """The measure as metrics."""
        return {
            "eval_exposure": self.share,
            "exposure_baseline": self.baseline,
            "exposure_p_value": self.p_value,
            "exposed": self.exposed,
        }


def binomial_exposure(ctx: RunContext, hits: int, total: int, baseline: float) -> ExposureMeasure:
    """``hits`` of ``total`` eval rows show a property a share ``baseline`` shows by chance.

    Exposed when at least :data:`EXPOSURE_SHARE` of the rows show it and the exact one-sided
    binomial test that the share exceeds ``baseline`` is below the run's significance level.
    """
    from scipy import stats

    share = hits / total if total else 0.0
    if total == 0:
        return ExposureMeasure(share, baseline, None, False)
    if baseline <= 0.0:
        p_value = 0.0 if hits else 1.0
    elif baseline >= 1.0:
        p_value = 1.0
    else:
        p_value = float(stats.binomtest(hits, total, baseline, alternative="greater").pvalue)
    exposed = share >= EXPOSURE_SHARE and p_value < ctx.config.significance_level
    return ExposureMeasure(share, baseline, p_value, exposed)


# ------------------------------------------------------------ decisions of text and images
def decision_index(predictions: np.ndarray) -> np.ndarray:
    """The decision of normal-form classification predictions (class position or label)."""
    if predictions.ndim == 2:
        return np.asarray(np.argmax(np.nan_to_num(predictions.astype(float), nan=-1.0), axis=1))
    if np.issubdtype(predictions.dtype, np.floating):
        return np.asarray(predictions >= 0.5, dtype=np.int64)
    return predictions


def confidence(predictions: np.ndarray, decision: np.ndarray) -> np.ndarray:
    """Each row's probability of the class ``decision`` names (0/1 for label predictions)."""
    if predictions.ndim == 2:
        rows = np.arange(len(predictions))
        return np.asarray(predictions[rows, decision.astype(np.int64)], dtype=float)
    if np.issubdtype(predictions.dtype, np.floating):
        return np.where(decision == 1, predictions, 1.0 - predictions).astype(float)
    return np.asarray(predictions == decision, dtype=float)


def flip_p_value(flips: int, total: int, tolerance: float) -> float:
    """Exact one-sided binomial p-value of ``flips`` in ``total`` at flip rate ``tolerance``.

    1.0 without rows.
    """
    from scipy import stats

    if total == 0:
        return 1.0
    return float(stats.binomtest(flips, total, tolerance, alternative="greater").pvalue)


def _label(value: Any) -> JSONValue:
    return value.item() if hasattr(value, "item") else value


def prediction_change(
    ctx: RunContext, before: np.ndarray, after: np.ndarray
) -> dict[str, JSONValue]:
    """The predicted class and its probability before and after, for an example.

    ``before`` and ``after`` are one row of normal-form predictions each (shape ``(1,)`` or
    ``(1, k)``); the probability is that of the class predicted before.
    """
    decision = decision_index(before)
    return {
        "prediction_before": _label(ctx.labels_of(before)[0]),
        "prediction_after": _label(ctx.labels_of(after)[0]),
        "confidence_before": float(confidence(before, decision)[0]),
        "confidence_after": float(confidence(after, decision)[0]),
    }


# ------------------------------------------------------------------------------ attacks
def object_array(items: Sequence[Any]) -> np.ndarray:
    """A 1-D object array holding each item (never a stacked pixel array)."""
    array = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        array[i] = item
    return array


def predict_variants(
    ctx: RunContext,
    sample: PerturbationSample,
    feature: str,
    variants: Sequence[tuple[int, Sequence[Any]]],
) -> list[np.ndarray] | Exception:
    """Predictions of each sample row's new values of ``feature``, all in ONE predict call.

    Args:
        ctx: The run.
        sample: The sampled rows.
        feature: The replaced column.
        variants: ``(sample row, its new values)`` pairs; a row may come more than once.

    Returns:
        The predictions of each pair's values, or the exception the model raised.
    """
    rows = [row for row, values in variants for _ in values]
    values = object_array([value for _, row_values in variants for value in row_values])
    output = predict_edits(ctx, sample, [Edit.of(feature, rows, values)])[0]
    if isinstance(output, Exception):
        return output
    bounds = np.cumsum([0, *(len(row_values) for _, row_values in variants)])
    return [output[start:stop] for start, stop in itertools.pairwise(bounds)]


class AttackTarget(Protocol):
    """The attack of one sampled row: how many queries it took and whether it succeeded."""

    row: int
    queries: int
    flipped: bool


TargetT = TypeVar("TargetT", bound=AttackTarget)


@dataclass(frozen=True)
class AttackOutcome(Generic[TargetT]):
    """The attacks of one test: targets, predict calls, and a model error if any."""

    targets: list[TargetT]
    predict_calls: int
    error: Exception | None = None

    @property
    def won(self) -> list[TargetT]:
        """The successful attacks (the decision flipped)."""
        return [t for t in self.targets if t.flipped]

    @property
    def queries(self) -> int:
        """The model queries of all attacks."""
        return sum(t.queries for t in self.targets)

    @property
    def success_rate(self) -> float:
        """Share of the targets whose decision flipped (targets needed)."""
        return len(self.won) / len(self.targets)


def attack_finding(
    feature: str,
    outcome: AttackOutcome[Any],
    description: str,
    metrics: dict[str, JSONValue],
    low: float,
) -> Finding:
    """The measured case of an attack the model answered.

    Statistic and impact are the success rate; ``p_value`` is the exact one-sided binomial
    test that it exceeds ``low``, the low threshold (:func:`flip_p_value`).
    """
    rate = outcome.success_rate
    return Finding(
        features=(feature,),
        statistic=rate,
        impact=rate,
        description=description,
        metrics=metrics,
        p_value=flip_p_value(len(outcome.won), len(outcome.targets), low),
    )


def attack_case(
    ctx: RunContext,
    settings: TestSettings,
    feature: str,
    noun: str,
    attack: Callable[[RunContext, PerturbationSample, TestSettings], AttackOutcome[TargetT]],
    measured: Callable[
        [RunContext, PerturbationSample, TestSettings, AttackOutcome[TargetT]], Finding
    ],
    no_target: Callable[[PerturbationSample], str],
    capped: Callable[[Finding], Finding],
) -> list[Finding]:
    """The case of a query-budgeted attack on sampled eval rows of ``feature``.

    A SKIP without rows or without a row to attack; else ``measured``, or a crash FAIL when
    the model raises on the attacked variants, either one passed through ``capped``.

    Args:
        ctx: The run.
        settings: The test's settings (``sample_size``).
        feature: The attacked column.
        noun: The attacked rows in words (``texts``, ``images``).
        attack: Runs the attack of the sample.
        measured: The case of an attack the model answered.
        no_target: The SKIP reason when no sampled row can be attacked.
        capped: The test's severity cap of a case (a what-if).
    """
    sample = perturbation_sample(ctx, int(settings.params[SAMPLE_SIZE_PARAM]))
    if len(sample) == 0:
        return [Finding.skip((), f"The evaluation data has no {noun} to attack.")]
    outcome = attack(ctx, sample, settings)
    if not outcome.targets:
        return [Finding.skip((feature,), no_target(sample))]
    if outcome.error is None:
        return [capped(measured(ctx, sample, settings, outcome))]
    count = len(outcome.targets)
    finding = crash_finding(
        feature,
        outcome.error,
        f"attacked variants of {count} sampled {noun}",
        {f"{noun}_attacked": count},
    )
    return [capped(finding)]
