"""The shared state of one run: what every test function reads (built once per run).

A :class:`RunContext` holds

- ``ref`` / ``eval``: the reference and evaluation frames (all columns, sampled to ``nrows``);
- ``features``: name -> :class:`~pytest_rime.engine.data.FeatureInfo` (type, value kind,
  ``in_model``), inferred from ref; label, prediction and timestamp columns are not features;
- ``model_task``: given or inferred (``model_task_inferred`` says which);
- labels: ``ctx.labels("ref" | "eval")`` (``has_labels`` when both frames have the label);
  ``classes`` / ``positive_class`` for classification;
- predictions, lazy and cached (each computed once): ``ctx.predictions("ref" | "eval")`` in
  normal form (binary: positive-class probabilities, shape (n,); multi-class: an (n, k)
  probability matrix aligned with ``classes``, or labels (n,); regression: values (n,)),
  ``ctx.predicted_labels(which)``; ``ctx.predict(frame)`` runs the model on any frame (e.g. a
  transformed copy) and returns the same normal form; ``ctx.predict_batches(frames)`` stacks
  frames into calls of at most :data:`MAX_BATCH_CELLS` cells (one call for data of normal
  width); ``has_model`` / ``has_predictions``;
- ``ctx.profile(name)``: cached :class:`~pytest_rime.engine.profile.FeatureProfile`;
- ``ctx.importance``: the :class:`~pytest_rime.engine.importance.Importance` of every feature
  (model importance in 0..1, or a label-dependence fallback without a model), computed once by
  the ``importance`` function the context is built with (the run passes
  :func:`~pytest_rime.engine.importance.compute_importance`; a firewall bin, the reference's);
- ``ctx.row_losses(which)`` / ``ctx.baseline_loss()``: per-row model loss (0/1 error for
  classification, absolute error for regression) and the loss of a constant predictor;
- checks that run before any test (:func:`pytest_rime.engine.run.load_context` calls them):
  :func:`check_data` (rows, listed features, a label that is not all missing),
  ``ctx.check_labels()`` (labels fit the model task) and ``ctx.check_predictions()`` (one
  finite prediction per row in a form the task takes, :func:`prediction_problem`); a model that
  raises on ref or eval raises :class:`~pytest_rime.engine.errors.ModelError` quoting the error;
- ``ctx.memo(key, compute)``: a run-wide cache for anything else tests want to share;
- ``ctx.rng(name)``: a numpy Generator seeded from ``random_seed`` and ``name``.

Model metrics of a run over its context are in :mod:`pytest_rime.engine.performance`.
"""

from __future__ import annotations

import numbers
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import pandas as pd

from pytest_rime.engine.config import TestRunConfig
from pytest_rime.engine.data import (
    FeatureInfo,
    display_name,
    infer_feature_types,
    require_columns,
    require_rows,
)
from pytest_rime.engine.errors import DataError, ModelError
from pytest_rime.engine.model import ModelAdapter, error_text
from pytest_rime.engine.profile import FeatureProfile, compute_profile
from pytest_rime.engine.tasks import infer_model_task
from pytest_rime.vocabulary import (
    BINARY,
    IMAGE_CLASSIFICATION,
    MULTICLASS,
    REGRESSION,
    TEXT_CLASSIFICATION,
)

if TYPE_CHECKING:
    from pytest_rime.engine.importance import Importance

CLASSIFICATION_TASKS = (TEXT_CLASSIFICATION, IMAGE_CLASSIFICATION)
"""Model tasks that name the data, not the kind of classifier: binary or multi-class is read
from the labels (or predictions)."""

Which = Literal["ref", "eval"]

MAX_BATCH_CELLS = 2**24
"""Most cells (rows x columns) stacked into one model call: 134 MB of floats, so a batch of
copies of wide data (thousands of columns) stays far below a job's memory limit; data of
normal width (tens of columns) fits hundreds of thousands of rows in one call."""


def batch_rows(columns: int) -> int:
    """Rows of ``columns`` columns that fit in one model call (:data:`MAX_BATCH_CELLS`)."""
    return max(1, MAX_BATCH_CELLS // max(1, columns))


T = TypeVar("T")


def _sorted_unique(values: pd.Series) -> np.ndarray:
    unique = pd.unique(values.dropna())
    try:
        return np.asarray(sorted(unique))
    except TypeError:  # mixed types: order by text
        return np.asarray(sorted(unique, key=str), dtype=object)


EXAMPLES = 3
"""Distinct values quoted when a message shows what is wrong."""


def examples(values: Sequence[Any] | np.ndarray | pd.Series, limit: int = EXAMPLES) -> str:
    """The first ``limit`` distinct values as Python reprs: ``'a', 'b', ...`` (floats short)."""
    distinct: dict[str, None] = {}  # by their text: NaN is one value
    for value in np.asarray(values, dtype=object).ravel():
        distinct[_shown(value)] = None
        if len(distinct) > limit:
            break
    shown = ", ".join(list(distinct)[:limit])
    return f"{shown}, ..." if len(distinct) > limit else shown


def _shown(value: Any) -> str:
    """A value for a message: floats with 4 significant digits, anything else as its repr."""
    if isinstance(value, np.generic):
        value = value.item()
    return f"{value:.4g}" if isinstance(value, float) else repr(value)


def _as_numbers(raw: np.ndarray) -> np.ndarray | None:
    """``raw`` as floats (None and NaN as NaN), or None when it holds something else."""
    if raw.dtype.kind in "biuf":
        return raw.astype(float)
    if raw.dtype.kind != "O":
        return None
    flat = raw.ravel().tolist()
    if not all(v is None or isinstance(v, numbers.Real) for v in flat):
        return None
    return np.array([np.nan if v is None else v for v in flat], dtype=float).reshape(raw.shape)


def _value_kind(raw: np.ndarray) -> str:
    """``strings`` when ``raw`` holds text, else ``values of type <name>``."""
    if raw.dtype.kind in "US" or any(isinstance(v, str) for v in raw.ravel()[:1000].tolist()):
        return "strings"
    odd = next(
        (v for v in raw.ravel().tolist() if not (v is None or isinstance(v, numbers.Real))), None
    )
    return f"values of type {type(odd).__name__}"


def _non_finite(numbers_: np.ndarray) -> str | None:
    bad = ~np.isfinite(numbers_)
    if not bad.any():
        return None
    return (
        f"{int(bad.sum())} missing or non-finite values ({examples(numbers_[bad])}) "
        f"among {numbers_.size} values"
    )


def _probability_problem(values: np.ndarray) -> str | None:
    outside = (values < 0) | (values > 1)
    if not outside.any():
        return None
    return f"values outside 0..1 ({examples(values[outside])}) where probabilities are expected"


def _label_problem(raw: np.ndarray, task: str, classes: np.ndarray) -> str | None:
    """What is wrong with 1-D predicted labels (or binary probabilities) for ``task``."""
    missing = pd.isna(raw)
    if missing.any():
        return f"{int(missing.sum())} missing values among {raw.size} predictions"
    distinct = pd.unique(raw)
    known = pd.Series(distinct).isin(classes.tolist()).to_numpy() if classes.size else None
    if task == BINARY:
        if known is not None and classes.size <= 2 and not known.all():
            return (
                f"values ({examples(distinct[~known])}) that are neither probabilities in 0..1 "
                f"nor classes of the label ({examples(classes)})"
            )
        if distinct.size > 2:
            return f"{distinct.size} distinct labels ({examples(distinct)}) for {BINARY}"
        return None
    if known is not None and not known.any():
        return (
            f"labels ({examples(distinct)}) none of which is a class of the label "
            f"({examples(classes)})"
        )
    return None


def prediction_problem(raw: np.ndarray, rows: int, task: str, classes: np.ndarray) -> str | None:
    """What is wrong with raw predictions of ``rows`` rows for ``task``; None when they fit.

    Binary classification takes positive-class probabilities in 0..1 (shape ``(n,)``, or
    ``(n, 2)``) or labels among ``classes``; multi-class an ``(n, k)`` probability matrix with one
    column per class or labels of which some are ``classes``; regression finite numbers, shape
    ``(n,)`` or ``(n, 1)``. Missing and non-finite values never fit. The answer is a phrase that
    completes "the model returned ...", e.g. ``"shape (1119,) for 1122 rows"``.
    """
    if raw.shape[:1] != (rows,) or raw.ndim > 2:
        return f"shape {raw.shape} for {rows} rows"
    numbers_ = _as_numbers(raw)
    if task == REGRESSION:
        if raw.ndim == 2 and raw.shape[1] != 1:
            return f"shape {raw.shape} for {REGRESSION}, which needs one value per row"
        if numbers_ is None:
            return f"{_value_kind(raw)} ({examples(raw)}) for {REGRESSION}, which needs numbers"
        return _non_finite(numbers_)
    if raw.ndim == 2:
        columns = raw.shape[1]
        expected = 2 if task == BINARY else classes.size
        if numbers_ is None:
            return f"a matrix of {_value_kind(raw)} ({examples(raw)}) where probabilities belong"
        if (expected and columns != expected and not (task == BINARY and columns == 1)) or (
            columns == 0
        ):
            classes_text = f": {examples(classes)}" if classes.size else ""
            return f"shape {raw.shape} for {expected} classes{classes_text}"
        return _non_finite(numbers_) or _probability_problem(numbers_)
    if task == BINARY and numbers_ is not None:
        finite = np.isfinite(numbers_)
        if not finite.all():
            return _non_finite(numbers_)
        if numbers_.min() >= 0 and numbers_.max() <= 1:
            return None
    return _label_problem(raw, task, classes)


def check_data(config: TestRunConfig, ref: pd.DataFrame, eval: pd.DataFrame) -> None:
    """Reject degenerate data before any test runs.

    Checks that both files have rows, hold every ``categorical_features`` and
    ``protected_features`` entry, and that the label column (where a file has it) is not all
    missing. :meth:`RunContext.check_labels` checks the labels against the model task.

    Raises:
        DataError: Naming the config key, the file and the problem.
    """
    info = config.data_info
    files = (("ref", ref, info.ref_path), ("eval", eval, info.eval_path))
    for which, frame, path in files:
        require_rows(frame, f"data_info.{which}_path", path)
    for key in ("categorical_features", "protected_features"):
        for _, frame, path in files:
            require_columns(frame, f"data_info.{key}", getattr(info, key), path)
    label = info.label_col
    for _, frame, path in files:
        if label is not None and label in frame.columns and frame[label].isna().all():
            raise DataError(
                f"data_info.label_col: every value of {label!r} in {display_name(path)} is "
                "missing: there is no label to test the model against"
            )


class RunContext:
    """Frames, features, labels, predictions and cached derived data of one run.

    Args:
        config: The validated config.
        ref: Reference frame.
        eval: Evaluation frame.
        model: Loaded model, or ``None`` (then only precomputed predictions, if any).
        ref_predictions: Precomputed raw predictions of ``ref`` (from ``pred_col`` or
            ``ref_pred_path``), used instead of calling the model.
        eval_predictions: Same for ``eval``.
        log: One line of human log per call.
        importance: Computes the features' importance from the context, once, when a test
            first asks for ``ctx.importance``.
    """

    def __init__(
        self,
        config: TestRunConfig,
        ref: pd.DataFrame,
        eval: pd.DataFrame,
        *,
        model: ModelAdapter | None = None,
        ref_predictions: np.ndarray | None = None,
        eval_predictions: np.ndarray | None = None,
        log: Callable[[str], None] | None = None,
        importance: Callable[[RunContext], Importance],
    ) -> None:
        info = config.data_info
        self.config = config
        self.seed = config.random_seed
        self.ref = ref
        self.eval = eval
        self.model = model
        self.log = log or (lambda _line: None)
        self._importance = importance
        self.label_col = info.label_col
        special = {c for c in (info.label_col, info.pred_col, info.timestamp_col) if c}
        if config.monitoring_info is not None and config.monitoring_info.timestamp_col:
            special.add(config.monitoring_info.timestamp_col)
        self.features: Mapping[str, FeatureInfo] = infer_feature_types(
            ref,
            exclude=special,
            categorical_features=info.categorical_features,
            features_not_in_model=info.features_not_in_model,
        )
        self.feature_names: tuple[str, ...] = tuple(self.features)
        self.model_features: tuple[str, ...] = tuple(
            name for name, feature in self.features.items() if feature.in_model
        )
        self._raw: dict[str, np.ndarray] = {}
        if ref_predictions is not None:
            self._raw["ref"] = self._check_length(np.asarray(ref_predictions), "ref")
        if eval_predictions is not None:
            self._raw["eval"] = self._check_length(np.asarray(eval_predictions), "eval")
        self._precomputed = frozenset(self._raw)
        self._memo: dict[str, Any] = {}
        self._profiles: dict[str, FeatureProfile] = {}
        self._normal: dict[str, np.ndarray] = {}
        given = config.model_task
        task = None if given in CLASSIFICATION_TASKS else given
        self.model_task_inferred = task is None
        if task is None:
            task = infer_model_task(self._label_series("ref"), None)
        if task is None and self._can_predict("ref"):
            task = infer_model_task(None, self._raw_predictions("ref"))
        if given in CLASSIFICATION_TASKS and task == REGRESSION:
            task = MULTICLASS  # a classifier of many classes, never a regression
        self.model_task: str = task or BINARY
        self.classes: np.ndarray = self._infer_classes()

    # ----------------------------------------------------------------- frames and labels
    def frame(self, which: Which) -> pd.DataFrame:
        """The ``ref`` or ``eval`` frame."""
        return self.ref if which == "ref" else self.eval

    def _label_series(self, which: Which) -> pd.Series | None:
        frame = self.frame(which)
        if self.label_col is None or self.label_col not in frame.columns:
            return None
        return frame[self.label_col]

    @property
    def has_labels(self) -> bool:
        """Both frames have the label column."""
        return self._label_series("ref") is not None and self._label_series("eval") is not None

    def labels(self, which: Which) -> pd.Series:
        """The label column of ``which``.

        Raises:
            KeyError: The frame has no label column.
        """
        series = self._label_series(which)
        if series is None:
            raise KeyError(f"the {which} data has no label column {self.label_col!r}")
        return series

    @property
    def is_classification(self) -> bool:
        """Binary or multi-class classification."""
        return self.model_task != REGRESSION

    def _infer_classes(self) -> np.ndarray:
        if not self.is_classification:
            return np.empty(0)
        if self.model is not None and self.model.classes is not None:
            return np.asarray(self.model.classes)
        parts = [
            s for s in (self._label_series("ref"), self._label_series("eval")) if s is not None
        ]
        if not parts:
            return np.empty(0)
        return _sorted_unique(pd.concat(parts, ignore_index=True))

    @property
    def positive_class(self) -> Any:
        """The positive class of binary classification (the last of ``classes``), else None."""
        if self.model_task != BINARY or self.classes.size == 0:
            return None
        return self.classes[-1]

    # ----------------------------------------------------------------------- predictions
    @property
    def has_model(self) -> bool:
        """A model is loaded (tests may call it on new inputs)."""
        return self.model is not None

    @property
    def has_predictions(self) -> bool:
        """Predictions of both frames exist (model or precomputed)."""
        return self._can_predict("ref") and self._can_predict("eval")

    def _can_predict(self, which: Which) -> bool:
        return which in self._precomputed or self.model is not None

    def _check_length(self, raw: np.ndarray, which: Which) -> np.ndarray:
        rows = len(self.frame(which))
        if raw.shape[:1] != (rows,):
            raise ValueError(f"{which} predictions have {raw.shape[0]} rows, the data has {rows}")
        return raw

    def model_input(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The columns of ``frame`` given to the model (features in the model, ref order).

        Raises:
            ModelError: ``frame`` lacks a model feature.
        """
        missing = [name for name in self.model_features if name not in frame.columns]
        if missing:
            raise ModelError(f"the data lacks model features {missing}")
        return frame[list(self.model_features)]

    def file_name(self, which: Which) -> str:
        """The ``ref`` or ``eval`` data file as the user knows it (for messages)."""
        info = self.config.data_info
        return display_name(info.ref_path if which == "ref" else info.eval_path)

    def _raw_predictions(self, which: Which) -> np.ndarray:
        """Raw predictions of ``which``: precomputed, else one model call (cached).

        Raises:
            ModelError: There is no model, or the model raised (the message quotes the error).
        """
        if which not in self._raw:
            if self.model is None:
                raise ModelError(f"no model and no precomputed {which} predictions")
            frame = self.model_input(self.frame(which))
            self.log(f"predicting {len(frame)} {which} rows")
            try:
                self._raw[which] = self.model.predict_raw(frame)
            except MemoryError:  # the worker reports it as OOMKILLED
                raise
            except Exception as exc:
                raise ModelError(
                    f"{self.model.caller} raised {error_text(exc)} "
                    f"(predicting the {len(frame)} rows of {self.file_name(which)})"
                ) from exc
        return self._raw[which]

    def _prediction_source(self, which: Which) -> str:
        """How messages name the predictions of ``which``: the model, or where they were read."""
        if which not in self._precomputed:
            assert self.model is not None
            return f"{self.model.caller} returned"
        info = self.config.data_info
        path = info.ref_pred_path if which == "ref" else info.eval_pred_path
        if path is not None:
            return f"{display_name(path)}: the {which} predictions hold"
        return f"{self.file_name(which)}: the predictions in column {info.pred_col!r} hold"

    def check_predictions(self) -> None:
        """Check the predictions of ref and eval once, before any test runs.

        Each must be one finite prediction per row in a form the model task takes (see
        :func:`prediction_problem`), whether the model makes them or they were read from a file.

        Raises:
            ModelError: The model raised or returned something else; the one-line message names
                the model file (or the predictions file) and the data file, and quotes the
                error or shows the offending values.
        """
        sides: tuple[Which, Which] = ("ref", "eval")
        for which in sides:
            if not self._can_predict(which):
                continue
            raw = self._raw_predictions(which)
            rows = len(self.frame(which))
            problem = prediction_problem(raw, rows, self.model_task, self.classes)
            if problem is not None:
                raise ModelError(
                    f"{self._prediction_source(which)} {problem} (on {self.file_name(which)})"
                )

    def check_labels(self) -> None:
        """Reject labels that do not fit the model task, before any test runs.

        Binary classification takes at most two classes (over ref and eval); regression takes
        numbers only.

        Raises:
            DataError: Naming the label column, the file and the offending values.
        """
        sides: tuple[Which, Which] = ("ref", "eval")
        series = [(w, s) for w in sides if (s := self._label_series(w)) is not None]
        if self.model_task == REGRESSION:
            for which, labels in series:
                values = labels.dropna()
                text = values[pd.to_numeric(values, errors="coerce").isna()]
                if not text.empty:
                    raise DataError(
                        f"data_info.label_col: {self.label_col!r} in {self.file_name(which)} holds "
                        f"values that are not numbers ({examples(text)}) but model_task is "
                        f"{REGRESSION}"
                    )
        elif self.model_task == BINARY:
            seen = [(which, _sorted_unique(labels)) for which, labels in series]
            for which, classes in seen:
                if classes.size > 2:
                    raise DataError(
                        f"data_info.label_col: {self.label_col!r} in {self.file_name(which)} has "
                        f"{classes.size} classes ({examples(classes)}) but model_task is "
                        f"{BINARY} (two classes at most)"
                    )
            union = _sorted_unique(pd.Series([v for _, c in seen for v in c.tolist()]))
            if union.size > 2:
                raise DataError(
                    f"data_info.label_col: {self.label_col!r} has {union.size} classes "
                    f"({examples(union)}) over {self.file_name('ref')} and "
                    f"{self.file_name('eval')} but model_task is {BINARY} (two classes at most)"
                )

    def predictions(self, which: Which) -> np.ndarray:
        """Predictions of ``ref`` or ``eval`` in normal form (computed once)."""
        if which not in self._normal:
            self._normal[which] = self.normalize(self._raw_predictions(which))
        return self._normal[which]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Run the model on ``frame`` (one batched call) and return normal-form predictions.

        Raises:
            ModelError: There is no model, or ``frame`` lacks model features.
        """
        if self.model is None:
            raise ModelError("this run has no model (only precomputed predictions)")
        return self.normalize(self.model.predict(self.model_input(frame)))

    def predict_batches(self, frames: Iterable[pd.DataFrame]) -> np.ndarray:
        """Normal-form predictions of ``frames`` stacked (in order), in few batched calls.

        Consecutive frames are stacked into one call while it holds at most
        :data:`MAX_BATCH_CELLS` cells (a larger frame is a call of its own), so the memory of
        a batch is bounded whatever the number of frames and columns; ``frames`` may be a
        generator, consumed one call at a time.

        Raises:
            ModelError: There is no model, or a frame lacks model features.
        """
        outputs: list[np.ndarray] = []
        chunk: list[pd.DataFrame] = []
        rows = 0
        for frame in frames:
            if chunk and rows + len(frame) > batch_rows(frame.shape[1]):
                outputs.append(self.predict(pd.concat(chunk, ignore_index=True)))
                chunk, rows = [], 0
            chunk.append(frame)
            rows += len(frame)
        if chunk:
            outputs.append(self.predict(pd.concat(chunk, ignore_index=True)))
        return np.concatenate(outputs) if outputs else np.empty(0)

    def normalize(self, raw: np.ndarray) -> np.ndarray:
        """Raw model output -> the normal form of the task (see the module docstring)."""
        if self.model_task == REGRESSION:
            return np.asarray(raw, dtype=float).reshape(len(raw), -1)[:, 0]
        if self.model_task == MULTICLASS:
            return raw
        if raw.ndim == 2:
            return np.asarray(raw[:, -1], dtype=float)
        if (
            np.issubdtype(raw.dtype, np.number)
            and raw.size
            and np.nanmin(raw) >= 0
            and np.nanmax(raw) <= 1
        ):
            return np.asarray(raw, dtype=float)
        return np.asarray(raw == self.positive_class, dtype=float)

    def labels_of(self, predictions: np.ndarray) -> np.ndarray:
        """Predicted labels of normal-form predictions (binary: probability >= 0.5)."""
        if self.model_task == REGRESSION:
            return predictions
        if self.model_task == BINARY:
            negative, positive = (
                (self.classes[0], self.classes[-1]) if self.classes.size else (0, 1)
            )
            labels: np.ndarray = np.where(predictions >= 0.5, positive, negative)
            return labels
        if predictions.ndim == 2:
            best: np.ndarray = self.classes[np.argmax(predictions, axis=1)]
            return best
        return predictions

    def predicted_labels(self, which: Which) -> np.ndarray:
        """Predicted labels of ``ref`` or ``eval``."""
        return self.labels_of(self.predictions(which))

    def row_losses(self, which: Which) -> np.ndarray:
        """Per-row loss: 0/1 error (classification) or absolute error (regression)."""
        labels = self.labels(which).to_numpy()
        if self.model_task == REGRESSION:
            errors: np.ndarray = np.abs(self.predictions(which) - labels.astype(float))
            return errors
        return np.asarray(self.predicted_labels(which) != labels, dtype=float)

    def baseline_loss(self) -> float:
        """Mean loss of a constant predictor on ref (majority class, or the median)."""
        labels = self.labels("ref").dropna()
        if labels.empty:
            return float("nan")
        if self.model_task == REGRESSION:
            values = labels.to_numpy(dtype=float)
            return float(np.mean(np.abs(values - np.median(values))))
        return float(1 - labels.value_counts(normalize=True).iloc[0])

    # --------------------------------------------------------------- shared derived data
    def profile(self, name: str) -> FeatureProfile:
        """The cached profile of feature ``name``."""
        if name not in self._profiles:
            self._profiles[name] = compute_profile(self.features[name], self.ref, self.eval)
        return self._profiles[name]

    @property
    def importance(self) -> Importance:
        """The importance of every feature (0..1) and the method used, computed once."""
        return self.memo("importance", lambda: self._importance(self))

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per run under ``key``; later calls return the cached value."""
        if key not in self._memo:
            self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    def rng(self, name: str) -> np.random.Generator:
        """A generator seeded from ``random_seed`` and ``name`` (stable across runs)."""
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])
