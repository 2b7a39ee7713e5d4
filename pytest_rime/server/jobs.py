"""The job queue: a scheduler thread that runs each job in its own worker.

Jobs run FIFO by creation, at most ``max_concurrent_jobs`` at once. A worker is
``<python> -m pytest_rime.server.worker jobs/<job_id>`` (docs/internals.md) in its own session,
started by the server's executor (:mod:`pytest_rime.server.executors`: a local process, or a
Ray task), its output capped into ``jobs/<job_id>/log.txt``. One monitor thread per running job
waits for the worker and records the outcome; a timer ends a job that outlives its timeout.
Cancel, timeout and shutdown end the worker's whole process tree. The server, not the worker,
writes SQLite.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pytest_rime.engine.firewall import FirewallFromReferenceResult, FirewallRunResult
from pytest_rime.engine.results import RunResult
from pytest_rime.server.datadir import private_dir, write_private
from pytest_rime.server.errors import ServerError
from pytest_rime.server.executors import Executor, JobLaunch, RunningWorker, create_executor
from pytest_rime.server.joblog import CappedLog, check_log_limit
from pytest_rime.server.processes import (
    ProcessId,
    end_job_processes,
    job_processes,
    wait_for_exit,
)
from pytest_rime.server.records import (
    ImageStatus,
    Job,
    JobStatus,
    JobType,
    PipLibrary,
    TerminationReason,
)
from pytest_rime.server.settings import ServerSettings
from pytest_rime.server.store import Store
from pytest_rime.server.worker import OOM_EXIT_CODE

SERVER_STOPPED = "server stopped while the job was running"
_FINAL_LOG_WAIT_SECS = 10.0

_log = logging.getLogger(__name__)


@dataclass
class _Running:
    """A job whose worker process is alive."""

    job_id: str
    worker: RunningWorker
    oom_kills_at_start: int | None
    timeout_secs: float
    done: threading.Event = field(default_factory=threading.Event)
    stop_reason: TerminationReason | None = None
    stop_lock: threading.Lock = field(default_factory=threading.Lock)

    def claim_stop(self, reason: TerminationReason) -> None:
        """Record why the job is being stopped, unless it exited or an earlier stop did."""
        with self.stop_lock:
            if self.stop_reason is None and not self.worker.exited.is_set():
                self.stop_reason = reason


def job_timeout_secs(spec: dict[str, Any], default: float) -> float:
    """A job's wall-clock limit: its config's ``job_timeout_secs``, else ``default``."""
    config = spec.get("config") or spec.get("reference_config") or {}
    return float(config.get("job_timeout_secs") or default)


def read_progress(job_dir: Path) -> str:
    """The human progress line of a job's ``progress.json`` (empty when there is none yet)."""
    try:
        data = json.loads((job_dir / "progress.json").read_text())
    except (OSError, ValueError):
        return ""
    if data.get("text"):
        return str(data["text"])
    return f"{data.get('done', 0)} / {data.get('total', 0)} test batches completed"


def _oom_kill_count() -> int | None:
    """The ``oom_kill`` counter of this process's cgroup (v2), if the system exposes it."""
    try:
        cgroup = Path("/proc/self/cgroup").read_text().splitlines()[0].split("::", 1)[1]
        events = Path("/sys/fs/cgroup", cgroup.lstrip("/"), "memory.events").read_text()
    except (OSError, IndexError):
        return None
    for line in events.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class JobQueue:
    """Schedules, runs, cancels and records jobs.

    Args:
        store: Where jobs, results and images are recorded.
        settings: The server's settings: its data directory (job directories go to
            ``jobs/``), ``max_concurrent_jobs``, ``cancel_grace_secs`` (between SIGTERM and
            SIGKILL), ``job_timeout_secs``, ``job_log_limit_bytes`` and the executor.
        executor: Where jobs run; default: the one ``settings.executor`` names.

    Raises:
        ValueError: ``job_log_limit_bytes`` is too small for a log, or the executor cannot
            be set up (e.g. no Ray cluster at ``settings.ray_address``).
    """

    def __init__(
        self, store: Store, settings: ServerSettings, executor: Executor | None = None
    ) -> None:
        self._store = store
        self._jobs_dir = private_dir(settings.data_dir / "jobs")
        self._max_running = max(1, settings.max_concurrent_jobs)
        self._grace = settings.cancel_grace_secs
        self._timeout = settings.job_timeout_secs
        self._log_limit = check_log_limit(settings.job_log_limit_bytes)
        self._cond = threading.Condition()
        self._running: dict[str, _Running] = {}
        self._stopping = False
        self._scheduler = threading.Thread(target=self._schedule, name="rime-scheduler")
        self._executor = executor or create_executor(settings)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Fail jobs a previous server left RUNNING, then start scheduling PENDING ones.

        A left job's processes still running (its recorded worker, with the recorded start
        time, and everything marked with its id) are ended first.
        """
        for job in self._store.jobs.with_status(JobStatus.RUNNING):
            ended = self._end_leftovers(job)
            if ended:
                self._append_log(
                    job.id, f"ended {ended} process(es) a previous server left running"
                )
            self._record_end(job, JobStatus.FAILED, TerminationReason.GENERIC_ERROR, SERVER_STOPPED)
        self._scheduler.start()

    def _end_leftovers(self, job: Job) -> int:
        """End the processes of ``job`` an earlier server left; returns how many there were."""
        recorded = ProcessId(job.worker_pid, job.worker_start_time)
        worker = recorded if job.worker_pid and recorded.alive() else None
        leftovers = job_processes(worker.pid if worker else None, job.id)
        if leftovers:
            _log.warning("ending %d leftover process(es) of job %s", len(leftovers), job.id)
            end_job_processes(
                worker,
                job.id,
                grace_secs=self._grace,
                wait_worker=lambda secs: wait_for_exit(recorded, secs),
            )
        return len(leftovers)

    def shutdown(self) -> None:
        """Stop scheduling, stop running workers (they are marked FAILED) and wait for them."""
        with self._cond:
            self._stopping = True
            running = list(self._running.values())
            self._cond.notify_all()
        for job in running:
            self._stop(job, TerminationReason.GENERIC_ERROR)
        if self._scheduler.is_alive():
            self._scheduler.join()
        self._executor.close()

    # -- queries and commands ---------------------------------------------------------------

    def job_dir(self, job_id: str) -> Path:
        """The directory of job ``job_id`` (spec, log, progress, result)."""
        return self._jobs_dir / job_id

    def log_path(self, job_id: str) -> Path:
        """The log file of job ``job_id`` (may not exist before the job starts)."""
        self._store.jobs.get(job_id)
        return self.job_dir(job_id) / "log.txt"

    def with_live_progress(self, job: Job) -> Job:
        """``job`` with its progress read from the worker while it runs."""
        if job.status is JobStatus.RUNNING:
            return replace(job, progress=read_progress(self.job_dir(job.id)) or job.progress)
        return job

    def get_job(self, job_id: str) -> Job:
        """The job with live progress.

        Raises:
            NotFoundError: No such job.
        """
        return self.with_live_progress(self._store.jobs.get(job_id))

    def log_complete(self, job: Job) -> bool:
        """Whether ``job``'s log is final: the job finished and its end was fully recorded.

        A finished status is stored before the server's last log lines are appended; the log
        is complete once the job's monitor is done with it too.
        """
        if not job.status.finished:
            return False
        with self._cond:
            return job.id not in self._running

    def wait_for_final_log(self, job_id: str, timeout: float = _FINAL_LOG_WAIT_SECS) -> None:
        """Once job ``job_id`` has finished, wait (up to ``timeout``) until its log is final.

        A finished status is stored a moment before the server appends its last lines (what a
        job stored, how it ended); a reader who saw the status waits for them here.
        """
        with self._cond:
            self._cond.wait_for(
                lambda: (
                    job_id not in self._running or not self._store.jobs.get(job_id).status.finished
                ),
                timeout,
            )

    def submit(
        self, job_type: JobType, project_id: str, spec: dict[str, Any], **fields: str
    ) -> Job:
        """Record a PENDING job and wake the scheduler."""
        job = self._store.jobs.create(job_type, project_id, spec, **fields)
        self.wake()
        return job

    def wake(self) -> None:
        """Make the scheduler look for PENDING jobs (after one was created elsewhere)."""
        with self._cond:
            self._cond.notify_all()

    def cancel(self, job_id: str) -> Job:
        """Cancel a job: a PENDING one never runs, a RUNNING one is stopped.

        A finished job is returned unchanged.

        Raises:
            NotFoundError: No such job.
        """
        with self._cond:
            job = self._store.jobs.get(job_id)
            if job.status is JobStatus.PENDING:
                return self._record_end(
                    job, JobStatus.CANCELLED, TerminationReason.CANCELLED, "cancelled by request"
                )
            running = self._running.get(job_id)
        if running is not None:
            self._stop(running, TerminationReason.CANCELLED)
        return self.get_job(job_id)

    # -- scheduling -------------------------------------------------------------------------

    def _next_pending(self) -> Job | None:
        if len(self._running) >= self._max_running:
            return None
        pending = self._store.jobs.with_status(JobStatus.PENDING)
        return pending[0] if pending else None

    def _schedule(self) -> None:
        with self._cond:
            while not self._stopping:
                job = self._next_pending()
                if job is None:
                    self._cond.wait()
                    continue
                try:
                    self._launch(job)
                except Exception as exc:  # keep scheduling the other jobs
                    _log.exception("starting job %s failed", job.id)
                    self._record_end(
                        job,
                        JobStatus.FAILED,
                        TerminationReason.GENERIC_ERROR,
                        f"could not start the job: {type(exc).__name__}: {exc}",
                    )

    def _launch(self, job: Job) -> None:
        job_dir = private_dir(self.job_dir(job.id))
        write_private(job_dir / "spec.json", json.dumps(job.spec))
        python = str(job.spec.get("python") or sys.executable)
        oom_kills = _oom_kill_count()
        managed = job.image_name if job.type is not JobType.IMAGE_BUILDER else ""
        launch = JobLaunch(
            job_id=job.id,
            job_dir=job_dir,
            spec=job.spec,
            python=python,
            custom_python=not managed and python != sys.executable,
            image_requirements=self._store.images.get(managed).requirements if managed else None,
            log=self._job_log(job.id),
            on_started=lambda worker: self._record_worker(job.id, job_dir, worker),
        )
        try:
            worker = self._executor.start(launch)
        except OSError as exc:
            self._record_end(
                job,
                JobStatus.FAILED,
                TerminationReason.GENERIC_ERROR,
                f"could not start the worker with {python}: {exc}",
            )
            return
        # A local worker's pid is recorded by now (a Ray task's once it starts on its node).
        self._store.jobs.update(job.id, status=JobStatus.RUNNING, start_time=time.time())
        running = _Running(job.id, worker, oom_kills, job_timeout_secs(job.spec, self._timeout))
        self._running[job.id] = running
        threading.Thread(
            target=self._monitor, args=(running,), name=f"rime-job-{job.id[:8]}", daemon=True
        ).start()
        _log.info("job %s started on the %s executor", job.id, self._executor.name)

    def _record_worker(self, job_id: str, job_dir: Path, worker: ProcessId) -> None:
        """Record a job's worker process, so a restarted server can end it if it is left."""
        write_private(job_dir / "pid", str(worker.pid))
        self._store.jobs.update(job_id, worker_pid=worker.pid, worker_start_time=worker.start_time)

    def _stop(self, running: _Running, reason: TerminationReason) -> None:
        """End the worker's process tree (SIGTERM, grace, SIGKILL) and wait for the outcome."""
        running.claim_stop(reason)
        running.worker.end(self._grace)
        running.done.wait(30.0)

    # -- outcomes ---------------------------------------------------------------------------

    def _monitor(self, running: _Running) -> None:
        timer = threading.Timer(
            running.timeout_secs, self._stop, (running, TerminationReason.TIMEOUT)
        )
        timer.daemon = True
        timer.start()
        returncode = running.worker.wait()
        timer.cancel()
        try:
            self._finish(running, returncode)
        except Exception:
            _log.exception("recording the end of job %s failed", running.job_id)
        finally:
            with self._cond:
                self._running.pop(running.job_id, None)
                self._cond.notify_all()
            running.done.set()

    def _finish(self, running: _Running, returncode: int) -> None:
        job = self._store.jobs.get(running.job_id)
        job_dir = self.job_dir(job.id)
        job = replace(job, progress=read_progress(job_dir) or job.progress)
        if running.stop_reason is TerminationReason.CANCELLED:
            self._record_end(
                job, JobStatus.CANCELLED, TerminationReason.CANCELLED, "cancelled by request"
            )
        elif running.stop_reason is TerminationReason.TIMEOUT:
            self._record_end(
                job,
                JobStatus.FAILED,
                TerminationReason.TIMEOUT,
                f"the job ran longer than its timeout of {running.timeout_secs:g} s "
                "(job_timeout_secs in the config, or the server's --job-timeout-secs)",
            )
        elif running.stop_reason is not None:
            self._record_end(job, JobStatus.FAILED, running.stop_reason, SERVER_STOPPED)
        elif returncode == 0:
            self._record_success(job, job_dir)
        elif returncode == OOM_EXIT_CODE:
            limit = 2 * int(job.spec.get("ram_request_megabytes", 0))
            self._record_end(
                job,
                JobStatus.FAILED,
                TerminationReason.OOMKILLED,
                f"the job ran out of memory (limit {limit} MB, twice ram_request_megabytes)",
            )
        elif returncode < 0:
            name = _signal_name(-returncode)
            oom_kills = _oom_kill_count()
            if (
                -returncode == signal.SIGKILL
                and oom_kills is not None
                and running.oom_kills_at_start is not None
                and oom_kills > running.oom_kills_at_start
            ):
                reason, message = TerminationReason.OOMKILLED, "the OOM killer stopped the job"
            else:
                reason, message = TerminationReason.GENERIC_ERROR, f"worker killed by {name}"
            self._record_end(job, JobStatus.FAILED, reason, message)
        else:
            self._record_end(
                job,
                JobStatus.FAILED,
                TerminationReason.GENERIC_ERROR,
                _worker_error(job_dir) or f"worker exited with code {returncode}",
            )

    def _record_success(self, job: Job, job_dir: Path) -> None:
        end_time = time.time()
        try:
            payload = json.loads((job_dir / "result.json").read_text())
            note = self._store_result(job, payload, end_time)
        except (OSError, ValueError, KeyError, TypeError, ServerError) as exc:
            self._record_end(
                job,
                JobStatus.FAILED,
                TerminationReason.GENERIC_ERROR,
                f"could not record the job's result: {type(exc).__name__}: {exc}",
            )
            return
        if note:
            self._append_log(job.id, note)
        self._append_log(job.id, "job succeeded")

    def _store_result(self, job: Job, payload: Any, end_time: float) -> str:
        """Record a succeeded job's ``result.json``; returns a line for the job log."""
        done: dict[str, Any] = {
            "status": JobStatus.SUCCEEDED,
            "termination_reason": TerminationReason.COMPLETED,
            "end_time": end_time,
        }
        start_time = job.start_time or end_time
        if job.type is JobType.IMAGE_BUILDER:
            libraries = [PipLibrary(**p) for p in payload["pip_libraries"]]
            self._store.images.update(job.image_name, ImageStatus.READY, libraries)
            self._store.jobs.update(job.id, progress=job.progress, **done)
            return ""
        if job.type is JobType.MODEL_STRESS_TEST:
            self._store.results.save_run(
                job.id,
                RunResult.from_dict(payload),
                start_time=start_time,
                config=job.spec["config"],
                progress=job.progress,
                **done,
            )
            return ""
        if job.type is JobType.FIREWALL_BATCH_TEST:
            firewall_run = FirewallRunResult.from_dict(payload)
            self._store.firewalls.save_run(
                job.id,
                job.firewall_id,
                firewall_run,
                start_time=start_time,
                config=job.spec["config"],
                progress=bins_progress(firewall_run),
                **done,
            )
            return firewall_summary(firewall_run)
        from_reference = FirewallFromReferenceResult.from_dict(payload)
        firewall = self._store.firewalls.save_from_reference(
            job.id,
            from_reference,
            start_time=start_time,
            config=job.spec["config"],
            progress=bins_progress(from_reference.firewall),
            **done,
        )
        return f"created firewall {firewall.id}; " + firewall_summary(from_reference.firewall)

    def _record_end(
        self, job: Job, status: JobStatus, reason: TerminationReason, message: str
    ) -> Job:
        """Record a final state; a failed image build fails its image."""
        if job.type is JobType.IMAGE_BUILDER and status is not JobStatus.SUCCEEDED:
            self._store.images.update(job.image_name, ImageStatus.FAILED)
        self._append_log(job.id, f"job {status.value.lower()}: {message}")
        return self._store.jobs.update(
            job.id,
            status=status,
            termination_reason=reason,
            error_message=message if status is not JobStatus.SUCCEEDED else "",
            end_time=time.time(),
            progress=job.progress,
        )

    def _job_log(self, job_id: str) -> CappedLog:
        return CappedLog(private_dir(self.job_dir(job_id)) / "log.txt", self._log_limit)

    def _append_log(self, job_id: str, line: str) -> None:
        log = self._job_log(job_id)
        log.append(f"[rime server] {line}\n".encode())
        log.close()


def bins_progress(result: FirewallRunResult) -> str:
    """The final progress line of a firewall job, naming rows that fit no bin."""
    total = len(result.bins)
    line = f"{total} / {total} bins completed"
    if result.num_unparsed_rows:
        line += (
            f"; {result.num_unparsed_rows} rows with an unparseable {result.timestamp_col!r} "
            "are in no bin"
        )
    return line


def firewall_summary(result: FirewallRunResult) -> str:
    """One log line: the bins stored, their events and the rows that fit no bin."""
    labels = ", ".join(b.summary.label for b in result.bins) or "none"
    line = f"stored {len(result.bins)} bins ({labels}) with {len(result.events)} events"
    if result.num_unparsed_rows:
        examples = ", ".join(repr(e) for e in result.unparsed_examples)
        line += (
            f"; {result.num_unparsed_rows} of {result.num_rows} rows of {result.eval_path} have "
            f"a missing or unparseable {result.timestamp_col!r} and are in no bin "
            f"(e.g. {examples})"
        )
    return line


def _worker_error(job_dir: Path) -> str:
    """The one-line error the worker left in ``error.txt`` (empty when none)."""
    try:
        return (job_dir / "error.txt").read_text(encoding="utf-8").strip()
    except OSError:
        return ""
