"""Model adapters: one ``predict(frame) -> array`` over every supported kind of model.

``model_info.path`` may name

- a ``.py`` file defining ``predict_df(df) -> array`` (positive-class probabilities for binary
  classification, an ``(n, k)`` probability matrix or labels for multi-class, values for
  regression) or ``predict_dict(row) -> value`` (called row by row inside one batch);
- a directory containing ``model.py`` (e.g. an uploaded ``rime://`` directory);
- a pickled estimator (``.pkl``, ``.pickle``, ``.joblib``) with ``predict_proba`` / ``predict``,
  loaded with joblib when it is importable, else pickle.

Predictions are always batched: the adapter calls the model once per frame and counts the calls
(:attr:`ModelAdapter.n_calls`, reported by the benchmark).
"""

from __future__ import annotations

import hashlib
import importlib.util
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pytest_rime.engine.data import Resolver, resolve_path

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


class ModelError(ValueError):
    """The model cannot be loaded or does not expose a supported predict function."""


class ModelAdapter:
    """Batched predictions of a loaded model, counting the calls.

    Attributes:
        source: Where the model came from (for logs and metadata).
        classes: Class labels in the column order of probability outputs, when the model says
            (``classes_`` of an estimator); ``None`` otherwise.
        n_calls: Number of batched predict calls so far.
    """

    def __init__(
        self,
        predict: Callable[[pd.DataFrame], Any],
        *,
        source: str,
        classes: np.ndarray | None = None,
    ) -> None:
        self._predict = predict
        self.source = source
        self.classes = classes
        self.n_calls = 0

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw model output for ``frame`` (one call; an empty frame gives an empty array)."""
        if len(frame) == 0:
            return np.empty(0)
        self.n_calls += 1
        output = np.asarray(self._predict(frame))
        if output.shape[:1] != (len(frame),):
            raise ModelError(
                f"{self.source}: predict returned shape {output.shape} for {len(frame)} rows"
            )
        return output


def _import_file(path: Path) -> Any:
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    module_name = f"rime_user_model_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelError(f"{path}: cannot import the model file")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the model may import its sibling modules
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except MemoryError:  # the worker reports it as OOMKILLED
        raise
    except Exception as exc:
        del sys.modules[module_name]
        raise ModelError(f"{path}: importing the model file failed: {exc!r}") from exc
    return module


def _python_model(path: Path) -> ModelAdapter:
    module = _import_file(path)
    predict_df = getattr(module, "predict_df", None)
    if callable(predict_df):
        return ModelAdapter(predict_df, source=str(path))
    predict_dict = getattr(module, "predict_dict", None)
    if callable(predict_dict):

        def predict_rows(frame: pd.DataFrame) -> np.ndarray:
            return np.asarray([predict_dict(row) for row in frame.to_dict("records")])

        return ModelAdapter(predict_rows, source=str(path))
    raise ModelError(f"{path}: the model file defines neither predict_df(df) nor predict_dict(row)")


def _load_pickle(path: Path) -> Any:
    try:
        import joblib
    except ImportError:
        with path.open("rb") as stream:
            return pickle.load(stream)
    return joblib.load(path)


def _estimator_model(path: Path) -> ModelAdapter:
    try:
        estimator = _load_pickle(path)
    except MemoryError:  # the worker reports it as OOMKILLED
        raise
    except Exception as exc:
        raise ModelError(f"{path}: cannot unpickle the model: {exc!r}") from exc
    classes = getattr(estimator, "classes_", None)
    if hasattr(estimator, "predict_proba"):
        labels = None if classes is None else np.asarray(classes)
        return ModelAdapter(estimator.predict_proba, source=str(path), classes=labels)
    if hasattr(estimator, "predict"):
        return ModelAdapter(estimator.predict, source=str(path))
    raise ModelError(f"{path}: the unpickled object has neither predict_proba nor predict")


def load_model(path: str, resolver: Resolver | None = None) -> ModelAdapter:
    """Load the model at ``path`` (local, ``rime://`` file or directory).

    Raises:
        ModelError: Missing file, unsupported kind, or the model fails to import.
    """
    local = Path(resolve_path(path, resolver))
    if local.is_dir():
        local = local / "model.py"
    if not local.is_file():
        raise ModelError(f"model_info.path: {path}: model file not found ({local})")
    if local.suffix == ".py":
        return _python_model(local)
    if local.suffix in PICKLE_SUFFIXES:
        return _estimator_model(local)
    expected = ", ".join((".py", *PICKLE_SUFFIXES))
    raise ModelError(f"model_info.path: {path}: unsupported model file (expected {expected})")
