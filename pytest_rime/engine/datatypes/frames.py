"""Reading a run's reference and evaluation files into frames, shared by the data types."""

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
from pytest_rime.engine.datatypes import LoadedData
from pytest_rime.engine.errors import DataError


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
        predictions = _as_matrix(frame[pred_col].to_numpy())
    total = len(frame)
    positions = sample_positions(total, nrows, seed)
    if positions is not None:
        frame = frame.iloc[positions]
        predictions = predictions[positions] if predictions is not None else None
    return frame, predictions, total


def _as_matrix(values: np.ndarray) -> np.ndarray:
    """A column of per-row probability lists as an (n, k) matrix; other columns as they are."""
    if (
        values.dtype == object
        and len(values)
        and all(isinstance(v, list | tuple | np.ndarray) for v in values)
    ):
        try:
            return np.vstack([np.asarray(v, dtype=float) for v in values])
        except ValueError:  # ragged: let the prediction checks name the problem
            return values
    return values


def load_frames(
    config: TestRunConfig, resolver: Resolver | None, log: Callable[[str], None]
) -> LoadedData:
    """Read the ref and eval files (and prediction files), sampled to ``nrows`` if set."""
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
