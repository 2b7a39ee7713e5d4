"""The data-type seam: how the engine reads a run's data and loads its model, per ``data_type``.

A data type is a :class:`DataType` registered with :func:`register_data_type` by a module of
this package (``tabular.py`` for tables of features). :mod:`pytest_rime.engine.catalog`
imports every module here, so adding a data type is: a module here with its loader and model
adapter, and its tests registered with ``data_types=("<name>",)`` under
:mod:`pytest_rime.engine.tests` -- nothing edited elsewhere (docs/internals.md, "Adding a data
type").

The loader reads ``data_info`` into a :class:`LoadedData` of two frames (one row per input;
for text, a text column; for images, a column of image paths) and the precomputed predictions,
if any; the run loop checks them, builds the
:class:`~pytest_rime.engine.context.RunContext` over them and calls the model adapter through
it. Loaders raise :class:`~pytest_rime.engine.errors.DataError`, adapters
:class:`~pytest_rime.engine.errors.ModelError`, each naming the config key at fault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pytest_rime.engine.data import Resolver
from pytest_rime.engine.results import JSONValue
from pytest_rime.vocabulary import KNOWN_DATA_TYPES

if TYPE_CHECKING:
    from pytest_rime.engine.config import TestRunConfig
    from pytest_rime.engine.model import ModelAdapter


@dataclass(frozen=True)
class LoadedData:
    """A run's data as its data type's loader read it.

    Attributes:
        ref: Reference frame, one row per input.
        eval: Evaluation frame.
        ref_predictions: Precomputed raw predictions of ``ref`` (``None``: call the model).
        eval_predictions: Same for ``eval``.
        metadata: What the results' metadata should say about the data (row counts, sampling).
    """

    ref: pd.DataFrame
    eval: pd.DataFrame
    ref_predictions: np.ndarray | None
    eval_predictions: np.ndarray | None
    metadata: dict[str, JSONValue]


DataLoader = Callable[["TestRunConfig", Resolver | None, Callable[[str], None]], LoadedData]
"""``load(config, resolver, log)``: read ``config.data_info`` (``rime://`` URIs through
``resolver``), logging a line per file read."""

ModelLoader = Callable[[str, Resolver | None], "ModelAdapter"]
"""``load(model_info.path, resolver)``: the model behind the batched adapter the tests call."""


@dataclass(frozen=True)
class DataType:
    """A registered data type: its name, data loader and model adapter loader."""

    name: str
    load_data: DataLoader
    load_model: ModelLoader


_DATA_TYPES: dict[str, DataType] = {}


def register_data_type(name: str, *, load_data: DataLoader, load_model: ModelLoader) -> DataType:
    """Register the data type ``name`` (one of the reference SDK's ``data_type`` values).

    Raises:
        ValueError: ``name`` is not a known ``data_type`` or is registered already.
    """
    if name not in KNOWN_DATA_TYPES:
        raise ValueError(f"data type {name!r}: expected one of {', '.join(KNOWN_DATA_TYPES)}")
    if name in _DATA_TYPES:
        raise ValueError(f"data type {name!r} is already registered")
    _DATA_TYPES[name] = DataType(name, load_data, load_model)
    return _DATA_TYPES[name]


def registered_data_types() -> tuple[DataType, ...]:
    """The data types registered so far, in registration order.

    Only the modules imported so far have registered theirs: ask
    :func:`pytest_rime.engine.catalog.supported_data_types` for every one.
    """
    return tuple(_DATA_TYPES.values())
