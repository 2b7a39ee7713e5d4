"""The ``tabular`` data type: tables of features and a model over their rows.

Tables are csv, parquet or json lines files; the model a ``model.py`` with ``predict_df`` /
``predict_dict``, or a pickled estimator (:mod:`pytest_rime.engine.model`).
"""

from __future__ import annotations

from pytest_rime.engine.config import TestRunConfig
from pytest_rime.engine.data import Resolver
from pytest_rime.engine.datatypes import register_data_type
from pytest_rime.engine.datatypes.common import data_info_keys, model_path
from pytest_rime.engine.datatypes.frames import load_frames
from pytest_rime.engine.model import ModelAdapter, load_model
from pytest_rime.vocabulary import BINARY, MULTICLASS, REGRESSION, TABULAR

DATA_INFO_KEYS = data_info_keys("categorical_features", "features_not_in_model")
"""The ``data_info`` keys of a tabular config."""


def load_table_model(config: TestRunConfig, resolver: Resolver | None) -> ModelAdapter:
    """The model of ``config.model_info`` (see :func:`pytest_rime.engine.model.load_model`)."""
    return load_model(model_path(config), resolver)


TABULAR_DATA = register_data_type(
    TABULAR,
    load_data=load_frames,
    load_model=load_table_model,
    data_info_keys=DATA_INFO_KEYS,
    model_tasks=(BINARY, MULTICLASS, REGRESSION),
)
