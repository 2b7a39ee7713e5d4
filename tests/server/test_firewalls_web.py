"""Firewall records and the web app pages, on a real finished stress test run."""

from __future__ import annotations

import html
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from server_helpers import details, start_stress_test, wait_for_status

from pytest_rime.proto.v1 import (
    common_pb2,
    firewall_pb2,
    firewall_pb2_grpc,
    project_pb2,
    project_pb2_grpc,
    results_pb2,
    results_pb2_grpc,
)
from pytest_rime.server.app import RunningServer


@pytest.fixture
def finished_run(
    rime_channel: grpc.Channel, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> results_pb2.TestRun:
    config = write_tabular_dataset(tmp_path / "data", eval_age_shift=20).config()
    job = wait_for_status(rime_channel, start_stress_test(rime_channel, config).id)
    assert job.status == common_pb2.JOB_STATUS_SUCCEEDED
    return (
        results_pb2_grpc.ResultsReaderStub(rime_channel)
        .GetTestRun(results_pb2.GetTestRunRequest(test_run_id=job.test_run_id))
        .test_run
    )


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def test_firewall_create_get_update_and_list(
    rime_channel: grpc.Channel, finished_run: results_pb2.TestRun
) -> None:
    stub = firewall_pb2_grpc.FirewallServiceStub(rime_channel)
    created = stub.CreateFirewall(
        firewall_pb2.CreateFirewallRequest(
            name="prod", bin_size_seconds=3600, test_run_id=finished_run.test_run_id
        )
    ).firewall
    assert created.project_id == finished_run.project_id
    assert created.stress_test_run_id == finished_run.test_run_id
    assert stub.GetFirewall(firewall_pb2.GetFirewallRequest(firewall_id=created.id)).firewall == (
        created
    )
    for_project = stub.GetFirewallForProject(
        firewall_pb2.GetFirewallForProjectRequest(project_id=finished_run.project_id)
    ).firewall
    assert for_project.id == created.id
    updated = stub.UpdateFirewall(
        firewall_pb2.UpdateFirewallRequest(
            firewall_id=created.id, stress_test_run_id=finished_run.test_run_id
        )
    ).firewall
    assert updated.stress_test_run_id == finished_run.test_run_id
    bins = stub.ListFirewallBins(firewall_pb2.ListFirewallBinsRequest(firewall_id=created.id))
    events = stub.ListFirewallEvents(firewall_pb2.ListFirewallEventsRequest(firewall_id=created.id))
    assert (list(bins.bins), list(events.events)) == ([], [])

    errors: list[tuple[Callable[[], object], grpc.StatusCode]] = [
        (
            lambda: stub.CreateFirewall(
                firewall_pb2.CreateFirewallRequest(
                    name="again", bin_size_seconds=3600, test_run_id=finished_run.test_run_id
                )
            ),
            grpc.StatusCode.ALREADY_EXISTS,
        ),
        (
            lambda: stub.CreateFirewall(
                firewall_pb2.CreateFirewallRequest(
                    name="x", bin_size_seconds=60, test_run_id=finished_run.test_run_id
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda: stub.UpdateFirewall(
                firewall_pb2.UpdateFirewallRequest(firewall_id=created.id, stress_test_run_id="x")
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            lambda: stub.GetFirewall(firewall_pb2.GetFirewallRequest(firewall_id="missing")),
            grpc.StatusCode.NOT_FOUND,
        ),
    ]
    for call, code in errors:
        with pytest.raises(grpc.RpcError) as info:
            call()
        assert info.value.code() == code


def test_firewall_needs_an_existing_run_and_project(rime_channel: grpc.Channel) -> None:
    stub = firewall_pb2_grpc.FirewallServiceStub(rime_channel)
    project = (
        project_pb2_grpc.ProjectManagerStub(rime_channel)
        .CreateProject(project_pb2.CreateProjectRequest(name="empty"))
        .project
    )
    for request, words in [
        (
            firewall_pb2.CreateFirewallRequest(name="f", bin_size_seconds=86400, test_run_id="x"),
            "test run 'x'",
        ),
        (
            firewall_pb2.CreateFirewallRequest(
                name="f", bin_size_seconds=86400, test_run_id="x", project_id="nope"
            ),
            "project 'nope'",
        ),
    ]:
        with pytest.raises(grpc.RpcError) as info:
            stub.CreateFirewall(request)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert words in details(info.value)
    with pytest.raises(grpc.RpcError) as info:
        stub.GetFirewallForProject(firewall_pb2.GetFirewallForProjectRequest(project_id=project.id))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_web_app_shows_the_run_and_the_firewall(
    rime_server: RunningServer, rime_channel: grpc.Channel, finished_run: results_pb2.TestRun
) -> None:
    base = f"http://127.0.0.1:{rime_server.web_port}"
    status, page = _get(
        f"{base}/projects/{finished_run.project_id}/test-runs/{finished_run.test_run_id}"
    )
    assert status == 200
    assert "tabular smoke" in page
    cases = (
        results_pb2_grpc.ResultsReaderStub(rime_channel)
        .ListTestCases(results_pb2.ListTestCasesRequest(test_run_id=finished_run.test_run_id))
        .test_cases
    )
    # One case element per stored test case.
    assert page.count('<article class="case ') == len(cases)
    for case in cases:
        assert html.escape(case.test_batch_type) in page

    firewall = (
        firewall_pb2_grpc.FirewallServiceStub(rime_channel)
        .CreateFirewall(
            firewall_pb2.CreateFirewallRequest(
                name="prod <daily>", bin_size_seconds=86400, test_run_id=finished_run.test_run_id
            )
        )
        .firewall
    )
    status, page = _get(f"{base}/firewalls/{firewall.id}")
    assert status == 200
    assert "prod &lt;daily&gt;" in page

    for path in (
        f"/projects/other/test-runs/{finished_run.test_run_id}",
        "/firewalls/missing",
        "/nothing/here",
    ):
        assert _get(base + path)[0] == 404
