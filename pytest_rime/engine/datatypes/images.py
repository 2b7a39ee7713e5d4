"""The ``images`` data type: image files listed in a table, and an image classifier.

Data: ref and eval tables (csv, parquet, json lines, json) with the image file of each row in
``data_info.image_col`` (default ``image``), a path relative to the table's folder (an uploaded
folder, through the server) -- or absolute, for local runs only -- the label, optional metadata
columns and optional precomputed predictions. PNG, JPEG (any format Pillow reads) and NPY files
of any size, grey or colour. A missing, unreadable or truncated file does not stop the run: the
model scores it as a black image and the Abnormal Inputs tests count and report it.

Model: a ``model.py`` defining ``predict_batch(images: list[np.ndarray])``, ``predict_df(df)``
(the image column holding arrays) or the reference SDK's ``predict_dict(x: dict)`` (``x[image_col]``
the image as a numpy array), in that order of preference; or a pickled scikit-learn estimator on
flattened pixels (all images of one size). Each is called in batches.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from pytest_rime.engine.config import TestRunConfig
from pytest_rime.engine.data import Resolver, resolve_path
from pytest_rime.engine.datatypes import LoadedData, register_data_type
from pytest_rime.engine.datatypes.common import (
    data_info_keys,
    load_frames_with_column,
    load_model_with,
)
from pytest_rime.engine.errors import ModelError
from pytest_rime.engine.image_io import blank_like, pixels_of
from pytest_rime.engine.model import ModelAdapter, ModelFunction, call_per_row
from pytest_rime.vocabulary import BINARY, IMAGE_CLASSIFICATION, IMAGES, MULTICLASS

DEFAULT_IMAGE_COL = "image"
"""``data_info.image_col`` when the config does not name one."""

DATA_INFO_KEYS = data_info_keys("image_col")
"""The ``data_info`` keys of an images config (``protected_features`` name metadata columns)."""


def image_column(config: TestRunConfig) -> str:
    """The column holding the image files."""
    return config.data_info.image_col or DEFAULT_IMAGE_COL


def _resolved(value: object, folder: Path, confined: bool) -> str:
    """The local path of one image entry ("" when there is none or it may not be read)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "":
        return ""
    relative = PurePosixPath(str(value).replace("\\", "/"))
    if relative.is_absolute():
        return "" if confined else str(relative)
    if confined and ".." in relative.parts:
        return ""
    return str(folder / relative)


def _resolve_images(
    frame: pd.DataFrame, column: str, table: str, resolver: Resolver | None
) -> None:
    """Replace the image entries of ``frame`` by local paths, relative to the table's folder.

    A table uploaded through the server (a ``rime://`` reference) or read from a URL may only
    name files inside its own folder: an absolute path or one leaving the folder reads as
    missing (a remote table cannot make the worker read the server's disk).
    """
    folder = Path(resolve_path(table, resolver)).parent
    confined = "://" in table  # rime:// uploads and remote URLs
    frame[column] = [_resolved(value, folder, confined) for value in frame[column]]


def load_image_tables(
    config: TestRunConfig, resolver: Resolver | None, log: Callable[[str], None]
) -> LoadedData:
    """Read the ref and eval tables and resolve their image paths (see the module docstring).

    Raises:
        DataError: A table lacks the image column.
    """
    column = image_column(config)

    def prepare(frame: pd.DataFrame, path: str) -> None:
        _resolve_images(frame, column, path, resolver)

    return load_frames_with_column(config, resolver, log, column, "image_col", prepare)


def images_of(frame: pd.DataFrame, column: str) -> list[np.ndarray]:
    """The images of ``frame`` (paths read, arrays as they are), an unreadable one as black."""
    read = [pixels_of(value).pixels for value in frame[column]]
    blank = blank_like(read)
    return [blank if image is None else image for image in read]


def _with_arrays(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    arrays = pd.Series(images_of(frame, column), index=frame.index, dtype=object)
    return frame.assign(**{column: arrays})


def _flattened(column: str) -> Callable[[pd.DataFrame], np.ndarray]:
    def inputs(frame: pd.DataFrame) -> np.ndarray:
        images = images_of(frame, column)
        shapes = {image.shape for image in images}
        if len(shapes) > 1:
            raise ModelError(
                f"a pickled estimator takes flattened pixels of one image size; the images "
                f"have {len(shapes)} sizes (e.g. {', '.join(map(str, sorted(shapes)[:3]))})"
            )
        return np.stack([image.astype(float).ravel() for image in images])

    return inputs


def load_image_model(config: TestRunConfig, resolver: Resolver | None) -> ModelAdapter:
    """The image classifier of ``config.model_info`` (see the module docstring).

    Raises:
        ModelError: Missing or unsupported file, or a model file without a predict function.
    """
    column = image_column(config)

    def call_on_images(function: Callable[..., Any], frame: pd.DataFrame) -> Any:
        return function(images_of(frame, column))

    def call_on_arrays(function: Callable[..., Any], frame: pd.DataFrame) -> Any:
        return function(_with_arrays(frame, column))

    def call_on_rows(function: Callable[..., Any], frame: pd.DataFrame) -> Any:
        return call_per_row(function, _with_arrays(frame, column))

    functions = (
        ModelFunction("predict_batch", "images", call_on_images),
        ModelFunction("predict_df", "df", call_on_arrays),
        ModelFunction("predict_dict", "x", call_on_rows),
    )
    return load_model_with(config, resolver, functions, inputs=_flattened(column))


IMAGES_DATA = register_data_type(
    IMAGES,
    load_data=load_image_tables,
    load_model=load_image_model,
    data_info_keys=DATA_INFO_KEYS,
    model_tasks=(IMAGE_CLASSIFICATION, BINARY, MULTICLASS),
)
