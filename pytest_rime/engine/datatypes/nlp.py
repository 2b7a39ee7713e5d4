"""The ``nlp`` data type: texts with labels and metadata, and a text classifier.

Data: ref and eval as csv, parquet, json lines or json files, one text per row in
``data_info.text_col`` (default ``text``), the label, optional metadata columns and optional
precomputed predictions (``pred_col``: a probability, or a list of class probabilities per row;
or ``ref_pred_path`` / ``eval_pred_path``). A missing text counts as the empty text.

Model: a ``model.py`` defining ``predict_batch(texts: list[str])``, ``predict_df(df)`` or the
reference SDK's ``predict_dict(x: dict)`` (each row as a dict, text under ``text_col``), in that
order of preference; or a pickled scikit-learn text pipeline, whose ``predict_proba`` gets the
list of texts. Each is called in batches, like a tabular model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from pytest_rime.engine.config import TestRunConfig
from pytest_rime.engine.data import Resolver, display_name
from pytest_rime.engine.datatypes import LoadedData, register_data_type
from pytest_rime.engine.datatypes.common import (
    data_info_keys,
    load_frames_with_column,
    load_model_with,
)
from pytest_rime.engine.errors import DataError
from pytest_rime.engine.model import ModelAdapter, ModelFunction, call_on_frame, call_per_row
from pytest_rime.vocabulary import BINARY, MULTICLASS, NLP, TEXT_CLASSIFICATION

DEFAULT_TEXT_COL = "text"
"""``data_info.text_col`` when the config does not name one."""

DATA_INFO_KEYS = data_info_keys("text_col")
"""The ``data_info`` keys of an nlp config (``protected_features`` name metadata columns)."""


def text_column(config: TestRunConfig) -> str:
    """The column holding the texts."""
    return config.data_info.text_col or DEFAULT_TEXT_COL


def as_texts(column: pd.Series) -> pd.Series:
    """The column as strings, a missing value as the empty text."""
    return column.where(column.notna(), "").astype(str)


def load_texts(
    config: TestRunConfig, resolver: Resolver | None, log: Callable[[str], None]
) -> LoadedData:
    """Read the ref and eval texts (see the module docstring).

    Raises:
        DataError: A file lacks the text column, or every reference text is empty.
    """
    column = text_column(config)

    def prepare(frame: pd.DataFrame, _path: str) -> None:
        frame[column] = as_texts(frame[column])

    data = load_frames_with_column(config, resolver, log, column, "text_col", prepare)
    info = config.data_info
    if len(data.ref) and not data.ref[column].str.strip().astype(bool).any():
        raise DataError(
            f"data_info.text_col: every text of {display_name(info.ref_path)} is empty: there "
            "is no reference text to compare with"
        )
    return data


def _texts_of(column: str) -> Callable[[pd.DataFrame], list[str]]:
    def texts(frame: pd.DataFrame) -> list[str]:
        return frame[column].tolist()

    return texts


def load_text_model(config: TestRunConfig, resolver: Resolver | None) -> ModelAdapter:
    """The text classifier of ``config.model_info`` (see the module docstring).

    Raises:
        ModelError: Missing or unsupported file, or a model file without a predict function.
    """
    texts = _texts_of(text_column(config))

    def call_on_texts(function: Callable[..., Any], frame: pd.DataFrame) -> Any:
        return function(texts(frame))

    functions = (
        ModelFunction("predict_batch", "texts", call_on_texts),
        ModelFunction("predict_df", "df", call_on_frame),
        ModelFunction("predict_dict", "x", call_per_row),
    )
    return load_model_with(config, resolver, functions, inputs=texts)


NLP_DATA = register_data_type(
    NLP,
    load_data=load_texts,
    load_model=load_text_model,
    data_info_keys=DATA_INFO_KEYS,
    model_tasks=(TEXT_CLASSIFICATION, BINARY, MULTICLASS),
)
