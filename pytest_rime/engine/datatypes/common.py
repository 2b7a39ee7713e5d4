"""What the data type modules share: ``data_info`` keys, the special-column check, model loading.

Special column: the texts (``nlp``) or image files (``images``) each loader checks and rewrites;
model loading: a ``model.py`` or pickled estimator called through per-type input functions.

Each ``data_info`` key is declared once: :class:`~pytest_rime.engine.config.DataInfo` names
every key (and its type, which the config validation reads), :data:`COMMON_DATA_INFO_KEYS` the
ones every data type accepts and each data type module its own (:func:`data_info_keys`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from pytest_rime.engine.config import DataInfo, TestRunConfig
from pytest_rime.engine.data import Resolver, display_name
from pytest_rime.engine.datatypes import LoadedData
from pytest_rime.engine.datatypes.frames import load_frames
from pytest_rime.engine.errors import DataError, ModelError
from pytest_rime.engine.model import ModelAdapter, ModelFunction, load_model

COMMON_DATA_INFO_KEYS = (
    "ref_path",
    "eval_path",
    "label_col",
    "pred_col",
    "timestamp_col",
    "ref_pred_path",
    "eval_pred_path",
    "protected_features",
    "nrows",
)
"""The ``data_info`` keys of every data type's configs."""


def data_info_keys(*own: str) -> tuple[str, ...]:
    """:data:`COMMON_DATA_INFO_KEYS` and a data type's ``own`` keys, in ``DataInfo`` order.

    Raises:
        ValueError: One of ``own`` is not a field of ``DataInfo``.
    """
    fields = [field.name for field in dataclasses.fields(DataInfo)]
    unknown = sorted(set(own) - set(fields))
    if unknown:
        raise ValueError(f"data_info keys {unknown} are not DataInfo fields")
    keys = {*COMMON_DATA_INFO_KEYS, *own}
    return tuple(name for name in fields if name in keys)


def load_frames_with_column(
    config: TestRunConfig,
    resolver: Resolver | None,
    log: Callable[[str], None],
    column: str,
    key: str,
    prepare: Callable[[pd.DataFrame, str], None],
) -> LoadedData:
    """Read the ref and eval files; check each has ``column`` and ``prepare(frame, path)`` it.

    Args:
        config: The run's config (``data_info`` names the files).
        resolver: Maps a ``rime://`` URI to a local path.
        log: Gets a line per file read.
        column: The special column (the texts, the image files).
        key: Its ``data_info`` key, ``<what>_col`` (``text_col``: "has no text column").
        prepare: Rewrites the column of one frame read from ``path`` in place.

    Raises:
        DataError: A file lacks ``column``.
    """
    data = load_frames(config, resolver, log)
    info = config.data_info
    what = key.removesuffix("_col")
    for frame, path in ((data.ref, info.ref_path), (data.eval, info.eval_path)):
        if column not in frame.columns:
            raise DataError(
                f"data_info.{key}: {display_name(path)} has no {what} column {column!r} "
                f"(columns: {', '.join(map(str, frame.columns))})"
            )
        prepare(frame, path)
    return data


def model_path(config: TestRunConfig) -> str:
    """``config.model_info.path``.

    Raises:
        ModelError: The config names no model.
    """
    if config.model_info is None:
        raise ModelError("model_info.path: the config names no model")
    return config.model_info.path


def load_model_with(
    config: TestRunConfig,
    resolver: Resolver | None,
    functions: Sequence[ModelFunction],
    inputs: Callable[[pd.DataFrame], Any],
) -> ModelAdapter:
    """The model of ``config.model_info`` behind the batched adapter.

    A ``model.py`` is called through the first of ``functions`` it defines; a pickled
    estimator's ``predict_proba`` (else ``predict``) gets ``inputs(frame)``.

    Raises:
        ModelError: Missing or unsupported file, or a model file without a predict function.
    """
    return load_model(model_path(config), resolver, functions, inputs)
