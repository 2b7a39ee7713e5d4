"""The ``ray`` executor: each job as a Ray task on a Ray cluster (``rime serve --executor ray``).

The server is a Ray driver (``ray.init(address=--ray-address)``). A job becomes one task of
:func:`~pytest_rime.server.executors.ray_task.run_job_task` with

- ``num_cpus`` = ``cpu_request_millicores / 1000`` and ``memory`` = ``ram_request_megabytes``
  (RIME's defaults when absent), so Ray places it where those resources are free;
- the runtime environment of its managed image: Ray's ``pip`` environment built from the
  image's requirements with the server's pip options (``--no-index``, ``--find-links``, ...),
  cached by Ray per requirement set;
- ``max_retries=0``: a job is never run twice behind the user's back.

The task streams the worker's output, progress and outcome back; this side writes them into
the job directory and the capped log exactly as a local worker's, so status, progress, logs and
termination reasons read the same. Cancel and timeout cancel the task (KeyboardInterrupt in it:
the task ends the worker's process tree), then force-kill it after the grace period. A task
lost with its worker or node ends the job FAILED with the Ray error's name and message; Ray's
out-of-memory kill ends it OOMKILLED.

The worker's spec gets ``"ray": {"address", "split_rows"}`` so a big firewall job can fan its
time bins out over the cluster (:mod:`pytest_rime.server.ray_firewall`).
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
from typing import Any

from pytest_rime.server.datadir import write_private
from pytest_rime.server.executors.base import ExecutorError, JobLaunch, RunningWorker
from pytest_rime.server.executors.ray_task import run_job_task
from pytest_rime.server.processes import ProcessId, end_job_processes
from pytest_rime.server.records import PipRequirement
from pytest_rime.server.settings import ServerSettings
from pytest_rime.server.worker import (
    DEFAULT_CPU_MILLICORES,
    DEFAULT_RAM_MB,
    OOM_EXIT_CODE,
    may_drive_ray,
)

_MIB = 1024 * 1024
_CONNECT_SECS = 5.0
"""How long the executor waits for a TCP connection to ``--ray-address`` before giving up."""
_FORCE_AFTER_SECS = 10.0
"""How long past the grace period a cancelled task may take before it is force-killed."""

_log = logging.getLogger(__name__)


def _requirement_text(requirement: PipRequirement) -> str:
    return requirement.name + requirement.version_specifier


def task_resources(spec: dict[str, Any]) -> dict[str, float]:
    """The Ray resources of a job: its CPU request in CPUs and its RAM request in bytes."""
    millicores = int(spec.get("cpu_request_millicores") or DEFAULT_CPU_MILLICORES)
    megabytes = int(spec.get("ram_request_megabytes") or DEFAULT_RAM_MB)
    return {"num_cpus": millicores / 1000, "memory": float(megabytes * _MIB)}


class RayExecutor:
    """Runs jobs as tasks on the Ray cluster at ``settings.ray_address``.

    If this process is already a Ray driver (``ray.init`` was called), that connection is
    used and left open at :meth:`close`; otherwise the executor connects and disconnects.

    Raises:
        ExecutorError: Ray is not installed, or no cluster answers at ``ray_address``.
    """

    name = "ray"

    def __init__(self, settings: ServerSettings) -> None:
        try:
            import ray
        except ImportError:
            raise ExecutorError(
                "--executor ray needs Ray: pip install 'pytest-rime[ray]'"
            ) from None
        self._owns_connection = not ray.is_initialized()
        if self._owns_connection:
            _check_reachable(settings.ray_address)
            try:
                ray.init(
                    address=settings.ray_address,
                    namespace="rime",
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                )
            except (ConnectionError, RuntimeError) as exc:
                raise ExecutorError(
                    f"--ray-address {settings.ray_address!r}: no Ray cluster answers there "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                    "start one with `ray start --head` or give its address"
                ) from None
        context = ray.get_runtime_context()
        self._task = ray.remote(run_job_task)
        self._gcs_address = context.gcs_address
        self._node_id = context.get_node_id()
        self._pip_options = settings.pip_options
        self._split_rows = settings.split_rows
        self._grace = settings.cancel_grace_secs

    def start(self, launch: JobLaunch) -> RunningWorker:
        """Submit the job's task; it runs as soon as the cluster has its resources."""
        spec = dict(launch.spec)
        spec["ray"] = {"address": self._gcs_address, "split_rows": self._split_rows}
        resources = task_resources(spec)
        if may_drive_ray(spec):
            # Its bins may run as tasks of their own (1 CPU each) while this task waits for
            # them: holding CPUs here could leave none for them on a small cluster.
            resources["num_cpus"] = 0
        options: dict[str, Any] = {
            **resources,
            "max_retries": 0,
            "num_returns": "streaming",
            "name": f"rime-job-{launch.job_id}",
        }
        requirements = self._requirements(spec, launch)
        if requirements:
            spec["in_runtime_env"] = True
            pip_options = ["--disable-pip-version-check", *self._pip_options]
            options["runtime_env"] = {
                "pip": {"packages": requirements, "pip_install_options": pip_options}
            }
            launch.log.append(
                "[rime server] the job's runtime environment, built by Ray on its node: pip "
                f"install {' '.join([*pip_options, *requirements])}\n".encode()
            )
        elif spec["type"] == "IMAGE_BUILDER":
            spec["in_runtime_env"] = True
        python = launch.python if launch.custom_python else None
        generator = self._task.options(**options).remote(
            launch.job_id, json.dumps(spec), python, self._grace
        )
        return RayWorker(generator, launch, self._node_id)

    def _requirements(self, spec: dict[str, Any], launch: JobLaunch) -> list[str]:
        if spec["type"] == "IMAGE_BUILDER":
            return [r["name"] + r.get("version_specifier", "") for r in spec["requirements"]]
        return [_requirement_text(r) for r in launch.image_requirements or ()]

    def close(self) -> None:
        """Disconnect from the cluster if this executor connected."""
        if self._owns_connection:
            import ray

            ray.shutdown()


class RayWorker:
    """A job's Ray task as the queue sees it (see :class:`~.RunningWorker`)."""

    def __init__(self, generator: Any, launch: JobLaunch, driver_node_id: str) -> None:
        self._generator = generator
        self._launch = launch
        self._driver_node_id = driver_node_id
        self._worker: ProcessId | None = None
        self._node_id = ""
        self._exited = threading.Event()

    @property
    def exited(self) -> threading.Event:
        """Set once the task has ended."""
        return self._exited

    def wait(self) -> int:
        """Copy the task's stream into the job directory and log; its exit code."""
        import ray

        try:
            return self._consume()
        except ray.exceptions.TaskCancelledError:
            return -int(signal.SIGTERM)
        except ray.exceptions.OutOfMemoryError as exc:
            self._fail(f"Ray's memory monitor killed the job's task: {_first_line(exc)}")
            return OOM_EXIT_CODE
        except ray.exceptions.RuntimeEnvSetupError as exc:
            return self._fail(
                "the job's runtime environment (its managed image's pip requirements) could "
                f"not be built on the Ray cluster: {_first_line(exc)}"
            )
        except ray.exceptions.RayTaskError as exc:
            return self._fail(f"the job's Ray task failed: {_first_line(exc.cause or exc)}")
        except ray.exceptions.RayError as exc:
            return self._fail(
                f"the job's Ray task was lost with its worker or node ({type(exc).__name__}): "
                f"{_first_line(exc)}"
            )
        finally:
            self._end_orphans()
            self._exited.set()
            self._launch.log.close()

    def _consume(self) -> int:
        import ray

        returncode = 1
        for reference in self._generator:
            kind, value = ray.get(reference)
            if kind == "log":
                self._launch.log.append(value)
            elif kind == "progress":
                write_private(self._launch.job_dir / "progress.json", value)
            elif kind == "started":
                self._on_started(value)
            elif kind == "end":
                returncode = int(value["returncode"])
                for name in ("result", "error"):
                    if value[name]:
                        suffix = ".json" if name == "result" else ".txt"
                        write_private(self._launch.job_dir / f"{name}{suffix}", value[name])
        return returncode

    def _on_started(self, started: dict[str, Any]) -> None:
        self._worker = ProcessId(int(started["pid"]), int(started["start_time"]))
        self._node_id = str(started["node_id"])
        resources = ", ".join(
            f"{name}={_number(amount)}" for name, amount in sorted(started["resources"].items())
        )
        self._launch.log.append(
            f"[rime server] running on Ray node {self._node_id[:12]} (task process "
            f"{started['task_pid']}, worker pid {self._worker.pid}); task resources: "
            f"{resources or 'none'}\n".encode()
        )
        self._launch.on_started(self._worker)

    def _end_orphans(self) -> None:
        """End the worker's processes if its task is gone but they are not (same node only)."""
        if self._worker is not None and self._node_id == self._driver_node_id:
            end_job_processes(
                self._worker, self._launch.job_id, grace_secs=0, wait_worker=lambda _: False
            )

    def _fail(self, message: str) -> int:
        write_private(self._launch.job_dir / "error.txt", message)
        return 1

    def end(self, grace_secs: float) -> None:
        """Cancel the task (it ends its worker); force-kill it if it does not end in time."""
        import ray

        ray.cancel(self._generator, force=False)
        if self._exited.wait(grace_secs + _FORCE_AFTER_SECS):
            return
        _log.warning("job %s: its Ray task ignored the cancel; killing it", self._launch.job_id)
        ray.cancel(self._generator, force=True)


def _check_reachable(address: str) -> None:
    """Fail fast when nothing listens at a ``HOST:PORT`` address (Ray would retry for minutes).

    Raises:
        ExecutorError: The address is malformed or refuses connections.
    """
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=_CONNECT_SECS):
            return
    except (OSError, ValueError) as exc:
        raise ExecutorError(
            f"--ray-address {address!r}: no Ray cluster answers there ({exc}); start one with "
            "`ray start --head` or give its address (HOST:PORT, ray://HOST:PORT or auto)"
        ) from None


def _number(amount: float) -> str:
    return str(int(amount)) if float(amount).is_integer() else f"{amount:g}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
