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
  transformed copy) and returns the same normal form; ``has_model`` / ``has_predictions``;
- ``ctx.profile(name)``: cached :class:`~pytest_rime.engine.profile.FeatureProfile`;
- ``ctx.importance``: cached :class:`~pytest_rime.engine.importance.Importance` (model
  importance per feature in 0..1, or a label-dependence fallback without a model);
- ``ctx.row_losses(which)`` / ``ctx.baseline_loss()``: per-row model loss (0/1 error for
  classification, absolute error for regression) and the loss of a constant predictor;
- ``ctx.memo(key, compute)``: a run-wide cache for anything else tests want to share;
- ``ctx.rng(name)``: a numpy Generator seeded from ``random_seed`` and ``name``.

Model metrics for the run summary: :func:`pytest_rime.engine.run.run_stress_test` calls
``pytest_rime.engine.metrics.model_perf(ctx) -> Sequence[ModelPerf]`` when that function exists.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import pandas as pd

from pytest_rime.engine.config import TestRunConfig
from pytest_rime.engine.data import FeatureInfo, infer_feature_types
from pytest_rime.engine.model import ModelAdapter, ModelError
from pytest_rime.engine.profile import FeatureProfile, compute_profile

if TYPE_CHECKING:
    from pytest_rime.engine.importance import Importance

Which = Literal["ref", "eval"]
T = TypeVar("T")

BINARY = "Binary Classification"
MULTICLASS = "Multi-class Classification"
REGRESSION = "Regression"
MAX_CLASSES = 20
"""An integer or string label with more distinct values than this is regression."""


def _sorted_unique(values: pd.Series) -> np.ndarray:
    unique = pd.unique(values.dropna())
    try:
        return np.asarray(sorted(unique))
    except TypeError:  # mixed types: order by text
        return np.asarray(sorted(unique, key=str), dtype=object)


def infer_model_task(labels: pd.Series | None, raw_predictions: np.ndarray | None) -> str | None:
    """The model task inferred from the labels, else from the raw predictions.

    Labels: 2 classes -> binary; whole numbers or strings with at most :data:`MAX_CLASSES`
    classes -> multi-class; other numbers -> regression. Predictions: a matrix with more than
    two columns -> multi-class; values in 0..1 -> binary; other numbers -> regression.
    ``None`` when there are neither labels nor predictions.
    """
    if labels is not None and labels.notna().any():
        values = labels.dropna()
        n_classes = values.nunique()
        if pd.api.types.is_float_dtype(values) and not np.all(np.mod(values, 1) == 0):
            return REGRESSION
        if n_classes <= 2:
            return BINARY
        numeric = pd.api.types.is_numeric_dtype(values)
        return MULTICLASS if n_classes <= MAX_CLASSES or not numeric else REGRESSION
    if raw_predictions is not None and raw_predictions.size:
        if raw_predictions.ndim == 2 and raw_predictions.shape[1] > 2:
            return MULTICLASS
        if raw_predictions.ndim == 2 or (
            np.issubdtype(raw_predictions.dtype, np.number)
            and np.nanmin(raw_predictions) >= 0
            and np.nanmax(raw_predictions) <= 1
        ):
            return BINARY
        return REGRESSION if np.issubdtype(raw_predictions.dtype, np.number) else MULTICLASS
    return None


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
    ) -> None:
        info = config.data_info
        self.config = config
        self.seed = config.random_seed
        self.ref = ref
        self.eval = eval
        self.model = model
        self.log = log or (lambda _line: None)
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
        task = config.model_task
        self.model_task_inferred = task is None
        if task is None:
            task = infer_model_task(self._label_series("ref"), None)
        if task is None and self._can_predict("ref"):
            task = infer_model_task(None, self._raw_predictions("ref"))
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

    def _raw_predictions(self, which: Which) -> np.ndarray:
        if which not in self._raw:
            if self.model is None:
                raise ModelError(f"no model and no precomputed {which} predictions")
            self.log(f"predicting {len(self.frame(which))} {which} rows")
            self._raw[which] = self.model.predict(self.model_input(self.frame(which)))
        return self._raw[which]

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
        """Cached importance of every feature (0..1) and the method used."""
        from pytest_rime.engine.importance import compute_importance

        return self.memo("importance", lambda: compute_importance(self))

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per run under ``key``; later calls return the cached value."""
        if key not in self._memo:
            self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    def rng(self, name: str) -> np.random.Generator:
        """A generator seeded from ``random_seed`` and ``name`` (stable across runs)."""
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])
