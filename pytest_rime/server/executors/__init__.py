"""Where jobs run: one small interface, two backends (``rime serve --executor``).

The :class:`~pytest_rime.server.jobs.JobQueue` decides *which* job runs *when*; an executor
decides *where*. It starts a job (:meth:`Executor.start`) and hands back a
:class:`RunningWorker` that the queue waits for, ends (cancel, timeout, shutdown) and reads the
outcome of, whatever backend ran it:

- ``local`` (:mod:`.local`): a worker process of this server, as ``python -m
  pytest_rime.server.worker <job dir>`` (the default).
- ``ray`` (:mod:`.ray_executor`): the same worker command inside a Ray task on a Ray cluster,
  with the job's CPU and memory request as the task's resources and a managed image as its
  runtime environment.

Either way the job directory on the server ends up with the same files (``progress.json``
while it runs, ``result.json`` or ``error.txt`` at the end), its log goes through the job's
:class:`~pytest_rime.server.joblog.CappedLog`, and :meth:`RunningWorker.wait` returns the
worker's exit code (0 success, :data:`~pytest_rime.server.worker.OOM_EXIT_CODE` out of memory,
negative when killed by a signal, 1 any other error with one line in ``error.txt``).
"""

from __future__ import annotations

from pytest_rime.server.executors.base import (
    Executor,
    ExecutorError,
    JobLaunch,
    RunningWorker,
)
from pytest_rime.server.settings import ServerSettings

__all__ = ["Executor", "ExecutorError", "JobLaunch", "RunningWorker", "create_executor"]


def create_executor(settings: ServerSettings) -> Executor:
    """The executor ``settings.executor`` names.

    Raises:
        ExecutorError: An unknown executor, or ``ray`` without Ray installed or reachable.
    """
    if settings.executor == "local":
        from pytest_rime.server.executors.local import LocalExecutor

        return LocalExecutor()
    if settings.executor == "ray":
        from pytest_rime.server.executors.ray_executor import RayExecutor

        return RayExecutor(settings)
    raise ExecutorError(f"--executor: expected 'local' or 'ray', got {settings.executor!r}")
