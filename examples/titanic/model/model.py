"""Titanic survival model: a logistic regression stored as plain numbers in model.json.

``predict_df(df)`` returns the probability of survival for each row. Numbers are clipped to
the range seen in training and missing or unparsable ones count as the training mean;
category text is compared trimmed and lower-cased, and an unknown category counts as no known
level. So abnormal inputs get a bounded prediction instead of an error.
``prepare_data.py`` fits the model on :func:`design_matrix` too, so training and serving
share one transformation.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def design_matrix(df: pd.DataFrame, artefact: dict[str, Any]) -> np.ndarray:
    """Standardised numeric columns and one-hot categorical levels, as in ``artefact``."""
    columns = []
    for column, (mean, scale, low, high) in artefact["numeric"].items():
        values = pd.to_numeric(df[column], errors="coerce").astype(float).clip(low, high)
        columns.append(((values - mean) / scale).fillna(0.0).to_numpy())
    for column, levels in artefact["categorical"].items():
        text = df[column].astype(str).str.strip().str.lower()
        columns += [(text == level).to_numpy(dtype=float) for level in levels]
    return np.column_stack(columns)


@functools.cache
def _artefact() -> dict[str, Any]:
    artefact: dict[str, Any] = json.loads(
        Path(__file__).with_name("model.json").read_text(encoding="utf-8")
    )
    return artefact


def predict_df(df: pd.DataFrame) -> np.ndarray:
    """Probability of survival for each row of ``df``."""
    artefact = _artefact()
    logits = design_matrix(df, artefact) @ np.asarray(artefact["coef"]) + artefact["intercept"]
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30))), dtype=float)
