"""The ``local`` executor: each job in a worker process of this server."""

from __future__ import annotations

from pytest_rime.server.executors.base import JobLaunch, RunningWorker
from pytest_rime.server.worker_process import WorkerProcess


class LocalExecutor:
    """Runs each job as ``<python> -m pytest_rime.server.worker <job dir>`` on this machine."""

    name = "local"

    def start(self, launch: JobLaunch) -> RunningWorker:
        """Start the worker process of ``launch`` (its pid is reported at once)."""
        worker = WorkerProcess(launch.job_id, launch.job_dir, launch.python, launch.log)
        launch.on_started(worker.id)
        return worker

    def close(self) -> None:
        """Nothing to release: each worker ends with its job."""
