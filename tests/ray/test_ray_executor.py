"""What only the Ray executor has: task resources, a lost task, loopback-only traffic, setup."""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from server_helpers import Gate, read_logs, start_stress_test, wait_for_status

from pytest_rime.proto.v1 import common_pb2
from pytest_rime.server.app import RunningServer
from pytest_rime.server.processes import ProcessId, start_time

pytestmark = pytest.mark.ray

_STARTED = re.compile(r"task process (\d+), worker pid (\d+)\); task resources: ([^\n]*)")


def _started_line(channel: grpc.Channel, job_id: str) -> re.Match[str]:
    """The executor's line naming the task's process, its worker and its resources."""
    match = _STARTED.search(read_logs(channel, job_id))
    assert match, read_logs(channel, job_id)
    return match


def test_the_jobs_cpu_and_memory_requests_are_the_tasks_resources(
    rime_server: RunningServer, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    config = write_tabular_dataset(tmp_path / "data").config()
    with grpc.insecure_channel(rime_server.address) as channel:
        requested = start_stress_test(
            channel, config, ram_request_megabytes=1500, cpu_request_millicores=500
        )
        defaults = start_stress_test(channel, config)
        for job in (requested, defaults):
            finished = wait_for_status(channel, job.id)
            assert finished.status == common_pb2.JOB_STATUS_SUCCEEDED, read_logs(channel, job.id)
        # What Ray assigned to the running task (ray.get_runtime_context() inside it).
        assert _started_line(channel, requested.id)[3] == f"CPU=0.5, memory={1500 * 2**20}"
        # RIME's defaults when a request leaves them out: 1500 millicores, 4000 MB.
        assert _started_line(channel, defaults.id)[3] == f"CPU=1.5, memory={4000 * 2**20}"


def test_a_job_whose_task_dies_with_its_worker_is_failed_with_the_reason(
    rime_server: RunningServer, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    gate = Gate(tmp_path / "gate")
    config = write_tabular_dataset(tmp_path / "data", model_prelude=gate.prelude).config()
    with grpc.insecure_channel(rime_server.address) as channel:
        job = start_stress_test(channel, config)
        with gate.held_open():  # the job's worker is blocked in the model's import
            started = _started_line(channel, job.id)
            task_process, worker_pid = int(started[1]), int(started[2])
            worker = ProcessId(worker_pid, start_time(worker_pid) or 0)
            os.kill(task_process, signal.SIGKILL)  # the Ray worker running the task is lost
            failed = wait_for_status(channel, job.id)
        assert failed.status == common_pb2.JOB_STATUS_FAILED
        assert failed.termination_reason == common_pb2.TERMINATION_REASON_GENERIC_ERROR
        assert "lost with its worker or node" in failed.error_message
        assert "WorkerCrashedError" in failed.error_message
        assert not worker.alive()  # nothing of the job is left running
        # The server goes on running jobs on the cluster.
        gate.path.unlink()
        again = wait_for_status(
            channel, start_stress_test(channel, write_tabular_dataset(tmp_path / "d2").config()).id
        )
        assert again.status == common_pb2.JOB_STATUS_SUCCEEDED, read_logs(channel, again.id)


def _listening_addresses() -> list[str]:
    out = subprocess.run(["ss", "-ltnH"], check=True, capture_output=True, text=True).stdout
    return [line.split()[3].rsplit(":", 1)[0].strip("[]") for line in out.splitlines()]


def _is_loopback(address: str) -> bool:
    parsed = ipaddress.ip_address(address.split("%")[0])
    mapped = getattr(parsed, "ipv4_mapped", None)
    return bool((mapped or parsed).is_loopback)


def test_nothing_listens_beyond_loopback_while_jobs_run(
    rime_server: RunningServer, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    gate = Gate(tmp_path / "gate")
    config = write_tabular_dataset(tmp_path / "data", model_prelude=gate.prelude).config()
    with grpc.insecure_channel(rime_server.address) as channel:
        job = start_stress_test(channel, config)
        with gate.held_open():  # Ray, the server and the job's worker are all up now
            addresses = _listening_addresses()
        assert wait_for_status(channel, job.id).status == common_pb2.JOB_STATUS_SUCCEEDED
    assert addresses, "ss -ltn saw no listening socket at all"
    assert [a for a in addresses if not _is_loopback(a)] == []
    # Ray's own sockets are among them (the GCS at least), not only the rime server's.
    assert len(addresses) > 2


def test_rime_serve_without_a_ray_cluster_at_the_address_exits_naming_the_option(
    tmp_path: Path, ray_driver: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest_rime.cli", "serve", "--data-dir", str(tmp_path / "d"),
         "--port", "0", "--executor", "ray", "--ray-address", "127.0.0.1:9"],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr[-2000:]
    assert "rime serve: error: --ray-address '127.0.0.1:9'" in completed.stderr
    assert "Traceback" not in completed.stderr
