"""Firewall bins of ~50 rows of a real dataset: clean days raise no HIGH, a faulty day does.

scikit-learn's breast cancer data (569 rows, 30 numeric features) is split at random into a
training part, a reference set and an evaluation set whose rows get random timestamps over
:data:`DAYS` UTC days, so each daily bin holds about 47 rows (issue 8: "every 47-row daily bin
flagged as 30 features drift"). A logistic regression is trained on the training part. On such
bins the PSI of most features exceeds its threshold by sampling noise alone; the firewall must
read its monitored metrics against the spread of reference chunks of the bin's size and raise
a HIGH event only where the data really changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from pytest_rime.engine.firewall import FirewallRunResult, run_firewall
from pytest_rime.engine.monitoring import NUM_DRIFTING_FEATURES
from pytest_rime.engine.results import Severity

pytestmark = pytest.mark.slow  # seconds per case: the default run has the engine's unit tests

DAYS = 4
BAD_DAY = 2
FIRST_DAY = pd.Timestamp("2024-05-01", tz="UTC")
LABEL = "target"


def _split(directory: Path, seed: int) -> dict[str, Any]:
    """Write ref.csv, model.joblib and the timestamped eval frame of one random split."""
    data = load_breast_cancer(as_frame=True).frame
    features = [c for c in data.columns if c != LABEL]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    train, ref = data.iloc[order[:190]], data.iloc[order[190:380]]
    current = data.iloc[order[380:]].reset_index(drop=True)
    model: Pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(train[features], train[LABEL])
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / "model.joblib")
    ref.to_csv(directory / "ref.csv", index=False)
    days = rng.integers(0, DAYS, len(current))
    stamps = (
        FIRST_DAY
        + pd.to_timedelta(days, unit="D")
        + pd.to_timedelta(rng.integers(0, 86400, len(current)), unit="s")
    )
    coefficients = np.abs(model[-1].coef_[0])
    return {
        "directory": directory,
        "eval": current.assign(ts=stamps.strftime("%Y-%m-%d %H:%M:%S")),
        "days": days,
        "ref": ref,
        "most_important": features[int(np.argmax(coefficients))],
        "config": {
            "run_name": "cancer",
            "data_info": {
                "ref_path": str(directory / "ref.csv"),
                "eval_path": str(directory / "ref.csv"),
                "label_col": LABEL,
            },
            "model_info": {"path": str(directory / "model.joblib")},
        },
    }


def _run(split: dict[str, Any], frame: pd.DataFrame, name: str) -> FirewallRunResult:
    path = split["directory"] / f"{name}.csv"
    frame.to_csv(path, index=False)
    return run_firewall(
        split["config"],
        eval_path=str(path),
        timestamp_col="ts",
        bin_size_seconds="day",
        log=lambda _line: None,
    )


def _high_bins(result: FirewallRunResult) -> set[str]:
    return {b.summary.label for b in result.bins if b.summary.severity is Severity.HIGH}


def _bad_label() -> str:
    return (FIRST_DAY + pd.Timedelta(days=BAD_DAY)).strftime("%Y-%m-%d")


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_clean_bins_of_about_fifty_rows_raise_no_high_event(tmp_path: Path, seed: int) -> None:
    split = _split(tmp_path, seed)
    result = _run(split, split["eval"], "clean")
    assert len(result.bins) == DAYS
    assert all(35 <= b.summary.num_rows <= 65 for b in result.bins)
    assert [e.description for e in result.events if e.severity is Severity.HIGH] == []
    for time_bin in result.bins:
        drift_cases = [c for c in time_bin.result.test_cases if c.test_id == "drift.feature_drift"]
        assert len(drift_cases) == 30
        # Noise pushes features beyond the PSI threshold; none of them counts as drifting.
        assert time_bin.summary.metrics[NUM_DRIFTING_FEATURES] == 0
        assert 0 < time_bin.summary.metrics["model_perf.Accuracy.p_value"] <= 1


def test_a_shifted_important_feature_is_high_on_that_day_only(tmp_path: Path) -> None:
    split = _split(tmp_path, 0)
    feature = split["most_important"]
    faulty = split["eval"].copy()
    on_bad_day = split["days"] == BAD_DAY
    faulty.loc[on_bad_day, feature] += 3 * split["ref"][feature].std()
    result = _run(split, faulty, "shifted")
    assert _high_bins(result) == {_bad_label()}
    (bad,) = [b for b in result.bins if b.summary.label == _bad_label()]
    assert bad.summary.drifting_features == (feature,)
    (drift,) = [e for e in bad.events if e.metric == NUM_DRIFTING_FEATURES]
    assert "adjusted p = " in drift.description and "significant at" in drift.description
    assert bad.summary.metrics["num_drifting_features.p_value_adjusted"] < 0.01


def test_flipped_labels_are_high_on_that_day_only(tmp_path: Path) -> None:
    split = _split(tmp_path, 1)
    faulty = split["eval"].copy()
    on_bad_day = split["days"] == BAD_DAY
    faulty.loc[on_bad_day, LABEL] = 1 - faulty.loc[on_bad_day, LABEL]
    result = _run(split, faulty, "flipped")
    assert _high_bins(result) == {_bad_label()}
    high = {e.metric for e in result.events if e.severity is Severity.HIGH}
    assert "model_perf.Accuracy" in high
    assert all(
        e.bin_start_secs == result.bins[BAD_DAY].summary.bin_start_secs
        for e in result.events
        if e.severity is Severity.HIGH
    )
