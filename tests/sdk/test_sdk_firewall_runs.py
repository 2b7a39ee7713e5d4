"""Firewall jobs end to end: daily bins of a multi-day file, events, re-sent bins, the log.

One real server for the module, one reference stress test run on uploaded files (``rime://``
paths the firewall must load again), one firewall with daily bins fed the same days twice.
"""

from __future__ import annotations

import html
import json
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pandas as pd
import pytest
from firewall_data import (
    DAYS,
    DRIFT_DAY,
    ROWS_PER_DAY,
    UNPARSED,
    FirewallData,
    day_start,
    expected_bins,
    wait_succeeded,
)
from scipy import stats
from sdk_helpers import POLL_SECS
from standalone_pages import counts_without_total, outside_urls, page_data, read_page

from pytest_rime.proto.v1 import model_testing_pb2
from pytest_rime.sdk import RIMEClient, RIMEError, RIMEFirewall, RIMENotFoundError
from pytest_rime.sdk.frames import FIREWALL_BIN_COLUMNS, FIREWALL_EVENT_COLUMNS
from pytest_rime.server.app import RunningServer

DAY = 86400


@pytest.fixture(scope="module")
def reference_run(module_client: RIMEClient, firewall_files: FirewallData) -> str:
    """A stress test run on uploaded reference data and model."""
    ref = module_client.upload_dataset_file(firewall_files.ref_path)
    model = module_client.upload_dataset_file(firewall_files.model_path)
    job = module_client.start_stress_test(firewall_files.reference_config(ref, model))
    wait_succeeded(job)
    return job.get_test_run_id()


@pytest.fixture(scope="module")
def daily(
    module_client: RIMEClient, firewall_files: FirewallData, reference_run: str
) -> dict[str, Any]:
    """A daily firewall fed the three days once (events on); its bins, events and job."""
    project = module_client.create_project("daily", "firewall tests")
    firewall = module_client.create_firewall("daily fw", DAY, reference_run, project.project_id)
    eval_uri = module_client.upload_dataset_file(firewall_files.eval_path)
    job = firewall.run_firewall_incremental_data(
        {"eval_path": eval_uri, "timestamp_col": "ts"}, disable_firewall_events=False
    )
    status = wait_succeeded(job)
    return {
        "project_id": project.project_id,
        "firewall": firewall,
        "job": job,
        "status": status,
        "bins": firewall.get_bins(),
        "events": firewall.get_events(),
    }


@pytest.fixture(scope="module")
def resent(
    module_client: RIMEClient, firewall_files: FirewallData, daily: dict[str, Any]
) -> dict[str, Any]:
    """The drift day sent again to the daily firewall, this time without the drift."""
    firewall: RIMEFirewall = daily["firewall"]
    job = firewall.run_firewall_incremental_data(
        {
            "data_info": {"eval_path": str(firewall_files.clean_drift_day_path)},
            "timestamp_col": "ts",
        },
        disable_firewall_events=False,
    )
    status = wait_succeeded(job)
    return {
        "job": job,
        "status": status,
        "bins": firewall.get_bins(),
        "events": firewall.get_events(),
    }


def test_daily_bins_are_the_utc_days_of_the_data(
    firewall_files: FirewallData, daily: dict[str, Any]
) -> None:
    bins: pd.DataFrame = daily["bins"]
    expected = expected_bins(firewall_files.eval_path, "D")
    assert list(bins.columns[: len(FIREWALL_BIN_COLUMNS)]) == list(FIREWALL_BIN_COLUMNS)
    assert bins["bin_start_secs"].tolist() == expected.index.tolist()
    assert bins["bin_start_secs"].tolist() == [day_start(d) for d in range(DAYS)]
    assert bins["num_rows"].tolist() == expected.tolist()
    assert (bins["bin_end_secs"] - bins["bin_start_secs"]).eq(DAY).all()
    assert bins["job_id"].eq(daily["job"].job_id).all()
    assert bins["test_run_id"].nunique() == DAYS
    assert {"metrics.num_drifting_features", "metrics.abnormality_rate"} <= set(bins.columns)


def test_each_bin_is_its_own_test_run(module_client: RIMEClient, daily: dict[str, Any]) -> None:
    for row in daily["bins"].itertuples():
        run = module_client.get_test_run(row.test_run_id)
        summary = run.get_test_run_result().iloc[0]
        assert summary["metadata.firewall_id"] == daily["firewall"].firewall_id
        assert summary["metadata.bin_start_secs"] == row.bin_start_secs
        assert summary["metadata.bin_end_secs"] == row.bin_end_secs
        assert summary["metrics.num_inputs"] == row.num_rows
        assert summary["metadata.eval_unparsed_timestamp_rows"] == len(UNPARSED)
        cases = run.get_test_cases_result()
        assert set(cases["category"]) <= {
            "Abnormal Inputs",
            "Drift",
            "Model Performance",
            "Subset Performance",
        }
        assert not cases.empty


def test_batch_job_status_progress_and_log(daily: dict[str, Any]) -> None:
    status = daily["status"]
    assert status["type"] == "JOB_TYPE_FIREWALL_BATCH_TEST"
    assert status["progress"].startswith(f"{DAYS} / {DAYS} bins completed")
    # The two rows without a parseable timestamp are reported, not silently dropped.
    assert f"{len(UNPARSED)} rows with an unparseable 'ts'" in status["progress"]
    log = daily["job"].get_logs()
    assert "not a time" in log
    assert f"stored {DAYS} bins" in log
    assert status["test_run_id"] == ""
    with pytest.raises(ValueError, match="get_bins"):
        daily["job"].get_test_run_id()


def test_planted_drift_raises_events_for_that_day_only(
    firewall_files: FirewallData, daily: dict[str, Any]
) -> None:
    # Independent check that the planted day drifts and the others do not.
    frame = pd.read_csv(firewall_files.eval_path)
    ref_age = pd.read_csv(firewall_files.ref_path)["age"]
    day = pd.to_datetime(frame["ts"], errors="coerce", utc=True).dt.floor("D")
    for index in range(DAYS):
        rows = frame.loc[day == pd.Timestamp(day_start(index), unit="s", tz="UTC"), "age"]
        p_value = stats.ks_2samp(ref_age, rows).pvalue
        assert (p_value < 1e-6) if index == DRIFT_DAY else (p_value > 1e-3)

    events: pd.DataFrame = daily["events"]
    assert tuple(events.columns) == FIREWALL_EVENT_COLUMNS
    assert not events.empty
    assert set(events["bin_start_secs"]) == {day_start(DRIFT_DAY)}
    assert events["id"].is_unique
    drift = events[events["metric"] == "num_drifting_features"]
    assert len(drift) == 1
    assert "'age'" in drift["description"].iloc[0]
    bins = daily["bins"].set_index("bin_start_secs")
    assert bins.loc[day_start(DRIFT_DAY), "severity"] != "NONE"
    assert drift["test_run_id"].iloc[0] == bins.loc[day_start(DRIFT_DAY), "test_run_id"]


def _bin_rows(server: RunningServer, firewall_id: str) -> dict[str, int]:
    """Rows the firewall has in each SQLite table (read-only)."""
    uri = f"file:{server.settings.data_dir / 'rime.db'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        return {
            table: conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE firewall_id = ?", (firewall_id,)
            ).fetchone()[0]
            for table in ("test_runs", "firewall_bins", "firewall_events")
        }


def test_resending_a_day_replaces_its_results(
    module_client: RIMEClient,
    module_server: RunningServer,
    daily: dict[str, Any],
    resent: dict[str, Any],
) -> None:
    before = daily["bins"].set_index("bin_start_secs")
    after = resent["bins"].set_index("bin_start_secs")
    assert after.index.tolist() == before.index.tolist()
    drift_day = day_start(DRIFT_DAY)
    assert after.loc[drift_day, "num_rows"] == ROWS_PER_DAY
    assert after.loc[drift_day, "job_id"] == resent["job"].job_id
    assert after.loc[drift_day, "test_run_id"] != before.loc[drift_day, "test_run_id"]
    assert before.loc[drift_day, "severity"] == "HIGH"
    assert after.loc[drift_day, "severity"] in ("NONE", "LOW")
    others = [start for start in after.index if start != drift_day]
    pd.testing.assert_frame_equal(after.loc[others], before.loc[others])
    # The drift day's old run and events are gone; no duplicates anywhere.
    with pytest.raises(RIMENotFoundError):
        module_client.get_test_run(before.loc[drift_day, "test_run_id"])
    events: pd.DataFrame = resent["events"]
    assert set(events["id"]).isdisjoint(daily["events"]["id"])
    assert set(events["test_run_id"]) <= {after.loc[drift_day, "test_run_id"]}
    assert "abnormality_rate" not in set(events["metric"])
    counts = _bin_rows(module_server, daily["firewall"].firewall_id)
    assert counts == {"test_runs": DAYS, "firewall_bins": DAYS, "firewall_events": len(events)}
    assert resent["status"]["progress"] == "1 / 1 bins completed"


def test_firewall_link_shows_its_bins_and_events(daily: dict[str, Any]) -> None:
    with urllib.request.urlopen(daily["firewall"].get_link(), timeout=10) as response:
        page = html.unescape(response.read().decode())
    bins_table = page[page.index('id="bins"') :]
    bins_table = bins_table[: bins_table.index("</table>")]
    for day in range(DAYS):
        assert f"2024-05-0{day + 1}" in bins_table
    # The page shows the firewall as it is now (a later test may have re-sent a day).
    events = daily["firewall"].get_events()
    for description in events["description"]:
        assert description in page


def test_get_firewall_for_project_finds_it(
    module_client: RIMEClient, daily: dict[str, Any]
) -> None:
    assert module_client.get_firewall_for_project(daily["project_id"]) == daily["firewall"]


def test_incremental_data_is_checked_before_a_job_starts(
    module_client: RIMEClient, daily: dict[str, Any]
) -> None:
    firewall: RIMEFirewall = daily["firewall"]
    with pytest.raises(RIMENotFoundError, match="no-such-firewall"):
        RIMEFirewall(module_client.backend, "no-such-firewall").run_firewall_incremental_data(
            {"eval_path": "e.csv", "timestamp_col": "ts"}
        )
    # The SDK refuses a config without timestamp_col before sending it ...
    with pytest.raises(ValueError, match="'timestamp_col'"):
        firewall.run_firewall_incremental_data({"eval_path": "e.csv", "monitoring_info": {}})
    # ... and so does the server, naming the key, for clients that send it anyway.
    cases = [
        ({"eval_path": "e.csv", "monitoring_info": {}}, "'timestamp_col'"),
        ({"timestamp_col": "ts"}, "'eval_path'"),
        ({"eval_path": "e.csv", "timestamp_col": "ts", "ref_path": "r.csv"}, "'ref_path'"),
        (
            {
                "eval_path": "e.csv",
                "timestamp_col": "ts",
                "monitoring_info": {"thresholds": {"abnormality_rate": [0.3, 0.2, 0.1]}},
            },
            "monitoring_info.thresholds.abnormality_rate",
        ),
    ]
    for config, words in cases:
        request = model_testing_pb2.RunFirewallIncrementalDataRequest(
            firewall_id=firewall.firewall_id, test_run_config_json=json.dumps(config)
        )
        with pytest.raises(ValueError, match=words) as info:
            module_client.backend.call(
                module_client.backend.model_testing.RunFirewallIncrementalData, request
            )
        assert isinstance(info.value, RIMEError)
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_missing_timestamp_column_fails_the_job_naming_it(
    module_client: RIMEClient, firewall_files: FirewallData, daily: dict[str, Any]
) -> None:
    job = daily["firewall"].run_firewall_incremental_data(
        {"eval_path": str(firewall_files.eval_path), "timestamp_col": "event_time"}
    )
    status = job.get_status(wait_until_finish=True, poll_rate_sec=POLL_SECS)
    assert status["status"] == "JOB_STATUS_FAILED"
    assert "timestamp_col" in status["error_message"]
    assert "'event_time'" in status["error_message"]
    assert "eval.csv" in status["error_message"]


def _expected_gates(cases: pd.DataFrame) -> dict[str, int]:
    """Gate counts at ``fail_on=high``, computed here from statuses and severities."""
    gates = [
        "error" if status == "ERROR"
        else "skipped" if status == "SKIP"
        else "failed" if severity == "HIGH"
        else "warned" if status in ("WARNING", "FAIL")
        else "passed"
        for status, severity in zip(cases["status"], cases["severity"], strict=True)
    ]  # fmt: skip
    return {gate: gates.count(gate) for gate in ("failed", "error", "warned", "passed", "skipped")}


def test_write_report_of_a_run_and_of_the_firewall(
    module_client: RIMEClient, reference_run: str, daily: dict[str, Any], tmp_path: Path
) -> None:
    run = module_client.get_test_run(reference_run)
    path = run.write_report(tmp_path / "run" / "report.html")
    page_html = path.read_text(encoding="utf-8")
    assert outside_urls(page_html) == []
    [counts] = read_page(page_html).gate_counts
    cases = run.get_test_cases_result()
    assert counts_without_total(counts) == _expected_gates(cases)
    assert counts["total"] == len(cases)

    firewall: RIMEFirewall = daily["firewall"]
    bins, events = firewall.get_bins(), firewall.get_events()  # as they are now
    written = firewall.write_report(tmp_path / "firewall.html")
    page_html = written.read_text(encoding="utf-8")
    assert outside_urls(page_html) == []
    page = read_page(page_html)
    assert len(page.gate_counts) == 1 + len(bins)  # the reference run and every bin's run
    for test_run_id in bins["test_run_id"]:
        assert f"#run-{test_run_id}" in page.urls  # each bin links to its run on the page
        assert f"run-{test_run_id}" in page.ids
    text = html.unescape(page_html)
    assert all(description in text for description in events["description"])
    timelines = [c for c in page_data(page_html)["charts"].values() if c["type"] == "line"]
    metrics = {c.removeprefix("metrics.") for c in bins.columns if c.startswith("metrics.")}
    assert {c["title"] for c in timelines} >= {"num_drifting_features", "abnormality_rate"}
    assert {c["title"] for c in timelines} <= metrics


def test_rime_report_command_writes_the_sdks_page(
    module_client: RIMEClient,
    module_server: RunningServer,
    reference_run: str,
    daily: dict[str, Any],
    tmp_path: Path,
) -> None:
    def rime_report(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pytest_rime.cli", "report"]
        command += ["--address", module_server.address, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    done = rime_report("--test-run-id", reference_run, "-o", str(tmp_path / "cli.html"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {tmp_path / 'cli.html'}\n"
    sdk_page = module_client.get_test_run(reference_run).write_report(tmp_path / "sdk.html")
    assert (tmp_path / "cli.html").read_text() == sdk_page.read_text()
    firewall_id = daily["firewall"].firewall_id
    done = rime_report("--firewall-id", firewall_id, "-o", str(tmp_path / "fw.html"))
    assert done.returncode == 0, done.stderr
    assert f'id="firewall-{firewall_id}"' in (tmp_path / "fw.html").read_text()
    missing = rime_report("--test-run-id", "no-such-run", "-o", str(tmp_path / "x.html"))
    assert missing.returncode == 1
    assert missing.stderr.startswith("rime report: error: ") and "no-such-run" in missing.stderr
    assert "Traceback" not in missing.stderr and not (tmp_path / "x.html").exists()
