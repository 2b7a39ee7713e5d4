"""Helpers for server tests: start jobs, wait on their status, read logs, gate models."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import grpc
import pytest

from pytest_rime.proto.v1 import common_pb2, model_testing_pb2, model_testing_pb2_grpc

FINISHED = (
    common_pb2.JOB_STATUS_SUCCEEDED,
    common_pb2.JOB_STATUS_FAILED,
    common_pb2.JOB_STATUS_CANCELLED,
)


def jobs_stub(channel: grpc.Channel) -> model_testing_pb2_grpc.ModelTestingStub:
    return model_testing_pb2_grpc.ModelTestingStub(channel)


def start_stress_test(
    channel: grpc.Channel, config: dict[str, Any], **fields: Any
) -> model_testing_pb2.Job:
    request = model_testing_pb2.StartStressTestRequest(
        test_run_config_json=json.dumps(config), **fields
    )
    return jobs_stub(channel).StartStressTest(request).job


def get_job(channel: grpc.Channel, job_id: str) -> model_testing_pb2.Job:
    return jobs_stub(channel).GetTestJob(model_testing_pb2.GetTestJobRequest(job_id=job_id)).job


def wait_for_status(
    channel: grpc.Channel,
    job_id: str,
    statuses: tuple[common_pb2.JobStatus.ValueType, ...] = FINISHED,
    timeout: float = 120.0,
) -> model_testing_pb2.Job:
    """Poll the job's status until it is one of ``statuses``; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while True:
        job = get_job(channel, job_id)
        if job.status in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(
                f"job {job_id} still {common_pb2.JobStatus.Name(job.status)} after {timeout}s:\n"
                + read_logs(channel, job_id)
            )
        tick.wait(0.05)


def read_logs(channel: grpc.Channel, job_id: str, max_bytes: int = 0) -> str:
    request = model_testing_pb2.GetLatestLogsRequest(job_id=job_id, max_bytes=max_bytes)
    return "".join(chunk.text for chunk in jobs_stub(channel).GetLatestLogs(request))


class Gate:
    """A named pipe a model blocks on at import until the test releases it.

    ``prelude`` is model code that blocks reading the pipe; :meth:`release` opens the pipe for
    writing, which completes once the model has opened it (no polling on either side).
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "gate.fifo"
        os.mkfifo(self.path)
        self.prelude = f"with open({str(self.path)!r}) as _gate:\n    _gate.read()\n"

    @contextmanager
    def held_open(self, timeout: float = 60.0) -> Iterator[TextIO]:
        """Open the pipe for writing: returns once the model is blocked reading it."""
        opened: list[TextIO] = []
        writer = threading.Thread(target=lambda: opened.append(self.path.open("w")), daemon=True)
        writer.start()
        writer.join(timeout)
        if not opened:
            # Pair the writer with a reader so the thread ends, then fail.
            os.close(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK))
            raise AssertionError(f"no model opened {self.path} within {timeout}s")
        with opened[0] as pipe:
            yield pipe

    def release(self, timeout: float = 60.0) -> None:
        """Let the model's import finish."""
        with self.held_open(timeout) as pipe:
            pipe.write("go")


def details(error: grpc.RpcError) -> str:
    """The status message of a failed call."""
    return str(error.details() or "")


def write_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed ``cert.pem`` and ``key.pem`` for localhost and 127.0.0.1 in ``directory``.

    Skips the test when the openssl command line tool is missing.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command line tool is not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
