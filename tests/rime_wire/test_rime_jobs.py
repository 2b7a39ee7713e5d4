"""rime ModelTesting, TestRunTracker and ResultsReader on a real server.

The results the published client parses must be the ones our SDK reads for the same job.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from rime_wire_helpers import RimeStubs, code_of

from pytest_rime.proto.rime import (
    jobs_pb2,
    model_testing_pb2,
    project_pb2,
    results_upload_pb2,
    test_run_results_pb2,
    test_run_tracker_pb2,
)
from pytest_rime.proto.v1 import model_testing_pb2 as v1_jobs
from pytest_rime.proto.v1 import model_testing_pb2_grpc as v1_jobs_grpc
from pytest_rime.sdk import RIMEClient
from pytest_rime.server.app import RunningServer

Dataset = Callable[..., Any]


@pytest.fixture
def succeeded(
    stubs: RimeStubs, tmp_path: Path, write_tabular_dataset: Dataset
) -> tuple[jobs_pb2.JobMetadata, dict[str, Any]]:
    """A stress test started over the rime wire that succeeded, and its config."""
    config = write_tabular_dataset(tmp_path / "data").config()
    job = stubs.wait(stubs.start_stress_test(config).id)
    assert job.status == jobs_pb2.JOB_STATUS_SUCCEEDED
    return job, config


def _our_job(server: RunningServer, job_id: str) -> Any:
    client = RIMEClient(server.address, disable_tls=True)
    return next(j for j in client.list_stress_test_jobs() if j.job_id == job_id)


def test_a_stress_test_runs_and_its_results_equal_what_our_sdk_reads(
    stubs: RimeStubs, rime_server: RunningServer, succeeded: Any
) -> None:
    job, config = succeeded
    assert job.type == jobs_pb2.JOB_TYPE_MODEL_STRESS_TEST
    assert job.termination_reason == jobs_pb2.TERMINATION_REASON_COMPLETED
    assert job.start_time_secs > 0 and job.running_time_secs > 0

    state = stubs.tracker.GetOperationState(
        test_run_tracker_pb2.GetOperationStateRequest(job_id=job.id)
    )
    ours = _our_job(rime_server, job.id)
    test_run_id = state.test_suite_state.test_suite_id
    assert test_run_id == ours.get_test_run_id()
    assert state.job_state.operation_status == test_run_tracker_pb2.OPERATION_STATUS_COMPLETED
    batches = ours.get_test_batches_result()
    assert [b.test_batch_id for b in state.test_suite_state.test_batch_states] == list(
        batches["test_id"]
    )

    # Test cases: same order, types, features, statuses, severities and importance.
    cases = stubs.all_test_cases(test_run_id)
    frame = ours.get_test_cases_result()
    assert len(cases) == len(frame) > 20  # more than one page of the client's size
    status_names = results_upload_pb2.TestCaseStatus.Name
    severity_names = results_upload_pb2.TestSeverity.Name
    rime_rows = [
        (c.test_batch_type, list(c.features), status_names(c.status), severity_names(c.severity))
        for c in cases
    ]
    our_rows = [
        (
            r.test_batch_type,
            list(r.features),
            "FAIL" if r.status == "ERROR" else r.status,
            r.severity,
        )
        for r in frame.itertuples()
    ]
    assert rime_rows == our_rows
    assert {c.test_run_id for c in cases} == {test_run_id}
    assert [c.importance_score for c in cases] == pytest.approx(list(frame["importance_score"]))
    assert {"PASS", "FAIL", "SKIP"} <= {row[2] for row in rime_rows}

    # The run summary.
    run = stubs.results.GetTestRun(test_run_results_pb2.GetTestRunRequest(test_run_id=test_run_id))
    summary = ours.get_test_run_result().iloc[0]
    metadata, metrics = run.test_run.metadata, run.test_run.metrics
    assert (metadata.id, metadata.job_id, metadata.project_id) == (
        test_run_id,
        job.id,
        summary["metadata.project_id"],
    )
    assert metadata.name == config["run_name"]
    assert metadata.model_task == results_upload_pb2.BINARY_CLASSIFICATION
    assert metadata.HasField("model_task")
    assert metadata.testing_type == results_upload_pb2.STRESS_TESTING
    assert metadata.data_type == results_upload_pb2.TABULAR
    assert metadata.upload_time.seconds > 0
    assert metadata.web_app_url.url == ours.get_link()
    assert run.test_run.data_source_info.ref.name == config["data_info"]["ref_path"]
    assert run.test_run.data_source_info.eval.name == config["data_info"]["eval_path"]
    assert list(run.test_run.data_source_info.ref.features) == ["age", "income", "city"]
    # The config's model reference, never the path a server resolved it to.
    assert run.test_run.model_source_info.name == config["model_info"]["path"]
    assert metrics.num_inputs == summary["metrics.num_inputs"]
    assert metrics.num_failing_inputs == summary["metrics.num_failing_inputs"]
    assert metrics.duration_millis == summary["metrics.duration_millis"]
    for key in ("none", "low", "medium", "high"):
        assert getattr(metrics.severity_counts, key) == summary[f"metrics.severity_counts.{key}"]
    for key in ("total", "pass", "warning", "skip"):
        assert getattr(metrics.summary_counts, key) == summary[f"metrics.summary_counts.{key}"]
    assert metrics.summary_counts.fail == (
        summary["metrics.summary_counts.fail"] + summary["metrics.summary_counts.error"]
    )
    assert metrics.summary_counts.total == len(cases)
    assert "AUC" in metrics.model_perf
    for name, perf in metrics.model_perf.items():
        for side in ("ref_metric", "eval_metric"):
            expected = summary[f"metrics.model_perf.{name}.{side}"]
            if expected is None or math.isnan(expected):
                assert not perf.HasField(side), (name, side)
            else:
                assert getattr(perf, side) == pytest.approx(expected), (name, side)

    logs = stubs.jobs.GetLatestLogs(model_testing_pb2.GetLatestLogsRequest(job_id=job.id))
    assert "job succeeded" in "".join(chunk.chunk for chunk in logs)


def test_list_test_jobs_filters_by_status_type_and_project(
    stubs: RimeStubs, succeeded: Any
) -> None:
    job, _ = succeeded

    def listed(**fields: Any) -> list[str]:
        request = model_testing_pb2.ListTestJobsRequest(**fields)
        return [j.id for j in stubs.jobs.ListTestJobs(request).jobs]

    stress = [jobs_pb2.JOB_TYPE_MODEL_STRESS_TEST]
    assert listed(selected_types=stress) == [job.id]
    assert listed(selected_statuses=[jobs_pb2.JOB_STATUS_SUCCEEDED], selected_types=stress) == [
        job.id
    ]
    assert listed(selected_statuses=[jobs_pb2.JOB_STATUS_PENDING, jobs_pb2.JOB_STATUS_FAILED]) == []
    assert listed(selected_types=[jobs_pb2.JOB_TYPE_IMAGE_BUILDER]) == []
    project = stubs.projects.CreateProject(project_pb2.CreateProjectRequest(name="empty")).project
    assert listed(project_id=project.id) == []
    assert code_of(lambda: listed(project_id="missing")) == grpc.StatusCode.NOT_FOUND
    assert (
        code_of(lambda: listed(selected_statuses=[jobs_pb2.JOB_STATUS_UNSPECIFIED]))
        == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_a_cancelled_job_is_failed_on_the_rime_wire(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Dataset,
) -> None:
    server = rime_server_factory(max_concurrent_jobs=1)
    with grpc.insecure_channel(server.address) as channel:
        stubs = RimeStubs.on(channel)
        config = write_tabular_dataset(tmp_path / "data").config()
        first = stubs.start_stress_test(config)
        queued = stubs.start_stress_test(config)
        v1 = v1_jobs_grpc.ModelTestingStub(channel)
        v1.CancelJob(v1_jobs.CancelJobRequest(job_id=queued.id))
        job = stubs.jobs.GetTestJob(model_testing_pb2.GetTestJobRequest(job_id=queued.id)).job
        assert job.status == jobs_pb2.JOB_STATUS_FAILED
        assert job.termination_reason == jobs_pb2.TERMINATION_REASON_GENERIC_ERROR
        failed = stubs.jobs.ListTestJobs(
            model_testing_pb2.ListTestJobsRequest(selected_statuses=[jobs_pb2.JOB_STATUS_FAILED])
        )
        assert [j.id for j in failed.jobs] == [queued.id]
        stubs.wait(first.id)


def test_tracker_and_results_of_unknown_ids_are_not_found(stubs: RimeStubs) -> None:
    calls = [
        lambda: stubs.jobs.GetTestJob(model_testing_pb2.GetTestJobRequest(job_id="x")),
        lambda: list(stubs.jobs.GetLatestLogs(model_testing_pb2.GetLatestLogsRequest(job_id="x"))),
        lambda: stubs.tracker.GetOperationState(
            test_run_tracker_pb2.GetOperationStateRequest(job_id="x")
        ),
        lambda: stubs.results.GetTestRun(test_run_results_pb2.GetTestRunRequest(test_run_id="x")),
        lambda: stubs.results.ListTestCases(
            test_run_results_pb2.ListTestCasesRequest(test_run_id="x")
        ),
    ]
    assert [code_of(call) for call in calls] == [grpc.StatusCode.NOT_FOUND] * len(calls)


def test_bad_stress_test_requests_are_refused(
    stubs: RimeStubs, tmp_path: Path, write_tabular_dataset: Dataset
) -> None:
    config = write_tabular_dataset(tmp_path / "data").config()
    request = model_testing_pb2.StartStressTestRequest
    invalid = [
        request(test_run_config=b"{not json"),
        request(test_run_config=b"\xff\xfe"),
        request(test_run_config=b'{"data_info": {}}'),
        # The request asks for NLP, the config is tabular.
        request(test_run_config=_json(config), data_type=results_upload_pb2.NLP),
        request(test_run_config=_json(config), data_type=7),
        request(test_run_config=_json(config), ram_request_megabytes=-1),
    ]
    for bad in invalid:
        assert code_of(lambda bad=bad: stubs.jobs.StartStressTest(bad)) == (
            grpc.StatusCode.INVALID_ARGUMENT
        ), bad
    missing = [
        request(test_run_config=_json(config), project_id="missing"),
        request(
            test_run_config=_json(config),
            custom_image_type=model_testing_pb2.CustomImageType(
                managed_image={"name": "no-such-image"}
            ),
        ),
    ]
    for bad in missing:
        assert code_of(lambda bad=bad: stubs.jobs.StartStressTest(bad)) == (
            grpc.StatusCode.NOT_FOUND
        ), bad
    # The JSON string field is accepted too when the bytes field is empty.
    job = stubs.jobs.StartStressTest(request(test_run_config_json=_json(config).decode())).job
    assert stubs.wait(job.id).status == jobs_pb2.JOB_STATUS_SUCCEEDED


def _json(config: dict[str, Any]) -> bytes:
    return json.dumps(config).encode()
