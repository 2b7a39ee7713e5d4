"""One job's worker process as the server sees it: started, logged, waited for and ended.

The worker runs ``<python> -m pytest_rime.server.worker <job dir>`` in its own session (so its
pid is its process group), with umask ``077`` and ``RIME_JOB_ID=<job id>`` in its environment
(:mod:`pytest_rime.server.processes`). Its stdout and stderr go to a pipe the server drains
into the job's :class:`~pytest_rime.server.joblog.CappedLog`: nothing grows the log past its
limit, and if the server dies the job's next write fails (EPIPE, or SIGPIPE outside Python).
"""

from __future__ import annotations

import os
import select
import subprocess
import threading
from pathlib import Path
from typing import Protocol

from pytest_rime.server.distribution import PACKAGE_PARENT
from pytest_rime.server.processes import JOB_ID_ENV, ProcessId, end_job_processes, start_time

_READ_BYTES = 65536
_DRAIN_IDLE_SECS = 1.0
"""Once the job's processes are gone, the pump stops after the pipe is idle this long (a
process that escaped every search and holds the pipe cannot keep a job from finishing)."""


class LogSink(Protocol):
    """Where a worker's output goes: the job's capped log, or a Ray task's stream."""

    def append(self, data: bytes) -> None:
        """Take the next chunk of output."""

    def close(self) -> None:
        """The output has ended."""


class WorkerProcess:
    """A started worker.

    Args:
        job_id: The job it runs (its processes carry this marker).
        job_dir: The job's directory (``spec.json`` is already there).
        python: The interpreter to run the worker with.
        log: Where its output goes.

    Attributes:
        id: The worker's pid and start time.
        exited: Set once the worker has exited.

    Raises:
        OSError: The interpreter could not be started.
    """

    def __init__(self, job_id: str, job_dir: Path, python: str, log: LogSink) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (PACKAGE_PARENT, env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        env[JOB_ID_ENV] = job_id
        self.job_id = job_id
        self._log = log
        self._process = subprocess.Popen(
            [python, "-m", "pytest_rime.server.worker", str(job_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=job_dir,
            env=env,
            start_new_session=True,
            umask=0o077,
        )
        self.id = ProcessId(self._process.pid, start_time(self._process.pid) or 0)
        self.exited = threading.Event()
        self._ended = threading.Event()
        self._pump = threading.Thread(
            target=self._copy_output, name=f"rime-log-{job_id[:8]}", daemon=True
        )
        self._pump.start()

    def wait(self) -> int:
        """Block until the worker exits; returns its exit code (negative: killed by a signal).

        Then ends whatever the job left running and copies the rest of its output to the log.
        """
        returncode = self._process.wait()
        self.exited.set()
        end_job_processes(self.id, self.job_id, grace_secs=0, wait_worker=self.exited.wait)
        self._ended.set()
        self._pump.join()
        self._log.close()
        return returncode

    def end(self, grace_secs: float) -> None:
        """SIGTERM the worker's whole process tree, SIGKILL it after ``grace_secs``."""
        end_job_processes(self.id, self.job_id, grace_secs=grace_secs, wait_worker=self.exited.wait)

    def _copy_output(self) -> None:
        assert self._process.stdout is not None
        with self._process.stdout as pipe:
            descriptor = pipe.fileno()
            poller = select.poll()
            poller.register(descriptor, select.POLLIN)
            while True:
                if not poller.poll(_DRAIN_IDLE_SECS * 1000):
                    if self._ended.is_set():
                        return
                    continue
                data = os.read(descriptor, _READ_BYTES)
                if not data:
                    return
                self._log.append(data)
