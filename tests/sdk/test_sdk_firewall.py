"""Firewalls through the SDK: create, get, get for project, update, link, events and bins."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from sdk_helpers import POLL_SECS

from pytest_rime.sdk import (
    RIMEAlreadyExistsError,
    RIMEClient,
    RIMEError,
    RIMEFirewall,
    RIMENotFoundError,
)
from pytest_rime.sdk.frames import FIREWALL_BIN_COLUMNS, FIREWALL_EVENT_COLUMNS


def _succeeded_run(client: RIMEClient, dataset: Any, project_id: str) -> str:
    job = client.start_stress_test(dataset.config(), project_id=project_id)
    status = job.get_status(wait_until_finish=True, poll_rate_sec=POLL_SECS)
    assert status["status"] == "JOB_STATUS_SUCCEEDED", job.get_logs()
    return job.get_test_run_id()


def test_firewall_lifecycle(
    client: RIMEClient,
    rime_server: Any,
    write_tabular_dataset: Callable[..., Any],
    tmp_path: Path,
) -> None:
    project = client.create_project("bar", "fraud")
    test_run_id = _succeeded_run(
        client, write_tabular_dataset(tmp_path / "data"), project.project_id
    )

    firewall = client.create_firewall("firewall name", 86400, test_run_id, project.project_id)
    assert isinstance(firewall, RIMEFirewall)
    assert client.get_firewall(firewall.firewall_id) == firewall
    assert client.get_firewall_for_project(project.project_id) == firewall
    stored = firewall.get_firewall()
    assert (stored.name, stored.bin_size_seconds, stored.stress_test_run_id) == (
        "firewall name",
        86400,
        test_run_id,
    )

    other_run = _succeeded_run(
        client, write_tabular_dataset(tmp_path / "other", seed=1), project.project_id
    )
    response = firewall.update_firewall_stress_test_run(other_run)
    assert response.firewall.stress_test_run_id == other_run
    assert firewall.get_firewall().stress_test_run_id == other_run

    link = firewall.get_link()
    assert link == f"{rime_server.web_base_url}/firewalls/{firewall.firewall_id}"
    with urllib.request.urlopen(link, timeout=10) as page:
        assert page.status == 200
        assert "firewall name" in page.read().decode()

    assert tuple(firewall.get_events().columns) == FIREWALL_EVENT_COLUMNS
    assert firewall.get_events().empty
    assert tuple(firewall.get_bins().columns) == FIREWALL_BIN_COLUMNS
    assert firewall.get_bins().empty

    with pytest.raises(RIMEAlreadyExistsError, match="CreateFirewall"):
        client.create_firewall("second", 3600, test_run_id, project.project_id)
    with pytest.raises(ValueError, match="UpdateFirewall") as info:
        firewall.update_firewall_stress_test_run("no-such-run")
    assert isinstance(info.value, RIMENotFoundError)


def test_missing_firewalls_are_value_errors(client: RIMEClient) -> None:
    with pytest.raises(ValueError, match="GetFirewall") as info:
        client.get_firewall("foo")
    assert isinstance(info.value, RIMENotFoundError)
    project = client.create_project("no firewall", "")
    with pytest.raises(ValueError, match="GetFirewallForProject") as info:
        client.get_firewall_for_project(project.project_id)
    assert isinstance(info.value, RIMEError)
    assert info.value.code == grpc.StatusCode.NOT_FOUND


def test_create_firewall_bin_size_checked_before_sending(client: RIMEClient) -> None:
    for bin_size in (60, 7200, 0):
        # The server would answer NOT_FOUND for the run: the bin size is refused first.
        with pytest.raises(ValueError, match=r"3600.*86400"):
            client.create_firewall("fw", bin_size, "no-such-run", "no-such-project")


def test_create_firewall_for_unknown_run(client: RIMEClient) -> None:
    with pytest.raises(RIMENotFoundError, match="CreateFirewall"):
        client.create_firewall("fw", 3600, "no-such-run", "")


def test_incremental_config_checked_before_sending(client: RIMEClient) -> None:
    firewall = RIMEFirewall(client.backend, "no-such-firewall")
    with pytest.raises(ValueError, match="'timestamp_col'"):
        firewall.run_firewall_incremental_data({"eval_path": "eval.csv"})
    with pytest.raises(ValueError, match="'eval_path'"):
        firewall.run_firewall_incremental_data({"timestamp_col": "ts"})
    with pytest.raises(ValueError, match="custom_image and rime_managed_image"):
        firewall.run_firewall_incremental_data(
            {"eval_path": "e.csv", "timestamp_col": "ts"},
            custom_image="venv",
            rime_managed_image="img",
        )


def test_incremental_run_for_an_unknown_firewall_is_not_found(client: RIMEClient) -> None:
    firewall = RIMEFirewall(client.backend, "no-such-firewall")
    config = {"eval_path": "eval.csv", "timestamp_col": "ts"}
    with pytest.raises(RIMEError, match="RunFirewallIncrementalData") as info:
        firewall.run_firewall_incremental_data(config, ram_request_megabytes=8000)
    assert info.value.code == grpc.StatusCode.NOT_FOUND


def test_start_firewall_from_reference_without_the_timestamp_column_fails_naming_it(
    client: RIMEClient, write_tabular_dataset: Callable[..., Any], tmp_path: Path
) -> None:
    dataset = write_tabular_dataset(tmp_path / "data")
    config = dataset.config(monitoring_info={"timestamp_col": "ts", "bin_size": "day"})
    with pytest.raises(ValueError, match="data_type"):
        client.start_firewall_from_reference(config, data_type="video")
    job = client.start_firewall_from_reference(config, project_id=None)
    status = job.get_status(wait_until_finish=True, poll_rate_sec=POLL_SECS)
    assert status["type"] == "JOB_TYPE_FIREWALL_TEST_FROM_REFERENCE"
    assert status["status"] == "JOB_STATUS_FAILED"
    assert "timestamp_col" in status["error_message"]
    assert "'ts'" in status["error_message"]
    assert str(dataset.eval_path) in status["error_message"]
    assert status["firewall_id"] == ""
