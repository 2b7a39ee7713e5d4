"""Firewall references: hourly bins, a changed reference run, start_firewall_from_reference."""

from __future__ import annotations

from typing import Any

import grpc
import pandas as pd
import pytest
from firewall_data import (
    DAYS,
    HOURS,
    UNPARSED,
    FirewallData,
    day_start,
    expected_bins,
    wait_succeeded,
)

from pytest_rime.sdk import RIMEAlreadyExistsError, RIMEClient, RIMEError, RIMEFirewall

HOUR = 3600
DAY = 86400


def _reference_run(client: RIMEClient, files: FirewallData, ref_path: str) -> str:
    job = client.start_stress_test(files.reference_config(ref_path, str(files.model_path)))
    wait_succeeded(job)
    return job.get_test_run_id()


@pytest.fixture(scope="module")
def reference_runs(module_client: RIMEClient, firewall_files: FirewallData) -> dict[str, str]:
    """Two stress test runs: on the normal reference and on one with ``age`` shifted."""
    return {
        "normal": _reference_run(module_client, firewall_files, str(firewall_files.ref_path)),
        "shifted": _reference_run(
            module_client, firewall_files, str(firewall_files.shifted_ref_path)
        ),
    }


def _project_firewall(
    client: RIMEClient, name: str, bin_size: int, test_run_id: str
) -> tuple[str, RIMEFirewall]:
    project = client.create_project(name, "firewall reference tests")
    return project.project_id, client.create_firewall(
        name, bin_size, test_run_id, project.project_id
    )


def test_hourly_bins_of_a_multi_day_file(
    module_client: RIMEClient, firewall_files: FirewallData, reference_runs: dict[str, str]
) -> None:
    _, firewall = _project_firewall(module_client, "hourly", HOUR, reference_runs["normal"])
    job = firewall.run_firewall_incremental_data(
        {"eval_path": str(firewall_files.eval_path), "timestamp_col": "ts"}
    )
    status = wait_succeeded(job)
    bins = firewall.get_bins()
    expected = expected_bins(firewall_files.eval_path, "h")
    assert len(bins) == DAYS * len(HOURS)
    assert bins["bin_start_secs"].tolist() == expected.index.tolist()
    assert bins["bin_start_secs"].tolist() == [
        day_start(day) + hour * HOUR for day in range(DAYS) for hour in HOURS
    ]
    assert bins["num_rows"].tolist() == expected.tolist()
    assert (bins["bin_end_secs"] - bins["bin_start_secs"]).eq(HOUR).all()
    assert status["progress"].startswith(f"{len(bins)} / {len(bins)} bins completed")
    # Events are disabled by default (the seed's disable_firewall_events=True) ...
    assert firewall.get_events().empty
    # ... but the bins still say which hours crossed a threshold.
    assert set(bins["severity"]) <= {"NONE", "LOW", "MEDIUM", "HIGH"}


def test_updating_the_reference_changes_the_next_run(
    module_client: RIMEClient, firewall_files: FirewallData, reference_runs: dict[str, str]
) -> None:
    _, firewall = _project_firewall(module_client, "update", DAY, reference_runs["normal"])
    clean_day = {"eval_path": str(firewall_files.clean_drift_day_path), "timestamp_col": "ts"}

    wait_succeeded(firewall.run_firewall_incremental_data(clean_day))
    before = firewall.get_bins().iloc[0]
    response = firewall.update_firewall_stress_test_run(reference_runs["shifted"])
    assert response.firewall.stress_test_run_id == reference_runs["shifted"]
    wait_succeeded(firewall.run_firewall_incremental_data(clean_day))
    after = firewall.get_bins().iloc[0]

    assert after["bin_start_secs"] == before["bin_start_secs"]
    assert after["test_run_id"] != before["test_run_id"]
    # Against the shifted reference the same day's ages are out of range and drift.
    ages = pd.read_csv(firewall_files.clean_drift_day_path)["age"]
    shifted_min = pd.read_csv(firewall_files.shifted_ref_path)["age"].min()
    assert (ages < shifted_min).mean() > 0.3
    assert after["metrics.abnormality_rate"] > before["metrics.abnormality_rate"] + 0.2
    assert after["metrics.num_drifting_features"] >= 1
    assert after["severity"] == "HIGH"
    run = module_client.get_test_run(after["test_run_id"]).get_test_run_result().iloc[0]
    assert run["metadata.ref_rows"] == len(pd.read_csv(firewall_files.shifted_ref_path))


def _from_reference_config(files: FirewallData, **monitoring: Any) -> dict[str, Any]:
    config = files.reference_config(str(files.ref_path), str(files.model_path))
    config["run_name"] = "from reference"
    config["data_info"]["eval_path"] = str(files.eval_path)
    config["monitoring_info"] = {"timestamp_col": "ts", "bin_size": "day", **monitoring}
    return config


def test_start_firewall_from_reference_is_one_job(
    module_client: RIMEClient, firewall_files: FirewallData
) -> None:
    project = module_client.create_project("from reference", "")
    config = _from_reference_config(firewall_files)
    job = module_client.start_firewall_from_reference(
        config, project_id=project.project_id, disable_firewall_events=False
    )
    status = wait_succeeded(job)
    assert status["type"] == "JOB_TYPE_FIREWALL_TEST_FROM_REFERENCE"
    assert status["progress"].startswith(f"{DAYS} / {DAYS} bins completed")
    assert f"{len(UNPARSED)} rows with an unparseable 'ts'" in status["progress"]

    firewall = module_client.get_firewall_for_project(project.project_id)
    assert status["firewall_id"] == firewall.firewall_id
    stored = firewall.get_firewall()
    assert (stored.name, stored.bin_size_seconds) == ("from reference", DAY)
    assert stored.stress_test_run_id == job.get_test_run_id()
    stress_test = job.get_test_run_result().iloc[0]
    assert stress_test["metadata.project_id"] == project.project_id
    assert "metadata.firewall_id" not in stress_test.index
    bins = firewall.get_bins()
    assert bins["bin_start_secs"].tolist() == [day_start(d) for d in range(DAYS)]
    assert bins["job_id"].eq(job.job_id).all()
    assert not firewall.get_events().empty

    # One firewall per project: a second start is refused before any job is made.
    with pytest.raises(RIMEAlreadyExistsError, match=firewall.firewall_id):
        module_client.start_firewall_from_reference(config, project_id=project.project_id)


@pytest.mark.parametrize(
    ("monitoring", "key"),
    [
        ({"timestamp_col": None}, "monitoring_info.timestamp_col"),
        ({"bin_size": "week"}, "monitoring_info.bin_size"),
        ({"bin_size": 7200}, "monitoring_info.bin_size"),
        ({"thresholds": {"no_such_metric": [1, 2, 3]}}, "monitoring_info.thresholds"),
    ],
)
def test_from_reference_config_is_checked_before_a_job_starts(
    module_client: RIMEClient, firewall_files: FirewallData, monitoring: Any, key: str
) -> None:
    config = _from_reference_config(firewall_files, **monitoring)
    config["monitoring_info"] = {k: v for k, v in config["monitoring_info"].items() if v}
    with pytest.raises(ValueError, match=key) as info:
        module_client.start_firewall_from_reference(config)
    assert isinstance(info.value, RIMEError)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_bad_bin_size_is_a_value_error_naming_it(
    module_client: RIMEClient, reference_runs: dict[str, str]
) -> None:
    project = module_client.create_project("bad bin size", "")
    with pytest.raises(ValueError, match=r"bin_size_seconds.*3600.*86400"):
        module_client.create_firewall("fw", 600, reference_runs["normal"], project.project_id)
    with pytest.raises(ValueError, match="GetFirewallForProject"):
        module_client.get_firewall_for_project(project.project_id)
