"""The executor interface: what the job queue hands an executor and gets back (see the package)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pytest_rime.server.joblog import CappedLog
from pytest_rime.server.processes import ProcessId
from pytest_rime.server.records import PipRequirement


class ExecutorError(ValueError):
    """The executor cannot be set up (the message names the ``rime serve`` option)."""


@dataclass(frozen=True)
class JobLaunch:
    """Everything an executor needs to start one job.

    Attributes:
        job_id: The job (its processes carry this marker).
        job_dir: The job's directory on the server (``spec.json`` is already there).
        spec: The job's spec (what ``spec.json`` holds).
        python: The interpreter the job asked for: the server's, a managed image's venv or a
            custom image's.
        custom_python: Whether ``python`` is a custom image's (a path every node must have).
        image_requirements: The pip requirements of the managed image the job runs in
            (``None``: no managed image).
        log: Where the job's output goes.
        on_started: Called with the worker's process id once it is known (it is recorded so
            a restarted server can end what its predecessor left running).
    """

    job_id: str
    job_dir: Path
    spec: dict[str, Any]
    python: str
    custom_python: bool
    image_requirements: tuple[PipRequirement, ...] | None
    log: CappedLog
    on_started: Callable[[ProcessId], None]


class RunningWorker(Protocol):
    """A started job as the queue sees it."""

    @property
    def exited(self) -> threading.Event:
        """Set once the job's worker has exited (or its task is gone)."""

    def wait(self) -> int:
        """Block until the job ends; its exit code, with the job directory's files in place."""

    def end(self, grace_secs: float) -> None:
        """Stop the job: SIGTERM its processes, SIGKILL them after ``grace_secs``."""


class Executor(Protocol):
    """A place jobs run."""

    name: str

    def start(self, launch: JobLaunch) -> RunningWorker:
        """Start the job of ``launch``.

        Raises:
            OSError: The worker could not be started.
        """

    def close(self) -> None:
        """Release what the executor holds (after every job it started has ended)."""
