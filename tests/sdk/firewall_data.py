"""Small timestamped data sets for firewall integration tests.

A reference set, a model (``predict_df``) and an evaluation set spanning :data:`DAYS` UTC days
whose rows all fall in the hours :data:`HOURS` of their day (so hourly binning gives two bins
per day). On day :data:`DRIFT_DAY` the feature ``age`` is shifted by :data:`AGE_SHIFT`. Two rows
have a timestamp that cannot be parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sdk_helpers import POLL_SECS

from pytest_rime.sdk import RIMEStressTestJob

FIRST_DAY = pd.Timestamp("2024-05-01", tz="UTC")
DAYS = 3
DRIFT_DAY = 1
AGE_SHIFT = 30
ROWS_PER_DAY = 150
HOURS = (10, 11)
UNPARSED = ("not a time", "")

MODEL_SOURCE = """
import numpy as np


def predict_df(df):
    score = 0.05 * (df["age"] - 45) + (df["income"] - 50) / 20
    score = score + np.where(df["city"] == "Paris", 0.5, 0.0)
    return 1.0 / (1.0 + np.exp(-score))
"""


def people(rng: np.random.Generator, rows: int, age_shift: int = 0) -> pd.DataFrame:
    """Rows of ``age``, ``income``, ``city`` and a ``label`` drawn from the model's odds."""
    age = rng.integers(20, 70, rows) + age_shift
    income = rng.normal(50, 15, rows).round(2)
    city = rng.choice(["Paris", "Lyon", "Nice"], rows)
    score = 0.05 * (age - 45) + (income - 50) / 20 + np.where(city == "Paris", 0.5, 0.0)
    label = (rng.random(rows) < 1 / (1 + np.exp(-score))).astype(int)
    return pd.DataFrame({"age": age, "income": income, "city": city, "label": label})


def day_rows(rng: np.random.Generator, day: int, age_shift: int = 0) -> pd.DataFrame:
    """:data:`ROWS_PER_DAY` rows stamped within the hours :data:`HOURS` of day ``day``."""
    start = FIRST_DAY + pd.Timedelta(days=day, hours=HOURS[0])
    offsets = np.sort(rng.integers(0, 3600 * len(HOURS), ROWS_PER_DAY))
    stamps = (start + pd.to_timedelta(offsets, unit="s")).strftime("%Y-%m-%d %H:%M:%S")
    return people(rng, ROWS_PER_DAY, age_shift).assign(ts=stamps)


@dataclass(frozen=True)
class FirewallData:
    """Paths of the files :func:`write_firewall_data` wrote."""

    directory: Path
    ref_path: Path
    shifted_ref_path: Path
    eval_path: Path
    clean_drift_day_path: Path
    model_path: Path

    def reference_config(self, ref_path: str, model_path: str, **overrides: Any) -> dict[str, Any]:
        """A stress test config on ``ref_path`` (also its eval data) and ``model_path``."""
        config: dict[str, Any] = {
            "run_name": "firewall reference",
            "data_info": {
                "label_col": "label",
                "ref_path": ref_path,
                "eval_path": ref_path,
                "categorical_features": ["city"],
            },
            "model_info": {"path": model_path},
            "model_task": "Binary Classification",
        }
        config.update(overrides)
        return config


def write_firewall_data(directory: Path, seed: int = 0) -> FirewallData:
    """Write the reference sets, the days of evaluation data and the model into ``directory``.

    - ``ref.csv``: 400 rows like the normal days; ``ref_shifted.csv``: the same with ``age``
      shifted like the drift day.
    - ``eval.csv``: the :data:`DAYS` days (day :data:`DRIFT_DAY` drifted) and two rows whose
      ``ts`` cannot be parsed.
    - ``drift_day_clean.csv``: day :data:`DRIFT_DAY` again, without the drift.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ref = people(rng, 400)
    ref.to_csv(directory / "ref.csv", index=False)
    ref.assign(age=ref["age"] + AGE_SHIFT).to_csv(directory / "ref_shifted.csv", index=False)
    days = [day_rows(rng, d, AGE_SHIFT if d == DRIFT_DAY else 0) for d in range(DAYS)]
    eval_frame = pd.concat(days, ignore_index=True)
    eval_frame.loc[[5, ROWS_PER_DAY + 7], "ts"] = list(UNPARSED)
    eval_frame.to_csv(directory / "eval.csv", index=False)
    day_rows(rng, DRIFT_DAY).to_csv(directory / "drift_day_clean.csv", index=False)
    (directory / "model.py").write_text(MODEL_SOURCE)
    return FirewallData(
        directory=directory,
        ref_path=directory / "ref.csv",
        shifted_ref_path=directory / "ref_shifted.csv",
        eval_path=directory / "eval.csv",
        clean_drift_day_path=directory / "drift_day_clean.csv",
        model_path=directory / "model.py",
    )


def day_start(day: int) -> int:
    """Seconds since the epoch of the start of day ``day``."""
    return int((FIRST_DAY + pd.Timedelta(days=day)).timestamp())


def expected_bins(eval_path: Path, freq: str) -> pd.Series:
    """Rows per bin start (epoch seconds), computed with pandas from the raw ``ts`` column."""
    stamps = pd.read_csv(eval_path)["ts"]
    parsed = pd.to_datetime(stamps, errors="coerce", utc=True, format="%Y-%m-%d %H:%M:%S")
    counts = parsed.dropna().dt.floor(freq).value_counts().sort_index()
    counts.index = [int(t.timestamp()) for t in counts.index]
    return counts


def wait_succeeded(job: RIMEStressTestJob) -> dict[str, Any]:
    """Wait for ``job``; its status dict once it succeeded (its log when it did not)."""
    status = job.get_status(wait_until_finish=True, poll_rate_sec=POLL_SECS)
    assert status["status"] == "JOB_STATUS_SUCCEEDED", job.get_logs()
    return status
