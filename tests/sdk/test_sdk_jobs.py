"""Stress test jobs through the SDK against a real server and engine: the seed's examples."""

from __future__ import annotations

import importlib.util
import sys
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pandas as pd
import pytest
from sdk_helpers import POLL_SECS
from sklearn.metrics import roc_auc_score

from pytest_rime.sdk import RIMEClient, RIMEError, RIMEInvalidArgumentError, RIMEStressTestJob

STATUSES = {"PASS", "WARNING", "FAIL", "SKIP"}
SEVERITIES = {"NONE", "LOW", "MEDIUM", "HIGH"}
SEED_RUN_COLUMNS = [
    "metadata.test_run_id",
    "metadata.project_id",
    "metadata.run_name",
    "metadata.model_task",
    "metadata.data_type",
    "metadata.job_id",
    "metrics.num_inputs",
    "metrics.num_failing_inputs",
    "metrics.duration_millis",
    *(f"metrics.summary_counts.{k}" for k in ("total", "pass", "warning", "fail", "skip")),
    *(f"metrics.severity_counts.{k}" for k in ("none", "low", "medium", "high")),
]


def _load_model(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("sdk_test_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _uploaded_config(client: RIMEClient, dataset: Any) -> dict[str, Any]:
    """The dataset's config with every path replaced by a rime:// upload reference."""
    model_dir = dataset.directory / "model_dir"
    model_dir.mkdir()
    (model_dir / "model.py").write_bytes(dataset.model_path.read_bytes())
    (model_dir / ".ipynb_checkpoints").mkdir()
    (model_dir / ".ipynb_checkpoints" / "model.py").write_text("raise SystemExit('hidden')\n")
    config = dataset.config(run_name="Titanic-like")
    config["data_info"]["ref_path"] = client.upload_dataset_file(dataset.ref_path)
    config["data_info"]["eval_path"] = client.upload_dataset_file(dataset.eval_path)
    config["model_info"]["path"] = client.upload_model_directory(model_dir) + "/model.py"
    return config


def test_stress_test_end_to_end(
    client: RIMEClient,
    rime_server: Any,
    write_tabular_dataset: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dataset = write_tabular_dataset(tmp_path / "data", eval_age_shift=10)
    project = client.create_project(name="foo", description="bar")
    config = _uploaded_config(client, dataset)

    job = client.start_stress_test(
        test_run_config=config, project_id=project.project_id, data_type="tabular"
    )
    status = job.get_status(verbose=True, wait_until_finish=True, poll_rate_sec=POLL_SECS)

    assert status["status"] == "JOB_STATUS_SUCCEEDED", job.get_logs()
    assert status["id"] == job.job_id
    assert status["type"] == "JOB_TYPE_MODEL_STRESS_TEST"
    assert status["termination_reason"] == "TERMINATION_REASON_COMPLETED"
    assert status["running_time_secs"] > 0
    assert status["start_time_secs"] > 0
    assert status["test_run_id"] == job.get_test_run_id()
    printed = capsys.readouterr().out
    assert f"Job {job.job_id}: JOB_STATUS_SUCCEEDED, running time" in printed
    assert "test batches completed" in printed

    cases = job.get_test_cases_result()
    assert list(cases.columns[:4]) == ["test_run_id", "test_batch_type", "test_id", "category"]
    for column in ("features", "status", "severity", "importance_score", "metrics", "description"):
        assert column in cases.columns
    assert len(cases) > 0
    assert set(cases["test_run_id"]) == {status["test_run_id"]}
    assert set(cases["status"]) <= STATUSES
    assert set(cases["severity"]) <= SEVERITIES
    assert all(isinstance(features, list) for features in cases["features"])
    assert all(isinstance(metrics, dict) for metrics in cases["metrics"])
    # The eval ages are shifted by 10 years: the age drift case must not pass.
    age_drift = cases[
        (cases["test_batch_type"] == "Feature Drift") & (cases["features"].map(tuple) == ("age",))
    ]
    assert len(age_drift) == 1
    assert age_drift["status"].iloc[0] != "PASS"

    run = job.get_test_run_result()
    assert len(run) == 1
    for column in SEED_RUN_COLUMNS:
        assert column in run.columns, column
    row = run.iloc[0]
    assert row["metadata.project_id"] == project.project_id
    assert row["metadata.job_id"] == job.job_id
    assert row["metadata.run_name"] == "Titanic-like"
    assert row["metadata.model_task"] == "Binary Classification"
    assert row["metadata.data_type"] == "tabular"
    assert row["metrics.num_inputs"] == 200
    status_counts = Counter(cases["status"])
    assert row["metrics.summary_counts.total"] == len(cases)
    for label in STATUSES:
        assert row[f"metrics.summary_counts.{label.lower()}"] == status_counts[label]
    severity_counts = Counter(cases["severity"])
    for label in SEVERITIES:
        assert row[f"metrics.severity_counts.{label.lower()}"] == severity_counts[label]
    perf = [c for c in run.columns if c.startswith("metrics.model_perf.")]
    assert all(c.endswith((".ref_metric", ".eval_metric")) for c in perf)
    predict_df = _load_model(dataset.model_path).predict_df
    for which, path in (("ref", dataset.ref_path), ("eval", dataset.eval_path)):
        frame = pd.read_csv(path)
        expected_auc = roc_auc_score(frame["label"], predict_df(frame.drop(columns="label")))
        assert row[f"metrics.model_perf.AUC.{which}_metric"] == pytest.approx(expected_auc)

    batches = job.get_test_batches_result()
    assert batches["summary_counts.total"].sum() == len(cases)
    with_cases = batches[batches["summary_counts.total"] > 0]
    assert set(with_cases["test_id"]) == set(cases["test_id"])

    assert job.get_test_cases_result(version="0.14.0").equals(cases)
    with pytest.raises(ValueError, match=r"0\.13\.0"):
        job.get_test_run_result(version="0.13.0")

    link = job.get_link()
    assert link == (
        f"{rime_server.web_base_url}/projects/{project.project_id}"
        f"/test-runs/{status['test_run_id']}"
    )
    with urllib.request.urlopen(link, timeout=10) as page:
        assert page.status == 200
        assert "Titanic-like" in page.read().decode()

    assert client.get_test_run(status["test_run_id"]).get_test_cases_result().equals(cases)
    logs = job.get_logs()
    assert "Feature Drift" in logs
    tail = job.get_logs(max_bytes=40)
    assert 0 < len(tail.encode()) <= 40
    assert logs.endswith(tail)


def test_list_stress_test_jobs_filters(
    client: RIMEClient, write_tabular_dataset: Callable[..., Any], tmp_path: Path
) -> None:
    dataset = write_tabular_dataset(tmp_path / "data")
    foo = client.create_project("foo", "")
    bar = client.create_project("bar", "")
    assert RIMEClient.start_stress_test_job is RIMEClient.start_stress_test
    job = client.start_stress_test_job(
        test_run_config=dataset.config(), project_id=foo.project_id, custom_image=sys.executable
    )
    assert job.get_status(wait_until_finish=True, poll_rate_sec=POLL_SECS)["status"] == (
        "JOB_STATUS_SUCCEEDED"
    ), job.get_logs()

    assert client.list_stress_test_jobs() == [job]
    for filters in (["JOB_STATUS_PENDING", "JOB_STATUS_SUCCEEDED"], ["succeeded"], ["Succeeded"]):
        assert client.list_stress_test_jobs(status_filters=filters, project_id=foo.project_id) == [
            job
        ]
    assert client.list_stress_test_jobs(status_filters=["running", "failing"]) == []
    assert client.list_stress_test_jobs(status_filters=["JOB_STATUS_FAILED"]) == []
    assert client.list_stress_test_jobs(project_id=bar.project_id) == []
    with pytest.raises(ValueError, match="'done'"):
        client.list_stress_test_jobs(status_filters=["succeeded", "done"])
    with pytest.raises(ValueError, match="ListTestJobs") as info:
        client.list_stress_test_jobs(project_id="no-such-project")
    assert isinstance(info.value, RIMEError)
    assert info.value.code == grpc.StatusCode.NOT_FOUND


def test_failed_job_prints_its_logs_and_has_no_results(
    client: RIMEClient,
    write_tabular_dataset: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dataset = write_tabular_dataset(
        tmp_path / "data", model_prelude="raise RuntimeError('model exploded at import')\n"
    )
    job = client.start_stress_test(dataset.config())
    status = job.get_status(verbose=True, wait_until_finish=True, poll_rate_sec=POLL_SECS)
    assert status["status"] == "JOB_STATUS_FAILED"
    assert status["termination_reason"] == "TERMINATION_REASON_GENERIC_ERROR"
    printed = capsys.readouterr().out
    assert f"Job {job.job_id}: JOB_STATUS_FAILED" in printed
    assert f"Job {job.job_id} failed. Logs of the job:" in printed
    assert "model exploded at import" in printed
    for read in (job.get_test_cases_result, job.get_test_run_result, job.get_link):
        with pytest.raises(ValueError, match="JOB_STATUS_FAILED"):
            read()
    assert client.list_stress_test_jobs(["failing"]) == [job]


def test_cancel_a_running_job(
    client: RIMEClient, write_tabular_dataset: Callable[..., Any], tmp_path: Path
) -> None:
    blocking = "import threading\nthreading.Event().wait()\n"
    dataset = write_tabular_dataset(tmp_path / "data", model_prelude=blocking)
    job = client.start_stress_test(dataset.config())
    assert job.get_status()["status"] in ("JOB_STATUS_PENDING", "JOB_STATUS_RUNNING")
    assert client.list_stress_test_jobs(["pending", "running"]) == [job]
    assert job.cancel()["status"] == "JOB_STATUS_CANCELLED"
    assert job.get_status(wait_until_finish=True, poll_rate_sec=POLL_SECS)[
        "termination_reason"
    ] == ("TERMINATION_REASON_CANCELLED")
    assert client.list_stress_test_jobs(["cancelled"]) == [job]
    with pytest.raises(ValueError, match="JOB_STATUS_CANCELLED"):
        job.get_test_cases_result()


def test_start_arguments_checked_before_sending(client: RIMEClient, tmp_path: Path) -> None:
    config = {"run_name": "x", "data_info": {"ref_path": "r.csv", "eval_path": "e.csv"}}
    with pytest.raises(ValueError, match="custom_image and rime_managed_image"):
        client.start_stress_test(config, custom_image="venv", rime_managed_image="img")
    with pytest.raises(ValueError, match="data_type"):
        client.start_stress_test(config, data_type="audio")
    with pytest.raises(ValueError, match="ram_request_megabytes"):
        client.start_stress_test(config, ram_request_megabytes=-5)
    assert client.list_stress_test_jobs() == []  # nothing reached the server


def test_a_config_that_does_not_fit_its_data_type_is_rejected_naming_the_key(
    client: RIMEClient, write_tabular_dataset: Callable[..., Any], tmp_path: Path
) -> None:
    config = write_tabular_dataset(tmp_path / "data").config()
    # A tabular config sent as text: its categorical_features are not an nlp data_info key.
    unknown_key = "data_info.categorical_features: unknown key"
    with pytest.raises(RIMEInvalidArgumentError, match=unknown_key) as info:
        client.start_stress_test(config, data_type="nlp")
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "text_col" in str(info.value)  # the keys an nlp config may have are named
    monitored = {**config, "monitoring_info": {"timestamp_col": "ts", "bin_size": "day"}}
    with pytest.raises(RIMEInvalidArgumentError, match=unknown_key) as info:
        client.start_firewall_from_reference(monitored, data_type="images")
    assert "image_col" in str(info.value)
    assert client.list_stress_test_jobs() == []  # no job was created


def test_invalid_config_names_the_key(client: RIMEClient) -> None:
    config = {"run_name": "x", "data_info": {"ref_path": "r.csv", "eval_path": "e.csv", "bogus": 1}}
    with pytest.raises(ValueError, match=r"data_info\.bogus") as info:
        client.start_stress_test(config)
    assert isinstance(info.value, RIMEInvalidArgumentError)
    assert info.value.rpc == "StartStressTest"


def test_unknown_job(client: RIMEClient) -> None:
    job = RIMEStressTestJob(client.backend, "no-such-job")
    with pytest.raises(ValueError, match="GetTestJob") as info:
        job.get_status()
    assert isinstance(info.value, RIMEError)
    assert info.value.code == grpc.StatusCode.NOT_FOUND
