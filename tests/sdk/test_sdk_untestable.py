"""Untestable inputs through a real server: the job ends FAILED with the reason in one line.

The reason quotes the model's error or the data problem and names the user's files (the
uploaded file names, never ``rime://uploads/<hash>`` or a server path).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sdk_helpers import POLL_SECS

from pytest_rime.sdk import RIMEClient

DIVIDES_BY_ZERO = "def predict_df(df):\n    return 1 / 0\n"


def _start(client: RIMEClient, dataset: Any, model_source: str, tmp_path: Path) -> dict[str, Any]:
    """Upload ``dataset`` with ``model_source`` as its model.py, run it and wait for the end."""
    model_dir = tmp_path / "model_dir"
    model_dir.mkdir()
    (model_dir / "model.py").write_text(model_source)
    config = dataset.config(run_name="untestable")
    config["data_info"]["ref_path"] = client.upload_dataset_file(dataset.ref_path)
    config["data_info"]["eval_path"] = client.upload_dataset_file(dataset.eval_path)
    config["model_info"]["path"] = client.upload_model_directory(model_dir) + "/model.py"
    job = client.start_stress_test(config)
    status: dict[str, Any] = job.get_status(wait_until_finish=True, poll_rate_sec=POLL_SECS)
    return status


def _assert_failed_with(status: dict[str, Any], reason: str) -> None:
    assert status["status"] == "JOB_STATUS_FAILED", status
    assert status["termination_reason"] == "TERMINATION_REASON_GENERIC_ERROR"
    assert status["error_message"] == reason
    assert "rime://" not in reason and "/blobs/" not in reason and "/uploads/" not in reason


@pytest.mark.parametrize(
    ("model_source", "reason"),
    [
        (
            DIVIDES_BY_ZERO,
            "ModelError: model.py: predict_df raised ZeroDivisionError: division by zero "
            "(predicting the 200 rows of ref.csv)",
        ),
        (
            "def predict_df(df):\n    return [0.5] * (len(df) - 3)\n",
            "ModelError: model.py: predict_df returned shape (197,) for 200 rows (on ref.csv)",
        ),
    ],
    ids=["raises", "too-few-predictions"],
)
def test_a_broken_model_fails_the_job_quoting_the_error(
    client: RIMEClient,
    write_tabular_dataset: Callable[..., Any],
    tmp_path: Path,
    model_source: str,
    reason: str,
) -> None:
    dataset = write_tabular_dataset(tmp_path / "data")
    status = _start(client, dataset, model_source, tmp_path)
    _assert_failed_with(status, reason)


def test_a_model_returning_strings_fails_the_job(
    client: RIMEClient, write_tabular_dataset: Callable[..., Any], tmp_path: Path
) -> None:
    dataset = write_tabular_dataset(tmp_path / "data")
    words = "def predict_df(df):\n    return ['yes'] * len(df)\n"
    status = _start(client, dataset, words, tmp_path)
    assert status["status"] == "JOB_STATUS_FAILED", status
    reason = status["error_message"]
    assert reason.startswith("ModelError: model.py: predict_df returned values ('yes')"), reason
    assert "\n" not in reason and "rime://" not in reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda frame: frame.iloc[:0],
            "DataError: data_info.eval_path: eval.csv has a header (4 columns) and no rows: "
            "there is nothing to test",
        ),
        (
            lambda frame: frame.assign(label=float("nan")),
            "DataError: data_info.label_col: every value of 'label' in eval.csv is missing: "
            "there is no label to test the model against",
        ),
        (
            lambda frame: frame.assign(label=frame["label"].where(frame.index > 4, 2)),
            "DataError: data_info.label_col: 'label' in eval.csv has 3 classes (0, 1, 2) but "
            "model_task is Binary Classification (two classes at most)",
        ),
    ],
    ids=["header-only", "label-all-missing", "three-classes"],
)
def test_degenerate_eval_data_fails_the_job_naming_the_file(
    client: RIMEClient,
    write_tabular_dataset: Callable[..., Any],
    tmp_path: Path,
    change: Callable[[pd.DataFrame], pd.DataFrame],
    reason: str,
) -> None:
    dataset = write_tabular_dataset(tmp_path / "data")
    change(pd.read_csv(dataset.eval_path)).to_csv(dataset.eval_path, index=False)
    status = _start(client, dataset, dataset.model_path.read_text(), tmp_path)
    _assert_failed_with(status, reason)
