"""Find and end every process a job started, without cgroups (Linux ``/proc``).

A job's processes are found three ways, so none escapes by leaving the others:

- the worker's process group (the worker runs in its own session);
- every process whose parent chain (``PPid`` in ``/proc/<pid>/status``) leads to the worker,
  collected *before* each signal so that children orphaned by the kill are still known;
- every process whose environment carries the job's marker (``RIME_JOB_ID=<job id>``, set in
  the worker's environment and inherited by its descendants), which finds a process that
  called ``setsid`` and whose parent already exited.

A process is identified by its pid *and* its start time (field 22 of ``/proc/<pid>/stat``), so
a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

JOB_ID_ENV = "RIME_JOB_ID"
"""The environment variable that marks a job's processes."""

_PROC = Path("/proc")
_KILL_WAIT_SECS = 5.0
"""How long to wait for a SIGKILLed process to be gone."""


@dataclass(frozen=True)
class ProcessId:
    """A process: its pid and its start time in clock ticks since boot."""

    pid: int
    start_time: int

    def alive(self) -> bool:
        """Whether this very process still exists (not a later one that reused the pid)."""
        return start_time(self.pid) == self.start_time


def start_time(pid: int) -> int | None:
    """The start time of ``pid`` (``/proc/<pid>/stat`` field 22), ``None`` when it is gone.

    A zombie counts as gone: it runs nothing and only waits to be reaped.
    """
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # fields 3.. (the name may hold spaces)
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _pids() -> list[int]:
    return [int(entry.name) for entry in _PROC.iterdir() if entry.name.isdigit()]


def _parent(pid: int) -> int | None:
    try:
        for line in (_PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        return marker in (_PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return False


def job_processes(root: int | None, job_id: str) -> set[ProcessId]:
    """The live processes of job ``job_id``: ``root``'s descendants (and ``root``) and marked ones.

    Args:
        root: The worker's pid, or ``None`` when only the marker is to be used.
        job_id: The job whose ``RIME_JOB_ID`` marker to look for.
    """
    marker = f"{JOB_ID_ENV}={job_id}".encode()
    parents = {pid: _parent(pid) for pid in _pids()}
    found: set[int] = set()
    if root is not None and root in parents:
        found.add(root)
        grew = True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in found} - found
            found |= more
            grew = bool(more)
    found |= {pid for pid in parents if pid != os.getpid() and _has_marker(pid, marker)}
    return {ProcessId(pid, started) for pid in found if (started := start_time(pid)) is not None}


def wait_for_exit(process: ProcessId, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for a process that need not be our child; whether it ended."""
    try:
        descriptor = os.pidfd_open(process.pid)
    except ProcessLookupError:
        return True
    try:
        if not process.alive():
            return True
        poller = select.poll()
        poller.register(descriptor, select.POLLIN)
        return bool(poller.poll(timeout * 1000)) or not process.alive()
    finally:
        os.close(descriptor)


def _signal_all(group: int | None, processes: set[ProcessId], sig: signal.Signals) -> None:
    if group is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)
    for process in processes:
        if process.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process.pid, sig)


def end_job_processes(
    worker: ProcessId | None,
    job_id: str,
    *,
    grace_secs: float,
    wait_worker: Callable[[float], bool],
) -> None:
    """SIGTERM every process of the job, wait, then SIGKILL whatever is left and wait for it.

    Args:
        worker: The worker (its pid is also its process group), or ``None`` when it is not
            known to be ours (a pid recorded by an earlier server that another process now
            has). Its descendants are searched only while it is alive.
        job_id: The job whose marked processes to end too.
        grace_secs: Time between SIGTERM and SIGKILL.
        wait_worker: Waits up to the given seconds for the worker to exit; whether it did.
    """
    group = worker.pid if worker is not None else None
    seen: set[ProcessId] = set()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        root = worker.pid if worker is not None and worker.alive() else None
        seen |= job_processes(root, job_id)
        _signal_all(group, seen, sig)
        if sig is signal.SIGTERM:
            wait_worker(grace_secs)
    for process in seen:
        wait_for_exit(process, _KILL_WAIT_SECS)
