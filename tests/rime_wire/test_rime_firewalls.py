"""rime FirewallService and the firewall jobs of rime ModelTesting on a real server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pandas as pd
import pytest
from rime_wire_helpers import RimeStubs, code_of

from pytest_rime.proto.rime import (
    firewall_pb2,
    jobs_pb2,
    model_testing_pb2,
    project_pb2,
    test_run_results_pb2,
)
from pytest_rime.server.app import RunningServer

DAY = 86400
PROJECT_ID = firewall_pb2.FIREWALL_CONV_ID_TYPE_PROJECT_ID
FIREWALL_ID = firewall_pb2.FIREWALL_CONV_ID_TYPE_FIREWALL_ID


def _timestamped(eval_path: Path) -> Path:
    """``eval_path`` with a ``ts`` column spreading its rows over two UTC days."""
    frame = pd.read_csv(eval_path)
    start = pd.Timestamp("2024-05-01", tz="UTC")
    offsets = pd.to_timedelta([i * 2 * DAY // len(frame) for i in range(len(frame))], unit="s")
    frame["ts"] = (start + offsets).strftime("%Y-%m-%d %H:%M:%S")
    path = eval_path.with_name("eval_ts.csv")
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def dataset(tmp_path: Path, write_tabular_dataset: Callable[..., Any]) -> Any:
    return write_tabular_dataset(tmp_path / "data")


@pytest.fixture
def reference_run(stubs: RimeStubs, dataset: Any) -> str:
    """The test run id of a succeeded stress test in the default project."""
    job = stubs.wait(stubs.start_stress_test(dataset.config()).id)
    assert job.status == jobs_pb2.JOB_STATUS_SUCCEEDED
    return stubs.test_run_id(job.id)


def _convert(stubs: RimeStubs, src: int, dst: int, ids: list[str]) -> dict[str, str]:
    request = firewall_pb2.ConvertIDsRequest(src_type=src, dst_type=dst, src_ids=ids)
    return dict(stubs.firewalls.ConvertIDs(request).src_dst_id_mapping)


def _firewall(stubs: RimeStubs, firewall_id: str) -> firewall_pb2.Firewall:
    listed = stubs.firewalls.ListFirewalls(
        firewall_pb2.ListFirewallsRequest(firewall_ids=[firewall_id])
    )
    return listed.firewalls[0]


def test_create_find_update_and_feed_a_firewall(
    stubs: RimeStubs, rime_server: RunningServer, dataset: Any, reference_run: str
) -> None:
    project = stubs.projects.CreateProject(project_pb2.CreateProjectRequest(name="fw")).project
    created = stubs.firewalls.CreateFirewall(
        firewall_pb2.CreateFirewallRequest(
            firewall=firewall_pb2.Firewall(
                name="daily",
                stress_test_run_id=reference_run,
                project_id=project.id,
                batch_metadata=firewall_pb2.BatchMetadata(bin_size_in_seconds=DAY),
            )
        )
    )
    firewall_id = created.firewall_id
    firewall = _firewall(stubs, firewall_id)
    assert (firewall.id, firewall.name, firewall.project_id) == (firewall_id, "daily", project.id)
    assert firewall.stress_test_run_id == reference_run
    assert firewall.batch_metadata.bin_size_in_seconds == DAY
    assert firewall.web_app_url.url == f"{rime_server.web_base_url}/firewalls/{firewall_id}"
    assert _convert(stubs, PROJECT_ID, FIREWALL_ID, [project.id]) == {project.id: firewall_id}
    assert _convert(stubs, FIREWALL_ID, PROJECT_ID, [firewall_id]) == {firewall_id: project.id}

    second_run = stubs.test_run_id(stubs.wait(stubs.start_stress_test(dataset.config()).id).id)
    stubs.firewalls.UpdateFirewall(
        firewall_pb2.UpdateFirewallRequest(
            firewall=firewall_pb2.Firewall(id=firewall_id, stress_test_run_id=second_run),
            mask=firewall_pb2.FirewallWriteMask(stress_test_run_id=True),
        )
    )
    assert _firewall(stubs, firewall_id).stress_test_run_id == second_run

    incremental = {"eval_path": str(_timestamped(dataset.eval_path)), "timestamp_col": "ts"}
    job = stubs.jobs.RunFirewallIncrementalData(
        model_testing_pb2.RunFirewallIncrementalDataRequest(
            firewall_id=firewall_id, test_run_config=json.dumps(incremental).encode()
        )
    ).job
    assert job.type == jobs_pb2.JOB_TYPE_FIREWALL_BATCH_TEST
    assert stubs.wait(job.id).status == jobs_pb2.JOB_STATUS_SUCCEEDED
    bin_runs = _firewall(stubs, firewall_id).batch_metadata.test_run_ids
    assert len(bin_runs) == 2  # one run per day
    for run_id in bin_runs:
        run = stubs.results.GetTestRun(test_run_results_pb2.GetTestRunRequest(test_run_id=run_id))
        assert run.test_run.metadata.testing_type == 1  # CONTINUOUS_TESTING
        assert run.test_run.metrics.num_inputs > 0


def test_start_firewall_from_reference_creates_the_project_firewall(
    stubs: RimeStubs, dataset: Any
) -> None:
    project = stubs.projects.CreateProject(project_pb2.CreateProjectRequest(name="ref")).project
    config = dataset.config(monitoring_info={"timestamp_col": "ts", "bin_size": "day"})
    config["data_info"]["eval_path"] = str(_timestamped(dataset.eval_path))
    job = stubs.jobs.StartFirewallFromReference(
        model_testing_pb2.StartFirewallFromReferenceRequest(
            project_id=project.id,
            test_run_config=json.dumps(config).encode(),
            disable_firewall_events=True,
        )
    ).job
    assert job.type == jobs_pb2.JOB_TYPE_FIREWALL_TEST_FROM_REFERENCE
    assert stubs.wait(job.id).status == jobs_pb2.JOB_STATUS_SUCCEEDED
    firewall_id = _convert(stubs, PROJECT_ID, FIREWALL_ID, [project.id])[project.id]
    firewall = _firewall(stubs, firewall_id)
    # The job's run (what the client reads as its results) is the firewall's reference.
    assert stubs.test_run_id(job.id) == firewall.stress_test_run_id
    assert len(firewall.batch_metadata.test_run_ids) == 2
    again = model_testing_pb2.StartFirewallFromReferenceRequest(
        project_id=project.id, test_run_config=json.dumps(config).encode()
    )
    assert code_of(lambda: stubs.jobs.StartFirewallFromReference(again)) == (
        grpc.StatusCode.ALREADY_EXISTS
    )


def test_firewall_errors(stubs: RimeStubs, reference_run: str) -> None:
    def create(**fields: Any) -> Any:
        firewall = firewall_pb2.Firewall(
            name=fields.pop("name", "fw"),
            stress_test_run_id=fields.pop("run", reference_run),
            batch_metadata=firewall_pb2.BatchMetadata(bin_size_in_seconds=fields.pop("bin", DAY)),
            **fields,
        )
        return stubs.firewalls.CreateFirewall(firewall_pb2.CreateFirewallRequest(firewall=firewall))

    assert code_of(lambda: create(bin=60)) == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: create(name="")) == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: create(run="missing")) == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: create(project_id="missing")) == grpc.StatusCode.NOT_FOUND
    firewall_id = create().firewall_id

    def update(mask: firewall_pb2.FirewallWriteMask, run: str = reference_run) -> Any:
        request = firewall_pb2.UpdateFirewallRequest(
            firewall=firewall_pb2.Firewall(id=firewall_id, stress_test_run_id=run), mask=mask
        )
        return stubs.firewalls.UpdateFirewall(request)

    mask = firewall_pb2.FirewallWriteMask
    assert code_of(lambda: update(mask())) == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: update(mask(stress_test_run_id=True, name=True))) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert code_of(lambda: update(mask(stress_test_run_id=True), run="missing")) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert code_of(lambda: stubs.firewalls.ListFirewalls(firewall_pb2.ListFirewallsRequest())) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert code_of(lambda: _firewall(stubs, "missing")) == grpc.StatusCode.NOT_FOUND
    empty = stubs.projects.CreateProject(project_pb2.CreateProjectRequest(name="none")).project
    assert code_of(lambda: _convert(stubs, PROJECT_ID, FIREWALL_ID, [empty.id])) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert code_of(lambda: _convert(stubs, PROJECT_ID, PROJECT_ID, [empty.id])) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    incremental = model_testing_pb2.RunFirewallIncrementalDataRequest
    assert code_of(
        lambda: stubs.jobs.RunFirewallIncrementalData(
            incremental(firewall_id="missing", test_run_config=b'{"eval_path": "e.csv"}')
        )
    ) == (grpc.StatusCode.NOT_FOUND)
    assert code_of(
        lambda: stubs.jobs.RunFirewallIncrementalData(
            incremental(firewall_id=firewall_id, test_run_config=b'{"eval_path": "e.csv"}')
        )
    ) == (grpc.StatusCode.INVALID_ARGUMENT)
