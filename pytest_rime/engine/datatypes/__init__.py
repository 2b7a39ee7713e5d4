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

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pytest_rime.engine.config import DataInfo, TestRunConfig
from pytest_rime.engine.data import Resolver
from pytest_rime.engine.model import ModelAdapter
from pytest_rime.engine.results import JSONValue
from pytest_rime.vocabulary import KNOWN_DATA_TYPES


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


DataLoader = Callable[[TestRunConfig, Resolver | None, Callable[[str], None]], LoadedData]
"""``load(config, resolver, log)``: read ``config.data_info`` (``rime://`` URIs through
``resolver``), logging a line per file read."""

ModelLoader = Callable[[TestRunConfig, Resolver | None], ModelAdapter]
"""``load(config, resolver)``: the model at ``config.model_info.path`` behind the batched
adapter the tests call."""


@dataclass(frozen=True)
class DataType:
    """A registered data type.

    Attributes:
        name: Its ``data_type`` value.
        load_data: Reads ``data_info`` (see :data:`DataLoader`).
        load_model: Loads the model (see :data:`ModelLoader`).
        data_info_keys: The ``data_info`` keys its configs may have (others are rejected by
            name).
        model_tasks: The ``model_task`` values its configs may name.
    """

    name: str
    load_data: DataLoader
    load_model: ModelLoader
    data_info_keys: tuple[str, ...]
    model_tasks: tuple[str, ...]


_DATA_TYPES: dict[str, DataType] = {}


def register_data_type(
    name: str,
    *,
    load_data: DataLoader,
    load_model: ModelLoader,
    data_info_keys: tuple[str, ...],
    model_tasks: tuple[str, ...],
) -> DataType:
    """Register the data type ``name`` (one of the reference SDK's ``data_type`` values).

    Raises:
        ValueError: ``name`` is not a known ``data_type`` or is registered already, or a
            ``data_info`` key is not a field of :class:`~pytest_rime.engine.config.DataInfo`.
    """
    if name not in KNOWN_DATA_TYPES:
        raise ValueError(f"data type {name!r}: expected one of {', '.join(KNOWN_DATA_TYPES)}")
    if name in _DATA_TYPES:
        raise ValueError(f"data type {name!r} is already registered")
    unknown = sorted(set(data_info_keys) - {f.name for f in dataclasses.fields(DataInfo)})
    if unknown:
        raise ValueError(f"data type {name!r}: data_info keys {unknown} are not DataInfo fields")
    _DATA_TYPES[name] = DataType(name, load_data, load_model, data_info_keys, model_tasks)
    return _DATA_TYPES[name]


def registered_data_types() -> tuple[DataType, ...]:
    """The data types registered so far, in registration order.

    Only the modules imported so far have registered theirs: ask
    :func:`pytest_rime.engine.catalog.supported_data_types` for every one.
    """
    return tuple(_DATA_TYPES.values())
