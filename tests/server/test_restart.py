"""Durability: what a restart on the same data dir keeps, resumes and fails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from server_helpers import Gate, get_job, jobs_stub, read_logs, start_stress_test, wait_for_status

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
from pytest_rime.sdk.embedded import start_embedded_server
from pytest_rime.server.app import RunningServer
from pytest_rime.server.blobs import resolve_rime_uri
from pytest_rime.server.jobs import SERVER_STOPPED

RUNNING = (common_pb2.JOB_STATUS_RUNNING,)


def test_restart_keeps_projects_uploads_jobs_and_results(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    data = write_tabular_dataset(tmp_path / "data")
    first = rime_server_factory()
    with grpc.insecure_channel(first.address) as channel:
        project = (
            project_pb2_grpc.ProjectManagerStub(channel)
            .CreateProject(project_pb2.CreateProjectRequest(name="kept", description="d"))
            .project
        )
        upload = upload_pb2_grpc.FileUploadStub(channel).UploadFile(
            iter([upload_pb2.UploadChunk(relative_path="ref.csv", data=data.ref_path.read_bytes())])
        )
        job = wait_for_status(channel, start_stress_test(channel, data.config()).id)
        assert job.status == common_pb2.JOB_STATUS_SUCCEEDED
        cases_before = (
            results_pb2_grpc.ResultsReaderStub(channel)
            .ListTestCases(results_pb2.ListTestCasesRequest(test_run_id=job.test_run_id))
            .test_cases
        )
        default_project = (
            project_pb2_grpc.ServerInfoStub(channel)
            .GetServerInfo(project_pb2.GetServerInfoRequest())
            .default_project_id
        )
    first.stop()

    second = rime_server_factory(data_dir=first.data_dir)
    with grpc.insecure_channel(second.address) as channel:
        info = project_pb2_grpc.ServerInfoStub(channel).GetServerInfo(
            project_pb2.GetServerInfoRequest()
        )
        assert info.default_project_id == default_project
        kept = (
            project_pb2_grpc.ProjectManagerStub(channel)
            .GetProject(project_pb2.GetProjectRequest(project_id=project.id))
            .project
        )
        assert (kept.name, kept.description) == ("kept", "d")
        assert Path(resolve_rime_uri(second.data_dir, upload.rime_uri)).read_bytes() == (
            data.ref_path.read_bytes()
        )
        after = get_job(channel, job.id)
        assert after.status == common_pb2.JOB_STATUS_SUCCEEDED
        assert after.test_run_id == job.test_run_id
        assert "job succeeded" in read_logs(channel, job.id)
        cases_after = (
            results_pb2_grpc.ResultsReaderStub(channel)
            .ListTestCases(results_pb2.ListTestCasesRequest(test_run_id=job.test_run_id))
            .test_cases
        )
        assert list(cases_after) == list(cases_before)


def test_pending_jobs_run_after_a_restart(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    gate = Gate(tmp_path / "gate")
    blocking = write_tabular_dataset(tmp_path / "blocking", model_prelude=gate.prelude).config()
    normal = write_tabular_dataset(tmp_path / "normal").config()
    first = rime_server_factory()
    with grpc.insecure_channel(first.address) as channel:
        running = start_stress_test(channel, blocking)
        pending = start_stress_test(channel, normal)
        wait_for_status(channel, running.id, RUNNING)
    first.stop(grace=0)

    second = rime_server_factory(data_dir=first.data_dir)
    with grpc.insecure_channel(second.address) as channel:
        stopped = get_job(channel, running.id)
        assert stopped.status == common_pb2.JOB_STATUS_FAILED
        assert stopped.termination_reason == common_pb2.TERMINATION_REASON_GENERIC_ERROR
        assert stopped.error_message == SERVER_STOPPED
        resumed = wait_for_status(channel, pending.id)
        assert resumed.status == common_pb2.JOB_STATUS_SUCCEEDED, read_logs(channel, pending.id)
        assert resumed.test_run_id


def test_jobs_running_when_the_server_died_are_failed_at_startup(
    rime_server_factory: Callable[..., RunningServer],
    rime_serve_args: list[str],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    gate = Gate(tmp_path / "gate")
    config = write_tabular_dataset(tmp_path / "data", model_prelude=gate.prelude).config()
    data_dir = tmp_path / "server"
    embedded = start_embedded_server(
        data_dir, extra_args=[*rime_serve_args, "--allow-local-path", str(tmp_path)]
    )
    try:
        with grpc.insecure_channel(embedded.address) as channel:
            job = start_stress_test(channel, config)
            with gate.held_open():
                os.kill(embedded.pid, signal.SIGKILL)  # the server dies without cleaning up
                embedded.process.wait()
                worker = int((data_dir / "jobs" / job.id / "pid").read_text())
                os.kill(worker, signal.SIGKILL)
    finally:
        embedded.stop()

    server = rime_server_factory(data_dir=data_dir)
    with grpc.insecure_channel(server.address) as channel:
        failed = get_job(channel, job.id)
        assert failed.status == common_pb2.JOB_STATUS_FAILED
        assert failed.termination_reason == common_pb2.TERMINATION_REASON_GENERIC_ERROR
        assert failed.error_message == SERVER_STOPPED
        assert SERVER_STOPPED in read_logs(channel, job.id)


def test_job_listing_only_shows_jobs_within_the_ttl(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    config = write_tabular_dataset(tmp_path / "data").config()
    server = rime_server_factory(job_ttl_hours=1)
    with grpc.insecure_channel(server.address) as channel:
        fresh = wait_for_status(channel, start_stress_test(channel, config).id)
        old = wait_for_status(channel, start_stress_test(channel, config).id)
    server.store.jobs.update(old.id, create_time=old.create_time_secs - 2 * 3600)
    with grpc.insecure_channel(server.address) as channel:
        listed = jobs_stub(channel).ListTestJobs(model_testing_pb2.ListTestJobsRequest())
        assert [j.id for j in listed.jobs] == [fresh.id]
        assert get_job(channel, old.id).id == old.id  # still readable by id


def test_rime_serve_subprocess_writes_its_port_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port.json"
    command = [sys.executable, "-m", "pytest_rime.cli", "serve", "--data-dir", str(tmp_path / "d"),
               "--port", "0", "--port-file", str(port_file)]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()  # printed after the port file is written
            assert "rime server on 127.0.0.1:" in banner
            ports = json.loads(port_file.read_text())
            assert ports["pid"] == process.pid
            assert f"127.0.0.1:{ports['port']}" in banner
            with grpc.insecure_channel(f"127.0.0.1:{ports['port']}") as channel:
                info = project_pb2_grpc.ServerInfoStub(channel).GetServerInfo(
                    project_pb2.GetServerInfoRequest(), timeout=10
                )
            assert info.web_base_url == f"http://127.0.0.1:{ports['web_port']}"
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
            assert "stopping" in process.stdout.read()
        finally:
            process.kill()


def test_graceful_stop_turns_health_not_serving_first(
    rime_server_factory: Callable[..., RunningServer],
) -> None:
    server = rime_server_factory()
    with grpc.insecure_channel(server.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        stopper = threading.Thread(target=server.stop, kwargs={"grace": 1.0})
        stopper.start()
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        stopper.join(timeout=30)
        assert not stopper.is_alive()
        watch.cancel()
