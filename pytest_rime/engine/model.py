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

from pytest_rime.engine.data import Resolver, display_name, resolve_path
from pytest_rime.engine.errors import ModelError

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")

MAX_ERROR_CHARS = 300
"""Longest exception message quoted in a result (longer ones are cut with an ellipsis)."""


def error_text(error: BaseException) -> str:
    """``"Type: message"`` of ``error`` on one line, as results and job failures quote it.

    Line breaks and runs of spaces become one space (scikit-learn's messages span lines) and a
    message longer than :data:`MAX_ERROR_CHARS` is cut.
    """
    message = " ".join(str(error).split())
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 3].rstrip() + "..."
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class ModelAdapter:
    """Batched predictions of a loaded model, counting the calls.

    Attributes:
        source: Where the model came from (for logs and metadata).
        name: The model file as the user knows it (``model.py``, never a server path), for
            messages; ``source`` when not given.
        function: The model's function the adapter calls (``predict_df``, ``predict_proba``,
            ...); the name of ``predict`` when not given.
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
        name: str | None = None,
        function: str | None = None,
    ) -> None:
        self._predict = predict
        self.source = source
        self.name = name or source
        self.function = function or getattr(predict, "__name__", "predict")
        self.classes = classes
        self.n_calls = 0

    @property
    def caller(self) -> str:
        """``"<name>: <function>"``, how messages about the model's output start."""
        return f"{self.name}: {self.function}"

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's output for ``frame`` as an array, unchecked (one call, counted).

        An empty frame gives an empty array without calling the model.

        Raises:
            Exception: Whatever the model raises.
        """
        if len(frame) == 0:
            return np.empty(0)
        self.n_calls += 1
        return np.asarray(self._predict(frame))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw model output for ``frame`` (one call; an empty frame gives an empty array).

        Raises:
            ModelError: The output does not have one row per row of ``frame``.
            Exception: Whatever the model raises.
        """
        output = self.predict_raw(frame)
        if output.shape[:1] != (len(frame),):
            raise ModelError(f"{self.caller} returned shape {output.shape} for {len(frame)} rows")
        return output


def _import_file(path: Path, name: str) -> Any:
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    module_name = f"rime_user_model_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelError(f"{name}: cannot import the model file")
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
        raise ModelError(f"{name}: importing the model file failed: {error_text(exc)}") from exc
    return module


def _python_model(path: Path, name: str) -> ModelAdapter:
    module = _import_file(path, name)
    predict_df = getattr(module, "predict_df", None)
    if callable(predict_df):
        return ModelAdapter(predict_df, source=str(path), name=name, function="predict_df")
    predict_dict = getattr(module, "predict_dict", None)
    if callable(predict_dict):

        def predict_rows(frame: pd.DataFrame) -> np.ndarray:
            return np.asarray([predict_dict(row) for row in frame.to_dict("records")])

        return ModelAdapter(predict_rows, source=str(path), name=name, function="predict_dict")
    raise ModelError(f"{name}: the model file defines neither predict_df(df) nor predict_dict(row)")


def _load_pickle(path: Path) -> Any:
    try:
        import joblib
    except ImportError:
        with path.open("rb") as stream:
            return pickle.load(stream)
    return joblib.load(path)


def _estimator_model(path: Path, name: str) -> ModelAdapter:
    try:
        estimator = _load_pickle(path)
    except MemoryError:  # the worker reports it as OOMKILLED
        raise
    except Exception as exc:
        raise ModelError(f"{name}: cannot unpickle the model: {error_text(exc)}") from exc
    classes = getattr(estimator, "classes_", None)
    for function in ("predict_proba", "predict"):
        if hasattr(estimator, function):
            labels = None if classes is None or function == "predict" else np.asarray(classes)
            return ModelAdapter(
                getattr(estimator, function),
                source=str(path),
                classes=labels,
                name=name,
                function=function,
            )
    raise ModelError(f"{name}: the unpickled object has neither predict_proba nor predict")


def load_model(path: str, resolver: Resolver | None = None) -> ModelAdapter:
    """Load the model at ``path`` (local, ``rime://`` file or directory).

    Raises:
        ModelError: Missing file, unsupported kind, or the model fails to import.
    """
    local = Path(resolve_path(path, resolver))
    name = display_name(path)
    if local.is_dir():
        local = local / "model.py"
        name = f"{name.rstrip('/')}/model.py" if name else "model.py"
    if not local.is_file():
        raise ModelError(f"model_info.path: {name}: model file not found")
    if local.suffix == ".py":
        return _python_model(local, name)
    if local.suffix in PICKLE_SUFFIXES:
        return _estimator_model(local, name)
    expected = ", ".join((".py", *PICKLE_SUFFIXES))
    raise ModelError(f"model_info.path: {name}: unsupported model file (expected {expected})")
