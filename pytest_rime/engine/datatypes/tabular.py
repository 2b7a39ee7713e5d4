"""The ``tabular`` data type: tables of features and a model over their rows.

Tables are csv, parquet or json lines files; the model a ``model.py`` with ``predict_df`` /
``predict_dict``, or a pickled estimator (:mod:`pytest_rime.engine.model`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from pytest_rime.engine.config import TestRunConfig
from pytest_rime.engine.data import (
    Resolver,
    display_name,
    read_predictions,
    read_table,
    sample_positions,
)
from pytest_rime.engine.datatypes import LoadedData, register_data_type
from pytest_rime.engine.errors import DataError
from pytest_rime.engine.model import load_model
from pytest_rime.vocabulary import TABULAR


def _load_frame(
    path: str,
    name: str,
    resolver: Resolver | None,
    nrows: int | None,
    seed: int,
    pred_path: str | None,
    pred_col: str | None,
) -> tuple[pd.DataFrame, np.ndarray | None, int]:
    frame = read_table(path, resolver)
    frame.columns = [str(column) for column in frame.columns]
    predictions = None
    if pred_path is not None:
        predictions = read_predictions(pred_path, resolver, pred_col)
        if len(predictions) != len(frame):
            raise DataError(
                f"data_info.{name}_pred_path: {display_name(pred_path)} has "
                f"{len(predictions)} predictions for the {len(frame)} rows of {display_name(path)}"
            )
    elif pred_col is not None and pred_col in frame.columns:
        predictions = frame[pred_col].to_numpy()
    total = len(frame)
    positions = sample_positions(total, nrows, seed)
    if positions is not None:
        frame = frame.iloc[positions]
        predictions = predictions[positions] if predictions is not None else None
    return frame, predictions, total


def load_tables(
    config: TestRunConfig, resolver: Resolver | None, log: Callable[[str], None]
) -> LoadedData:
    """Read the ref and eval tables (and prediction files), sampled to ``nrows`` if set."""
    info = config.data_info
    seed = config.random_seed
    ref, ref_preds, ref_total = _load_frame(
        info.ref_path, "ref", resolver, info.nrows, seed, info.ref_pred_path, info.pred_col
    )
    log(f"read {ref_total} reference rows from {display_name(info.ref_path)}")
    cur, eval_preds, eval_total = _load_frame(
        info.eval_path, "eval", resolver, info.nrows, seed + 1, info.eval_pred_path, info.pred_col
    )
    log(f"read {eval_total} evaluation rows from {display_name(info.eval_path)}")
    return LoadedData(
        ref=ref,
        eval=cur,
        ref_predictions=ref_preds,
        eval_predictions=eval_preds,
        metadata={
            "random_seed": seed,
            "nrows": info.nrows,
            "ref_rows_total": ref_total,
            "eval_rows_total": eval_total,
            "ref_rows": len(ref),
            "eval_rows": len(cur),
            "sampled": len(ref) < ref_total or len(cur) < eval_total,
        },
    )


TABULAR_DATA = register_data_type(TABULAR, load_data=load_tables, load_model=load_model)
