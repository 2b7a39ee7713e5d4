"""A multi-day firewall data set for split-and-merge tests (engine and Ray).

Imported as ``from firewall_split_data import ...``. :func:`write_split_data` writes a
reference, a model (``predict_df``, numpy only) and :data:`DAYS` days of evaluation data with
uneven row counts per day (:data:`DAY_ROWS`): day :data:`DRIFT_DAY` is shifted (drift events),
one row has an impossible value (abnormal inputs), and :data:`UNPARSED` timestamps fit no bin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DAY = 86400
FIRST_DAY = pd.Timestamp("2024-03-01", tz="UTC")
DAY_ROWS = (90, 140, 60, 200, 120, 80)
DAYS = len(DAY_ROWS)
DRIFT_DAY = 3
UNPARSED = ("yesterday", "")

MODEL_SOURCE = """
import numpy as np


def predict_df(df):
    score = (df["x"] - 0.2) + np.where(df["c"] == "red", 0.4, 0.0) + 0.01 * (df["i"] - 25)
    return 1.0 / (1.0 + np.exp(-score))
"""


def _frame(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, rows)
    c = rng.choice(["red", "green", "blue"], rows)
    i = rng.integers(0, 50, rows)
    score = x + 0.4 * (c == "red") + 0.01 * (i - 25)
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-score))).astype(int)
    return pd.DataFrame({"x": x, "z": rng.normal(0.0, 1.0, rows), "i": i, "c": c, "y": y})


def eval_frame(seed: int = 3) -> pd.DataFrame:
    """The evaluation rows: :data:`DAY_ROWS` per day, timestamped within each UTC day."""
    rng = np.random.default_rng(seed)
    days = []
    for day, rows in enumerate(DAY_ROWS):
        frame = _frame(rng, rows, shift=2.5 if day == DRIFT_DAY else 0.0)
        start = FIRST_DAY + pd.Timedelta(days=day)
        offsets = np.sort(rng.integers(0, DAY, rows))
        stamps = (start + pd.to_timedelta(offsets, unit="s")).strftime("%Y-%m-%d %H:%M:%S")
        days.append(frame.assign(ts=stamps))
    frame = pd.concat(days, ignore_index=True)
    frame.loc[[4, 300], "ts"] = list(UNPARSED)
    frame.loc[10, "z"] = 1e9  # an abnormal input on day 0
    return frame


def write_split_data(directory: Path) -> dict[str, Any]:
    """Write ``ref.csv``, ``eval.csv`` and ``model.py``; the firewall arguments for them.

    Returns:
        ``{"config": reference config, "eval_path": str, "timestamp_col": "ts",
        "bin_size_seconds": DAY}``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    _frame(np.random.default_rng(1), 600).to_csv(directory / "ref.csv", index=False)
    eval_frame().to_csv(directory / "eval.csv", index=False)
    (directory / "model.py").write_text(MODEL_SOURCE)
    config = {
        "run_name": "split",
        "data_info": {
            "ref_path": str(directory / "ref.csv"),
            "eval_path": str(directory / "ref.csv"),
            "label_col": "y",
            "categorical_features": ["c"],
        },
        "model_info": {"path": str(directory / "model.py")},
        "model_task": "Binary Classification",
    }
    return {
        "reference_config": config,
        "eval_path": str(directory / "eval.csv"),
        "timestamp_col": "ts",
        "bin_size_seconds": DAY,
    }


def comparable(value: Any) -> Any:
    """A ``to_dict()`` payload without wall times (the only fields a split may change)."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k != "duration_millis"}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value
