"""Model adapters: one ``predict(frame) -> array`` over every supported kind of model.

``model_info.path`` may name

- a ``.py`` file defining ``predict_df(df) -> array`` (positive-class probabilities for binary
  classification, an ``(n, k)`` probability matrix or labels for multi-class, values for
  regression) or ``predict_dict(row) -> value`` (called row by row inside one batch);
- a directory containing ``model.py`` (e.g. an uploaded ``rime://`` directory);
  on an fsspec URL (``s3://...``) the file or directory is downloaded first;
- a pickled estimator (``.pkl``, ``.pickle``, ``.joblib``) with ``predict_proba`` / ``predict``,
  loaded with joblib when it is importable, else pickle.

Predictions are always batched: the adapter calls the model once per frame and counts the calls
(:attr:`ModelAdapter.n_calls`, reported by the benchmark).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
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


def import_model_file(path: Path, name: str) -> Any:
    """Import the model file at ``path`` (its folder on ``sys.path`` for its siblings).

    Raises:
        ModelError: Importing it failed (the message quotes the error).
    """
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


@dataclass(frozen=True)
class ModelFunction:
    """A function a ``model.py`` may define, and how the adapter calls it on a frame.

    Attributes:
        name: The function's name, e.g. ``predict_df``.
        argument: What it takes, for messages, e.g. ``df``.
        call: ``call(function, frame)`` returns the model's raw output for the frame.
    """

    name: str
    argument: str
    call: Callable[[Callable[..., Any], pd.DataFrame], Any]


def python_model(path: Path, name: str, functions: Sequence[ModelFunction]) -> ModelAdapter:
    """The first of ``functions`` the model file at ``path`` defines, behind an adapter.

    Args:
        path: The ``model.py`` file.
        name: The file as the user knows it, for messages.
        functions: The functions it may define, in order of preference.

    Raises:
        ModelError: The file cannot be imported or defines none of ``functions``.
    """
    module = import_model_file(path, name)
    for wanted in functions:
        function = getattr(module, wanted.name, None)
        if callable(function):

            def predict(
                frame: pd.DataFrame,
                function: Callable[..., Any] = function,
                call: Callable[[Callable[..., Any], pd.DataFrame], Any] = wanted.call,
            ) -> Any:
                return call(function, frame)

            return ModelAdapter(predict, source=str(path), name=name, function=wanted.name)
    names = " nor ".join(f"{wanted.name}({wanted.argument})" for wanted in functions)
    raise ModelError(f"{name}: the model file defines neither {names}")


def call_on_frame(function: Callable[..., Any], frame: pd.DataFrame) -> Any:
    """``function(frame)``: a model's ``predict_df``."""
    return function(frame)


def call_per_row(function: Callable[..., Any], frame: pd.DataFrame) -> Any:
    """``[function(row) for row in frame]`` with each row as a dict: a model's ``predict_dict``."""
    return np.asarray([function(row) for row in frame.to_dict("records")])


TABLE_FUNCTIONS = (
    ModelFunction("predict_df", "df", call_on_frame),
    ModelFunction("predict_dict", "row", call_per_row),
)
"""The functions a tabular ``model.py`` may define, in order of preference."""


def _load_pickle(path: Path) -> Any:
    try:
        import joblib
    except ImportError:
        with path.open("rb") as stream:
            return pickle.load(stream)
    return joblib.load(path)


def unpickle_model(path: Path, name: str) -> Any:
    """The pickled (or joblib) model at ``path``.

    Raises:
        ModelError: It cannot be unpickled (the message quotes the error).
    """
    try:
        return _load_pickle(path)
    except MemoryError:  # the worker reports it as OOMKILLED
        raise
    except Exception as exc:
        raise ModelError(f"{name}: cannot unpickle the model: {error_text(exc)}") from exc


def _frame_itself(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def estimator_model(
    estimator: Any,
    path: Path,
    name: str,
    inputs: Callable[[pd.DataFrame], Any] = _frame_itself,
) -> ModelAdapter:
    """An unpickled estimator behind an adapter.

    It calls ``predict_proba`` (else ``predict``) on ``inputs(frame)``.

    Raises:
        ModelError: The estimator has neither method.
    """
    classes = getattr(estimator, "classes_", None)
    for function in ("predict_proba", "predict"):
        method = getattr(estimator, function, None)
        if callable(method):
            labels = None if classes is None or function == "predict" else np.asarray(classes)

            def predict(frame: pd.DataFrame, method: Callable[..., Any] = method) -> Any:
                return method(inputs(frame))

            return ModelAdapter(
                predict, source=str(path), classes=labels, name=name, function=function
            )
    raise ModelError(f"{name}: the unpickled object has neither predict_proba nor predict")


def download(url: str, name: str) -> Path:
    """Copy the file or directory at fsspec ``url`` into a new private temporary directory.

    The copy is removed when the process exits. Returns the local file or directory (a path
    that does not exist when ``url`` names nothing); ``name`` names the model in errors.

    Raises:
        ModelError: The download failed, or an object's name would leave the directory.
    """
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    directory = Path(tempfile.mkdtemp(prefix="rime-model-"))
    atexit.register(shutil.rmtree, directory, True)
    local = directory / (PurePosixPath(root).name or "model")
    try:
        if fs.isfile(root):
            fs.get_file(root, str(local))
            return local
        for remote in fs.find(root):
            relative = PurePosixPath(remote).relative_to(root)
            if ".." in relative.parts:
                raise ModelError(f"model_info.path: {name}: unsafe object name {remote!r}")
            target = local.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(remote, str(target))
    except OSError as exc:
        raise ModelError(f"model_info.path: {name}: cannot download it: {exc}") from exc
    return local


def model_file(path: str, resolver: Resolver | None) -> tuple[Path, str]:
    """The local model file of ``model_info.path`` and its name as the user knows it.

    A directory means its ``model.py``. A model on an fsspec URL (``s3://``, or a ``rime://``
    upload kept on a ``--blob-url``) is downloaded first (:func:`download`).

    Raises:
        ModelError: There is no such file.
    """
    resolved = resolve_path(path, resolver)
    name = display_name(path)
    local = download(resolved, name) if "://" in resolved else Path(resolved)
    if local.is_dir():
        local = local / "model.py"
        name = f"{name.rstrip('/')}/model.py" if name else "model.py"
    if not local.is_file():
        raise ModelError(f"model_info.path: {name}: model file not found")
    return local, name


def unsupported_model_file(name: str) -> ModelError:
    """The error for a model file that is neither Python nor a pickle."""
    expected = ", ".join((".py", *PICKLE_SUFFIXES))
    return ModelError(f"model_info.path: {name}: unsupported model file (expected {expected})")


def load_model(
    path: str,
    resolver: Resolver | None = None,
    functions: Sequence[ModelFunction] = TABLE_FUNCTIONS,
    inputs: Callable[[pd.DataFrame], Any] = _frame_itself,
) -> ModelAdapter:
    """Load the model at ``path`` (local, ``rime://`` file or directory).

    Args:
        path: ``model_info.path``.
        resolver: Maps a ``rime://`` reference to a local path.
        functions: The functions a ``model.py`` may define, in order of preference (default:
            a tabular model's ``predict_df`` / ``predict_dict``).
        inputs: What a pickled estimator's ``predict_proba`` (else ``predict``) gets of a
            frame (default: the frame).

    Raises:
        ModelError: Missing file, unsupported kind, or the model fails to import.
    """
    local, name = model_file(path, resolver)
    if local.suffix == ".py":
        model = python_model(local, name, functions)
    elif local.suffix in PICKLE_SUFFIXES:
        model = estimator_model(unpickle_model(local, name), local, name, inputs=inputs)
    else:
        raise unsupported_model_file(name)
    # Results name the model by the config's reference, never by where a server resolved it.
    model.source = path
    return model
