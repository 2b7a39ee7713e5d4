"""A job as a Ray task: the worker command run on a cluster node, its output streamed back.

:func:`run_job_task` runs on whichever node Ray picked. It writes the job's spec into a private
temporary job directory, starts the very worker the local executor starts
(:class:`~pytest_rime.server.worker_process.WorkerProcess`: own session, job marker, umask
``077``, memory and CPU limits applied by the worker) and yields, as a Ray streaming generator,
``(kind, value)`` items the server turns back into the job's files:

- ``("started", {...})`` once: the worker's pid and start time, the node, the task's
  process id and the resources Ray assigned to the task;
- ``("log", bytes)``: the worker's output as it comes;
- ``("progress", text)``: the worker's ``progress.json`` whenever it changes;
- ``("end", {"returncode", "result", "error"})`` last: the exit code and the text of
  ``result.json`` / ``error.txt``.

A cancelled task (``ray.cancel``: KeyboardInterrupt in the task) ends the worker's process tree
before it returns. No grpc here: this module runs on the cluster's nodes.
"""

from __future__ import annotations

import os
import queue
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_rime.server.worker_process import WorkerProcess

_POLL_SECS = 0.5
"""How often the task looks at ``progress.json`` while the worker is quiet."""


class _QueueSink:
    """A log sink whose chunks the task yields: ``None`` marks the end of the output."""

    def __init__(self) -> None:
        self.chunks: queue.Queue[bytes | None] = queue.Queue()

    def append(self, data: bytes) -> None:
        self.chunks.put(data)

    def close(self) -> None:
        self.chunks.put(None)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _started(worker: WorkerProcess) -> dict[str, Any]:
    import ray

    context = ray.get_runtime_context()
    return {
        "pid": worker.id.pid,
        "start_time": worker.id.start_time,
        "node_id": context.get_node_id(),
        "task_pid": os.getpid(),
        "resources": context.get_assigned_resources(),  # type: ignore[no-untyped-call]
    }


def run_job_task(
    job_id: str, spec_json: str, python: str | None, grace_secs: float
) -> Iterator[tuple[str, Any]]:
    """Run job ``job_id`` on this node and stream what happens (see the module docstring).

    Args:
        job_id: The job (the worker's processes carry this marker).
        spec_json: The job's ``spec.json``.
        python: The interpreter to run the worker with; ``None``: this task's own (the Ray
            runtime environment's, where a managed image's packages are installed).
        grace_secs: Time a cancelled worker gets between SIGTERM and SIGKILL.
    """
    job_dir = Path(tempfile.mkdtemp(prefix=f"rime-job-{job_id[:8]}-"))
    try:
        (job_dir / "spec.json").write_text(spec_json, encoding="utf-8")
        sink = _QueueSink()
        worker = WorkerProcess(job_id, job_dir, python or sys.executable, sink)
        outcome: dict[str, int] = {}
        waiter = threading.Thread(
            target=lambda: outcome.update(returncode=worker.wait()), daemon=True
        )
        waiter.start()
        try:
            yield "started", _started(worker)
            progress = ""
            while True:
                try:
                    chunk = sink.chunks.get(timeout=_POLL_SECS)
                except queue.Empty:
                    chunk = b""
                if chunk:
                    yield "log", chunk
                current = _read_text(job_dir / "progress.json")
                if current and current != progress:
                    progress = current
                    yield "progress", current
                if chunk is None:
                    break
            waiter.join()
        finally:
            if not worker.exited.is_set():
                worker.end(grace_secs)
                waiter.join()
        yield (
            "end",
            {
                "returncode": outcome["returncode"],
                "result": _read_text(job_dir / "result.json"),
                "error": _read_text(job_dir / "error.txt"),
            },
        )
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)
