"""Firewall jobs split by time bin into Ray tasks (``rime serve --executor ray --split-rows N``).

With ``spec["ray"] = {"address", "split_rows"}`` (set by the ``ray`` executor) the worker of a
``FIREWALL_BATCH_TEST`` job calls :func:`run_firewall_split`: when the incremental file has more
than ``split_rows`` rows (``split_rows`` > 0), it connects to the cluster as a driver, cuts the
bins into contiguous groups of about ``split_rows`` rows
(:func:`~pytest_rime.engine.firewall_split.group_bins`) and runs each group as one Ray task of
``run_firewall(..., bin_starts=group)``; the groups' results merge into exactly the result of
the single-process run (:func:`~pytest_rime.engine.firewall_split.merge_firewall_results`).

What goes where: each task gets only the firewall's arguments (the config, the paths, the
resolver) and its bins' start times, and reads the reference, the model and the incremental
file itself, from the same paths or ``s3://`` URLs the single-process run reads; nothing large
passes through the driver or the object store (results come back as one
:class:`~pytest_rime.engine.firewall.FirewallRunResult` per group). The cost is that every task
parses the whole incremental file (and predicts it once, as the single-process run's checks
do) before running its own bins; shipping rows instead would need the user's model and the
prepared reference to be pickled into the object store, and a driver holding all rows. See
docs/scale_out.md for what changes at 100 nodes.

Progress is ``(bins done, total bins)`` as each task finishes, with the single-process run's
``[n/N] bin ...`` line per bin; a task's own log lines come back with its result. A failing
task ends the run with :class:`SplitFirewallError` naming its bins and the task's error (other
tasks are cancelled); Ray's out-of-memory kill of a task raises :class:`MemoryError` (the
worker's OOM exit). Ray retries a task lost with its node (``max_retries``), never one that
raised. No grpc here: this module runs in the job worker.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from pytest_rime.engine.data import Resolver
from pytest_rime.engine.firewall import FirewallRunResult, bin_log_line, run_firewall
from pytest_rime.engine.firewall_split import (
    BinPlan,
    group_bins,
    merge_firewall_results,
    plan_bins,
)
from pytest_rime.engine.run import Log, Progress

TASK_RETRIES = 2
"""Times Ray reruns a group's task lost with its worker process or node."""


class SplitFirewallError(RuntimeError):
    """A task of a split firewall run failed; the message names its bins and the cause."""


def firewall_arguments(spec: Mapping[str, Any], resolver: Resolver | None) -> dict[str, Any]:
    """The :func:`~pytest_rime.engine.firewall.run_firewall` arguments of a firewall job spec."""
    return {
        "reference_config": spec["reference_config"],
        "eval_path": spec["eval_path"],
        "timestamp_col": spec["timestamp_col"],
        "bin_size_seconds": spec["bin_size_seconds"],
        "resolver": resolver,
        "thresholds": spec.get("thresholds"),
        "enable_events": spec["enable_events"],
    }


def split_settings(spec: Mapping[str, Any]) -> tuple[str, int]:
    """``(cluster address, split_rows)`` of ``spec["ray"]``.

    Raises:
        ValueError: ``spec["ray"]`` lacks ``address`` or has a ``split_rows`` that is not a
            whole number >= 0.
    """
    settings = spec["ray"]
    address, split_rows = settings.get("address"), settings.get("split_rows", 0)
    if not isinstance(address, str) or not address:
        raise ValueError(f"spec ray.address: expected the Ray cluster's address, got {address!r}")
    if not isinstance(split_rows, int) or isinstance(split_rows, bool) or split_rows < 0:
        raise ValueError(f"spec ray.split_rows: expected a whole number >= 0, got {split_rows!r}")
    return address, split_rows


def run_firewall_split(
    spec: Mapping[str, Any],
    *,
    resolver: Resolver | None,
    log: Log,
    progress: Progress | None = None,
) -> FirewallRunResult:
    """Run the firewall job ``spec``, split over the Ray cluster of ``spec["ray"]`` when big.

    The run stays in this process when ``split_rows`` is 0 or the incremental file has at
    most ``split_rows`` rows (then read twice: once to count its rows).

    Raises:
        SplitFirewallError: A task failed (its bins and error in the message).
        MemoryError: Ray killed a task for lack of memory.
        ValueError: A bad ``spec["ray"]``.
        DataError, ConfigError, ModelError: As :func:`~pytest_rime.engine.firewall.run_firewall`.
    """
    address, split_rows = split_settings(spec)
    arguments = firewall_arguments(spec, resolver)
    if split_rows == 0:
        return run_firewall(**arguments, log=log, progress=progress)
    plan = plan_bins(
        arguments["eval_path"], arguments["timestamp_col"], arguments["bin_size_seconds"], resolver
    )
    if plan.num_rows <= split_rows:
        return run_firewall(**arguments, log=log, progress=progress)
    groups = group_bins(plan.rows, split_rows)
    log(
        f"splitting {plan.num_rows} rows in {len(plan.starts)} bins into {len(groups)} Ray "
        f"tasks of at most {split_rows} rows (or one bin) each on {address}"
    )
    with connected(address):
        return run_groups_on_ray(arguments, plan, groups, log=log, progress=progress)


@contextmanager
def connected(address: str) -> Iterator[None]:
    """Be a driver of the Ray cluster at ``address`` (reuse a connection this process has)."""
    import ray

    if ray.is_initialized():
        yield
        return
    ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def _run_group(
    arguments: Mapping[str, Any], bin_starts: Collection[int]
) -> tuple[FirewallRunResult, list[str]]:
    """A Ray task: the firewall over ``bin_starts`` only, and its log lines."""
    lines: list[str] = []
    return run_firewall(**arguments, log=lines.append, bin_starts=bin_starts), lines


def _bins_of(plan: BinPlan, group: range) -> str:
    """``bins <first start> to <last start>`` (UTC) of a group."""
    first, last = (time.gmtime(plan.starts[i]) for i in (group[0], group[-1]))
    return f"bins {time.strftime(_STAMP, first)} to {time.strftime(_STAMP, last)}"


_STAMP = "%Y-%m-%d %H:%M"


def run_groups_on_ray(
    arguments: Mapping[str, Any],
    plan: BinPlan,
    groups: Sequence[range],
    *,
    log: Log,
    progress: Progress | None = None,
) -> FirewallRunResult:
    """Run each group of bins as one Ray task (1 CPU) and merge the results.

    Needs a Ray connection (``ray.init``, or :func:`connected`).

    Args:
        arguments: :func:`~pytest_rime.engine.firewall.run_firewall` arguments (no ``log``,
            ``progress`` or ``bin_starts``).
        plan: The bins of the incremental file (:func:`plan_bins`).
        groups: Bin indices of ``plan`` per task (:func:`group_bins`).
        log: Gets the per-bin lines and each task's log, prefixed with its bins.
        progress: ``(bins done, total bins of the plan)`` before any task ends and as each
            ends (a task's bins all count as done when it ends, even one ``nrows`` sampling
            emptied).

    Raises:
        SplitFirewallError: A task raised; the others are cancelled.
        MemoryError: Ray killed a task for lack of memory.
    """
    import ray

    started = time.perf_counter()
    free = ray.available_resources()  # type: ignore[no-untyped-call]
    if free.get("CPU", 0.0) < 1:
        log("the Ray cluster has no free CPU now: the firewall's tasks wait for one")
    task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(_run_group)
    shared: Any = ray.put(dict(arguments))  # one copy for every task
    pending = {
        task.remote(shared, [plan.starts[i] for i in group]): group for group in groups if group
    }
    total = sum(len(group) for group in groups)
    if progress is not None:
        progress(0, total)
    parts: list[FirewallRunResult] = []
    done, logged = 0, 0
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        group = pending.pop(ready[0])
        try:
            part, lines = ray.get(ready[0])
        except ray.exceptions.RayError as exc:
            for other in pending:
                ray.cancel(other)
            _raise_task_error(exc, _bins_of(plan, group))
        prefix = f"({_bins_of(plan, group)}) "
        for line in lines:
            log(prefix + line)
        for time_bin in part.bins:
            logged += 1
            log(bin_log_line(logged, total, time_bin.summary))
        done += len(group)
        parts.append(part)
        if progress is not None:
            progress(done, total)
    return merge_firewall_results(parts, int((time.perf_counter() - started) * 1000))


def _raise_task_error(exc: Exception, bins: str) -> NoReturn:
    import ray

    if isinstance(exc, ray.exceptions.OutOfMemoryError):
        raise MemoryError(f"Ray killed the task of {bins} for lack of memory: {exc}") from exc
    cause = exc.cause if isinstance(exc, ray.exceptions.RayTaskError) else exc
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    raise SplitFirewallError(
        f"the Ray task of {bins} failed: {type(cause).__name__}: {first_line}"
    ) from cause
