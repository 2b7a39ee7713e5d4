"""Stress test jobs through real worker processes: results, queueing, cancel and failures."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from server_helpers import (
    Gate,
    details,
    get_job,
    jobs_stub,
    read_logs,
    start_stress_test,
    wait_for_status,
)

from pytest_rime.engine import datatypes
from pytest_rime.engine.catalog import supported_data_types
from pytest_rime.engine.run import run_stress_test
from pytest_rime.proto.v1 import (
    common_pb2,
    model_testing_pb2,
    project_pb2,
    project_pb2_grpc,
    results_pb2,
    results_pb2_grpc,
    upload_pb2,
    upload_pb2_grpc,
)
from pytest_rime.server.app import RunningServer
from pytest_rime.server.errors import InvalidArgumentError
from pytest_rime.server.servicers.model_testing import check_data_type, with_data_type

RUNNING = (common_pb2.JOB_STATUS_RUNNING,)


def _upload(channel: grpc.Channel, path: Path) -> str:
    chunks = iter([upload_pb2.UploadChunk(relative_path=path.name, data=path.read_bytes())])
    return upload_pb2_grpc.FileUploadStub(channel).UploadFile(chunks).rime_uri


def _all_cases(channel: grpc.Channel, test_run_id: str) -> list[results_pb2.TestCase]:
    stub = results_pb2_grpc.ResultsReaderStub(channel)
    cases: list[results_pb2.TestCase] = []
    token = ""
    while True:
        page = stub.ListTestCases(
            results_pb2.ListTestCasesRequest(test_run_id=test_run_id, page_size=7, page_token=token)
        )
        cases += page.test_cases
        token = page.next_page_token
        if not token:
            return cases


def test_stress_test_on_uploaded_files_stores_results(
    rime_channel: grpc.Channel, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    data = write_tabular_dataset(tmp_path / "data", eval_age_shift=15)
    project = (
        project_pb2_grpc.ProjectManagerStub(rime_channel)
        .CreateProject(project_pb2.CreateProjectRequest(name="credit"))
        .project
    )
    config = data.config()
    config["data_info"]["ref_path"] = _upload(rime_channel, data.ref_path)
    config["data_info"]["eval_path"] = _upload(rime_channel, data.eval_path)
    config["model_info"]["path"] = _upload(rime_channel, data.model_path)

    job = start_stress_test(rime_channel, config, project_id=project.id)
    assert job.status == common_pb2.JOB_STATUS_PENDING
    assert job.project_id == project.id
    done = wait_for_status(rime_channel, job.id)
    assert done.status == common_pb2.JOB_STATUS_SUCCEEDED, read_logs(rime_channel, job.id)
    assert done.termination_reason == common_pb2.TERMINATION_REASON_COMPLETED
    assert done.test_run_id
    assert done.running_time_secs > 0

    # The same run computed directly by the engine on the local files is what the server stored.
    expected = run_stress_test(data.config())
    run = (
        results_pb2_grpc.ResultsReaderStub(rime_channel)
        .GetTestRun(results_pb2.GetTestRunRequest(test_run_id=done.test_run_id))
        .test_run
    )
    assert run.project_id == project.id
    assert run.job_id == job.id
    assert run.data_type == common_pb2.DATA_TYPE_TABULAR  # the default when not sent
    assert run.num_inputs == expected.num_inputs
    assert run.summary_counts.total == expected.summary_counts["total"]
    assert run.summary_counts.fail == expected.summary_counts["fail"]
    assert run.severity_counts.high == expected.severity_counts["high"]
    total = len(expected.batches)
    assert done.progress == f"{total} / {total} test batches completed"

    cases = _all_cases(rime_channel, done.test_run_id)
    assert [(c.test_id, list(c.features)) for c in cases] == [
        (c.test_id, list(c.features)) for c in expected.test_cases
    ]
    assert [json.loads(c.metrics_json) for c in cases] == [
        json.loads(json.dumps(c.to_dict()["metrics"])) for c in expected.test_cases
    ]
    batches = (
        results_pb2_grpc.ResultsReaderStub(rime_channel)
        .ListTestBatches(results_pb2.ListTestBatchesRequest(test_run_id=done.test_run_id))
        .test_batches
    )
    assert [b.test_id for b in batches] == [b.test_id for b in expected.batches]
    assert sum(b.summary_counts.total for b in batches) == len(cases)

    listed = jobs_stub(rime_channel).ListTestJobs(
        model_testing_pb2.ListTestJobsRequest(
            project_id=project.id, selected_statuses=[common_pb2.JOB_STATUS_SUCCEEDED]
        )
    )
    assert [j.id for j in listed.jobs] == [job.id]
    log = read_logs(rime_channel, job.id)
    assert f"[{total}/{total}]" in log
    assert log.endswith(read_logs(rime_channel, job.id, max_bytes=100))
    assert len(read_logs(rime_channel, job.id, max_bytes=100).encode()) <= 100


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda c: c["data_info"].update(lable_col="label"), "data_info.lable_col"),
        (lambda c: c.update(model_task="Clustering"), "model_task"),
        (lambda c: c.update(tests_config={"no.such_test": {}}), "tests_config.no.such_test"),
    ],
)
def test_malformed_config_is_rejected_before_a_job_exists(
    rime_channel: grpc.Channel,
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
    mutate: Callable[[dict[str, object]], None],
    key: str,
) -> None:
    config = write_tabular_dataset(tmp_path).config()
    mutate(config)
    with pytest.raises(grpc.RpcError) as info:
        start_stress_test(rime_channel, config)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert key in details(info.value)
    listed = jobs_stub(rime_channel).ListTestJobs(model_testing_pb2.ListTestJobsRequest())
    assert list(listed.jobs) == []


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({"project_id": "missing"}, grpc.StatusCode.NOT_FOUND, "project 'missing'"),
        (
            {"custom_image": common_pb2.CustomImage(name="/venv"), "rime_managed_image": "x"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "not both",
        ),
        ({"rime_managed_image": "nope"}, grpc.StatusCode.NOT_FOUND, "managed image 'nope'"),
        (
            {"custom_image": common_pb2.CustomImage(name="/no/such/venv")},
            grpc.StatusCode.INVALID_ARGUMENT,
            "/no/such/venv",
        ),
        ({"ram_request_megabytes": -1}, grpc.StatusCode.INVALID_ARGUMENT, "ram_request"),
        (  # the tabular config's keys do not fit the requested data type
            {"data_type": common_pb2.DATA_TYPE_NLP},
            grpc.StatusCode.INVALID_ARGUMENT,
            "data_info.categorical_features: unknown key (expected one of ref_path, eval_path, "
            "text_col",
        ),
        (
            {"data_type": common_pb2.DATA_TYPE_IMAGES},
            grpc.StatusCode.INVALID_ARGUMENT,
            "data_info.categorical_features: unknown key (expected one of ref_path, eval_path, "
            "image_col",
        ),
        ({"data_type": 42}, grpc.StatusCode.INVALID_ARGUMENT, "data_type: 42 is not a data type"),
    ],
)
def test_bad_job_requests_are_rejected(
    rime_channel: grpc.Channel,
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
    fields: dict[str, object],
    code: grpc.StatusCode,
    words: str,
) -> None:
    config = write_tabular_dataset(tmp_path).config()
    with pytest.raises(grpc.RpcError) as info:
        start_stress_test(rime_channel, config, **fields)
    assert info.value.code() == code
    assert words in details(info.value)


def test_a_data_type_the_engine_does_not_register_is_refused_naming_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    supported_data_types()  # every data type module registered
    registered = {k: v for k, v in datatypes._DATA_TYPES.items() if k != "images"}
    monkeypatch.setattr(datatypes, "_DATA_TYPES", registered)
    assert check_data_type(common_pb2.DATA_TYPE_NLP) == "nlp"
    assert check_data_type(common_pb2.DATA_TYPE_UNSPECIFIED) == ""
    with pytest.raises(InvalidArgumentError) as info:
        check_data_type(common_pb2.DATA_TYPE_IMAGES)
    assert str(info.value) == (
        "data_type: 'images' is not supported; supported data types: tabular, nlp"
    )


def test_the_requested_data_type_goes_into_the_config_and_must_match_it() -> None:
    config: dict[str, Any] = {"run_name": "x"}
    assert with_data_type(config, "") is config  # unspecified: the config's own (or default)
    assert with_data_type(config, "tabular") == {"run_name": "x", "data_type": "tabular"}
    with pytest.raises(InvalidArgumentError, match=r"asks for 'nlp'.*data_type is 'tabular'"):
        with_data_type({"data_type": "tabular"}, "nlp")


def test_unknown_rime_reference_fails_the_job_with_a_clear_message(
    rime_channel: grpc.Channel, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    config = write_tabular_dataset(tmp_path).config()
    config["data_info"]["ref_path"] = "rime://uploads/0123456789abcdef/ref.csv"
    job = wait_for_status(rime_channel, start_stress_test(rime_channel, config).id)
    default_project = (
        project_pb2_grpc.ServerInfoStub(rime_channel)
        .GetServerInfo(project_pb2.GetServerInfoRequest())
        .default_project_id
    )
    assert job.project_id == default_project  # no project_id: the default project
    assert job.status == common_pb2.JOB_STATUS_FAILED
    assert job.termination_reason == common_pb2.TERMINATION_REASON_GENERIC_ERROR
    assert "rime://uploads/0123456789abcdef/ref.csv" in job.error_message
    assert "no such upload" in read_logs(rime_channel, job.id)


def test_jobs_run_fifo_with_at_most_max_concurrent(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    server = rime_server_factory(max_concurrent_jobs=2)
    gates = [Gate(tmp_path / f"gate{i}") for i in range(4)]
    configs = [
        write_tabular_dataset(tmp_path / f"d{i}", rows=60, model_prelude=g.prelude).config()
        for i, g in enumerate(gates)
    ]
    with grpc.insecure_channel(server.address) as channel:
        a, b, c, d = (start_stress_test(channel, config) for config in configs)
        wait_for_status(channel, a.id, RUNNING)
        wait_for_status(channel, b.id, RUNNING)
        assert get_job(channel, c.id).status == common_pb2.JOB_STATUS_PENDING
        assert get_job(channel, d.id).status == common_pb2.JOB_STATUS_PENDING

        gates[1].release()
        assert wait_for_status(channel, b.id).status == common_pb2.JOB_STATUS_SUCCEEDED
        wait_for_status(channel, c.id, RUNNING)
        assert get_job(channel, d.id).status == common_pb2.JOB_STATUS_PENDING
        assert get_job(channel, a.id).status == common_pb2.JOB_STATUS_RUNNING

        for gate in (gates[0], gates[2], gates[3]):
            gate.release()
        finished = [wait_for_status(channel, job.id) for job in (a, b, c, d)]
        assert all(j.status == common_pb2.JOB_STATUS_SUCCEEDED for j in finished)
        starts = [j.start_time_secs for j in finished]
        assert starts[2] <= starts[3]
        assert starts[0] <= starts[2]


def test_cancel_running_and_pending_jobs(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    server = rime_server_factory(cancel_grace_secs=2.0)
    blocking = Gate(tmp_path / "gate")
    config = write_tabular_dataset(tmp_path / "d", model_prelude=blocking.prelude).config()
    with grpc.insecure_channel(server.address) as channel:
        running = start_stress_test(channel, config)
        pending = start_stress_test(channel, config)
        first_look = wait_for_status(channel, running.id, RUNNING)
        assert 0 < first_look.running_time_secs < get_job(channel, running.id).running_time_secs
        stub = jobs_stub(channel)

        cancelled_pending = stub.CancelJob(model_testing_pb2.CancelJobRequest(job_id=pending.id))
        assert cancelled_pending.job.status == common_pb2.JOB_STATUS_CANCELLED
        assert cancelled_pending.job.termination_reason == common_pb2.TERMINATION_REASON_CANCELLED
        pid = int((server.data_dir / "jobs" / running.id / "pid").read_text())

        cancelled = stub.CancelJob(model_testing_pb2.CancelJobRequest(job_id=running.id)).job
        assert cancelled.status == common_pb2.JOB_STATUS_CANCELLED
        assert cancelled.termination_reason == common_pb2.TERMINATION_REASON_CANCELLED
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        # The pending job never ran: it has no job directory and no start.
        assert not (server.data_dir / "jobs" / pending.id / "pid").exists()
        assert get_job(channel, pending.id).running_time_secs == 0
        with pytest.raises(grpc.RpcError) as info:
            stub.CancelJob(model_testing_pb2.CancelJobRequest(job_id="nope"))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


SEGFAULT = "import ctypes\nctypes.string_at(0)\n"
ALLOCATE_4_GB = "_hog = bytearray(4 * 1024 ** 3)\n"


@pytest.mark.parametrize(
    ("prelude", "reason", "words"),
    [
        (SEGFAULT, common_pb2.TERMINATION_REASON_GENERIC_ERROR, "SIGSEGV"),
        (ALLOCATE_4_GB, common_pb2.TERMINATION_REASON_OOMKILLED, "out of memory"),
        ("gate", common_pb2.TERMINATION_REASON_GENERIC_ERROR, "SIGKILL"),
    ],
    ids=["segfault", "memory-limit", "killed"],
)
def test_crashing_worker_fails_the_job_and_the_server_keeps_serving(
    rime_server: RunningServer,
    rime_channel: grpc.Channel,
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
    prelude: str,
    reason: int,
    words: str,
) -> None:
    gate = Gate(tmp_path / "gate") if prelude == "gate" else None
    crash_prelude = gate.prelude if gate is not None else prelude
    config = write_tabular_dataset(tmp_path, model_prelude=crash_prelude).config()
    job = start_stress_test(rime_channel, config, ram_request_megabytes=600)
    if gate is not None:
        with gate.held_open():
            pid = int((rime_server.data_dir / "jobs" / job.id / "pid").read_text())
            os.kill(pid, signal.SIGKILL)
    done = wait_for_status(rime_channel, job.id)
    log = read_logs(rime_channel, job.id)
    assert done.status == common_pb2.JOB_STATUS_FAILED, log
    assert done.termination_reason == reason, log
    assert words in done.error_message
    assert words in log
    assert "address space 1200 MB" in log
    health = health_pb2_grpc.HealthStub(rime_channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    info = project_pb2_grpc.ServerInfoStub(rime_channel).GetServerInfo(
        project_pb2.GetServerInfoRequest()
    )
    assert info.default_project_id


HUNGRY_MODEL = """
def predict_df(df):
    hog = bytearray(4 * 1024 ** 3)
    return [0.5] * len(df) + [len(hog)] * 0
"""


def test_model_running_out_of_memory_while_predicting_is_oomkilled_not_skipped(
    rime_channel: grpc.Channel, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    dataset = write_tabular_dataset(tmp_path)
    dataset.model_path.write_text(HUNGRY_MODEL)
    job = start_stress_test(rime_channel, dataset.config(), ram_request_megabytes=600)
    done = wait_for_status(rime_channel, job.id)
    log = read_logs(rime_channel, job.id)
    assert done.status == common_pb2.JOB_STATUS_FAILED, log
    assert done.termination_reason == common_pb2.TERMINATION_REASON_OOMKILLED, log
    assert "out of memory" in done.error_message
    # The model loaded: the MemoryError came from the up-front check calling predict_df.
    assert "loaded model" in log and "predicting" in log
    assert "SKIP" not in log
    assert not done.test_run_id


def test_worker_applies_cpu_and_memory_limits_and_custom_interpreter(
    rime_channel: grpc.Channel, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    prelude = (
        "import os, resource, sys\n"
        "print('threads', os.environ['OMP_NUM_THREADS'], os.environ['OPENBLAS_NUM_THREADS'])\n"
        "print('cpus', len(os.sched_getaffinity(0)))\n"
        "print('rlimit_as', resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20)\n"
        "print('python', sys.executable)\n"
    )
    config = write_tabular_dataset(tmp_path, model_prelude=prelude).config()
    venv = Path(sys.prefix)
    custom = common_pb2.CustomImage(
        name=str(venv if venv != Path(sys.base_prefix) else sys.executable)
    )
    job = start_stress_test(
        rime_channel,
        config,
        custom_image=custom,
        cpu_request_millicores=400,
        ram_request_megabytes=1500,
    )
    done = wait_for_status(rime_channel, job.id)
    log = read_logs(rime_channel, job.id)
    assert done.status == common_pb2.JOB_STATUS_SUCCEEDED, log
    assert "threads 1 1" in log  # limit 2 x 400 millicores -> 1 CPU
    assert "cpus 1" in log
    assert "rlimit_as 3000" in log
    assert f"python {Path(sys.executable).parent}" in log
