"""A stress test and a firewall on S3: ``s3://`` data in configs and blobs on the emulator.

The same scenario runs on a local-disk server (files named by local path, uploads under its
data directory) and on a server with ``blob_url=s3://<bucket>/store`` (the same files named by
``s3://`` URL, uploads on the emulator): a stress test whose reference set is named directly,
whose evaluation set is an uploaded file and whose model an uploaded model directory, then a
daily firewall on it fed one day from an uploaded data directory and one day named directly.
Test cases, metrics, severities, bins and events must be identical; the secret key must appear
nowhere (server log, job logs, job files, error messages).
"""

from __future__ import annotations

import contextlib
import io
import logging
import secrets
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import grpc
import numpy as np
import pandas as pd
import pytest
from objectstore_helpers import Emulator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sdk"))
from firewall_data import MODEL_SOURCE, people

from pytest_rime.sdk import RIMEClient, RIMEError, RIMEStressTestJob
from pytest_rime.server.app import RunningServer, create_server
from pytest_rime.server.settings import ServerSettings

POLL_SECS = 0.05
DAY = 86400
FIRST_DAY = pd.Timestamp("2024-05-01", tz="UTC")
DAYS = ("day0.csv", "day1.csv")
VOLATILE = frozenset(
    (
        "metadata.test_run_id", "metadata.project_id", "metadata.job_id",
        "metadata.start_time_secs", "metadata.end_time_secs", "metrics.duration_millis",
        "test_run_id", "firewall_id", "job_id", "id",
    )
)  # fmt: skip
"""Result columns that differ between any two runs (ids, times), left out of comparisons."""


@dataclass(frozen=True)
class Files:
    """``ref.csv``, ``eval.csv``, ``model/model.py`` and ``days/day<n>.csv`` (stamped ``ts``)."""

    root: Path

    def path(self, name: str) -> Path:
        return self.root / name


def _write_files(root: Path) -> Files:
    rng = np.random.default_rng(7)
    (root / "model").mkdir(parents=True)
    (root / "days").mkdir()
    people(rng, 300).to_csv(root / "ref.csv", index=False)
    people(rng, 300, age_shift=8).to_csv(root / "eval.csv", index=False)
    (root / "model" / "model.py").write_text(MODEL_SOURCE)
    for day, name in enumerate(DAYS):
        start = FIRST_DAY + pd.Timedelta(days=day, hours=9)
        rows = people(rng, 120, age_shift=25 * day)
        offsets = pd.to_timedelta(np.sort(rng.integers(0, 7200, len(rows))), unit="s")
        rows["ts"] = (start + offsets).strftime("%Y-%m-%d %H:%M:%S")
        rows.to_csv(root / "days" / name, index=False)
    return Files(root)


def _succeeded(job: RIMEStressTestJob) -> RIMEStressTestJob:
    status = job.get_status(wait_until_finish=True, poll_rate_sec=POLL_SECS)
    assert status["status"] == "JOB_STATUS_SUCCEEDED", job.get_logs()
    return job


def _stable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` without its :data:`VOLATILE` columns, as comparable records.

    ``metadata.model_source`` (the local file the model was imported from: under the data
    directory, or a job-local download of the S3 object) is cut to ``<upload id>/model.py``.
    """
    kept = [column for column in frame.columns if column not in VOLATILE]
    rows = frame[sorted(kept)].to_dict("records")
    records = [{str(key): value for key, value in row.items()} for row in rows]
    for record in records:
        if "metadata.model_source" in record:
            record["metadata.model_source"] = "/".join(
                record["metadata.model_source"].split("/")[-2:]
            )
    return records


def _run_scenario(client: RIMEClient, files: Files, direct: Callable[[str], str]) -> Scenario:
    """Run the scenario; ``direct(name)`` is how a config names a file without uploading it."""
    eval_uri = client.upload_dataset_file(files.path("eval.csv"))
    model_uri = client.upload_model_directory(files.path("model"))
    days_uri = client.upload_data_directory(files.path("days"))
    config = {
        "run_name": "object storage",
        "data_info": {
            "label_col": "label",
            "ref_path": direct("ref.csv"),
            "eval_path": eval_uri,
            "categorical_features": ["city"],
        },
        "model_info": {"path": model_uri},
        "model_task": "Binary Classification",
        "random_seed": 0,
    }
    stress = _succeeded(client.start_stress_test(config))
    project = client.create_project("object storage", "firewall on s3")
    firewall = client.create_firewall("fw", DAY, stress.get_test_run_id(), project.project_id)
    fw_jobs = [
        _succeeded(
            firewall.run_firewall_incremental_data(
                {"eval_path": eval_path, "timestamp_col": "ts"}, disable_firewall_events=False
            )
        )
        for eval_path in (f"{days_uri}/{DAYS[0]}", direct(f"days/{DAYS[1]}"))
    ]
    return Scenario(
        uris=(eval_uri, model_uri, days_uri),
        logs="".join(job.get_logs() for job in (stress, *fw_jobs)),
        test_cases=_stable(stress.get_test_cases_result()),
        run=_stable(stress.get_test_run_result()),
        bins=_stable(firewall.get_bins()),
        events=_stable(firewall.get_events()),
    )


@dataclass(frozen=True)
class Scenario:
    """What one server's run of the scenario gave."""

    uris: tuple[str, ...]
    logs: str
    test_cases: list[dict[str, Any]]
    run: list[dict[str, Any]]
    bins: list[dict[str, Any]]
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class Runs:
    """The scenario on a local-disk server and on an S3 server."""

    local: Scenario
    remote: Scenario
    remote_server: RunningServer
    bucket: str
    server_log: io.StringIO


@contextlib.contextmanager
def _log_text() -> Iterator[io.StringIO]:
    """Every log record (DEBUG and up, botocore's included) while open, as text."""
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield text
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, s3_emulator: Emulator) -> Iterator[Runs]:
    """The scenario on both servers (the direct files also copied to ``s3://<bucket>/direct``)."""
    files = _write_files(tmp_path_factory.mktemp("object-storage-files"))
    bucket = f"rime-runs-{secrets.token_hex(4)}"
    client = boto3.client("s3")
    client.create_bucket(Bucket=bucket)
    for path in files.root.rglob("*.csv"):
        client.upload_file(str(path), bucket, f"direct/{path.relative_to(files.root)}")

    def start(name: str, blob_url: str) -> RunningServer:
        return create_server(
            ServerSettings(
                data_dir=tmp_path_factory.mktemp(f"{name}-data"),
                host="127.0.0.1",
                port=0,
                web_port=0,
                allowed_local_paths=(files.root,),
                blob_url=blob_url,
            )
        )

    local = start("local", "")
    remote = start("s3", f"s3://{bucket}/store")

    def scenario(server: RunningServer, direct: Callable[[str], str]) -> Scenario:
        with RIMEClient(server.address, disable_tls=True) as rime:
            return _run_scenario(rime, files, direct)

    try:
        with _log_text() as server_log, ThreadPoolExecutor(2) as pool:
            local_run = pool.submit(scenario, local, lambda name: str(files.path(name)))
            remote_run = pool.submit(scenario, remote, lambda name: f"s3://{bucket}/direct/{name}")
            yield Runs(local_run.result(), remote_run.result(), remote, bucket, server_log)
    finally:
        local.stop(grace=0)
        remote.stop(grace=0)


def test_stress_test_results_are_identical_to_the_local_disk_run(runs: Runs) -> None:
    assert runs.remote.test_cases == runs.local.test_cases
    assert runs.remote.run == runs.local.run
    assert len(runs.local.test_cases) > 10
    assert {"PASS", "FAIL"} <= {case["status"] for case in runs.local.test_cases}


def test_firewall_bins_and_events_are_identical_to_the_local_disk_run(runs: Runs) -> None:
    assert runs.remote.bins == runs.local.bins
    assert runs.remote.events == runs.local.events
    assert [b["num_rows"] for b in runs.local.bins] == [120, 120]
    assert runs.local.events  # the drifted second day raised events


def test_uploads_are_objects_on_the_emulator_and_not_under_data_dir(runs: Runs) -> None:
    assert runs.remote.uris == runs.local.uris  # content-addressed: same files, same references
    keys = _keys(runs.bucket, "store/")
    for uri in runs.remote.uris:
        upload_id = uri.removeprefix("rime://uploads/").split("/")[0]
        assert f"store/manifests/{upload_id}.json" in keys
    assert "store/uploads/" + runs.remote.uris[1].split("/")[3] + "/model.py" in keys
    data_dir = runs.remote_server.data_dir
    assert not any((data_dir / name).exists() for name in ("blobs", "uploads", "manifests"))


def test_the_secret_key_appears_in_no_log_file_or_message(
    runs: Runs, s3_emulator: Emulator
) -> None:
    secret = s3_emulator.secret
    assert "botocore" in runs.server_log.getvalue()  # the log was captured at DEBUG
    assert secret not in runs.server_log.getvalue()
    assert secret not in runs.remote.logs
    for path in runs.remote_server.data_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    with RIMEClient(runs.remote_server.address, disable_tls=True) as rime:
        missing = f"s3://{runs.bucket}/direct/missing.csv"
        job = rime.start_stress_test(
            {
                "data_info": {"ref_path": missing, "eval_path": missing, "label_col": "label"},
                "model_info": {"path": f"s3://{runs.bucket}/direct/nomodel.py"},
                "model_task": "Binary Classification",
            }
        )
        status = job.get_status(wait_until_finish=True, poll_rate_sec=POLL_SECS)
        assert status["status"] == "JOB_STATUS_FAILED"
        assert "missing.csv" in status["error_message"]
        assert secret not in status["error_message"] and secret not in job.get_logs()
        with pytest.raises(RIMEError) as info:
            rime.start_stress_test({"data_info": {"ref_path": "rime://uploads/../x"}})
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert secret not in str(info.value)


def _keys(bucket: str, prefix: str) -> set[str]:
    pages = (
        boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    return {item["Key"] for page in pages for item in page.get("Contents", [])}
