"""Model tasks: what a model predicts, inferred when the config does not say.

A leaf module (numpy and pandas only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pytest_rime.vocabulary import BINARY, MULTICLASS, REGRESSION

MAX_CLASSES = 20
"""An integer or string label with more distinct values than this is regression."""


def infer_model_task(labels: pd.Series | None, raw_predictions: np.ndarray | None) -> str | None:
    """The model task inferred from the labels, else from the raw predictions.

    Labels: 2 classes -> binary; whole numbers or strings with at most :data:`MAX_CLASSES`
    classes -> multi-class; other numbers -> regression. Predictions: a matrix with more than
    two columns -> multi-class; values in 0..1 -> binary; other numbers -> regression.
    ``None`` when there are neither labels nor predictions.
    """
    if labels is not None and labels.notna().any():
        values = labels.dropna()
        n_classes = values.nunique()
        if pd.api.types.is_float_dtype(values) and not np.all(np.mod(values, 1) == 0):
            return REGRESSION
        if n_classes <= 2:
            return BINARY
        numeric = pd.api.types.is_numeric_dtype(values)
        return MULTICLASS if n_classes <= MAX_CLASSES or not numeric else REGRESSION
    if raw_predictions is not None and raw_predictions.size:
        if raw_predictions.ndim == 2 and raw_predictions.shape[1] > 2:
            return MULTICLASS
        if raw_predictions.ndim == 2 or (
            np.issubdtype(raw_predictions.dtype, np.number)
            and np.nanmin(raw_predictions) >= 0
            and np.nanmax(raw_predictions) <= 1
        ):
            return BINARY
        return REGRESSION if np.issubdtype(raw_predictions.dtype, np.number) else MULTICLASS
    return None
