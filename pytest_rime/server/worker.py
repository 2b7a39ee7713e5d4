"""The job worker: ``python -m pytest_rime.server.worker <job dir>`` (docs/internals.md).

Reads ``spec.json``, applies the memory and CPU limits before importing anything heavy, runs
the job and writes ``result.json``. Progress goes to ``progress.json``; the log is stdout. Exit
code 0 means success, 3 means out of memory, 1 any other error (one line in ``error.txt``).
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import traceback
from functools import partial
from pathlib import Path
from typing import Any

OOM_EXIT_CODE = 3
MAX_ERROR_CHARS = 1000
DEFAULT_RAM_MB = 4000
DEFAULT_CPU_MILLICORES = 1500
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def thread_count(cpu_request_millicores: int) -> int:
    """Threads a job may use: its CPU limit (twice the request) in whole CPUs, at least one."""
    limit = 2 * (cpu_request_millicores or DEFAULT_CPU_MILLICORES)
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(math.ceil(limit / 1000), available or 1))


def may_drive_ray(spec: dict[str, Any]) -> bool:
    """Whether the job may connect to a Ray cluster itself (a firewall job it may split)."""
    ray = spec.get("ray") or {}
    return spec["type"] == "FIREWALL_BATCH_TEST" and bool(ray.get("split_rows"))


def apply_limits(spec: dict[str, Any]) -> None:
    """Cap memory at twice ``ram_request_megabytes`` and threads/CPUs at the CPU limit.

    The cap is on the address space, except for a job that may become a Ray driver: mapping
    the node's shared object store takes address space the job does not use, so its cap is on
    private writable memory (``RLIMIT_DATA``: heap and anonymous mappings, where its data
    lives) instead.
    """
    limit_bytes = 2 * int(spec.get("ram_request_megabytes") or DEFAULT_RAM_MB) * 1024 * 1024
    kind, capped = (
        (resource.RLIMIT_DATA, "private memory")
        if may_drive_ray(spec)
        else (resource.RLIMIT_AS, "address space")
    )
    _, hard = resource.getrlimit(kind)
    if hard == resource.RLIM_INFINITY or hard > limit_bytes:
        resource.setrlimit(kind, (limit_bytes, limit_bytes))
    threads = thread_count(int(spec.get("cpu_request_millicores") or 0))
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    print(
        f"[rime worker] limits: {capped} {limit_bytes // (1024 * 1024)} MB, {threads} thread(s)",
        flush=True,
    )


def _write_json(path: Path, payload: Any) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload))
    os.replace(temporary, path)


def _log(line: str) -> None:
    print(line, flush=True)


def _progress(job_dir: Path, unit: str, done: int, total: int) -> None:
    _write_json(
        job_dir / "progress.json",
        {"done": done, "total": total, "text": f"{done} / {total} {unit} completed"},
    )


def run_job(spec: dict[str, Any], job_dir: Path) -> Any:
    """Run the job ``spec`` describes and return its ``result.json`` payload.

    Stress tests report ``"n / N test batches completed"``, firewall jobs ``"n / N bins
    completed"`` (a from-reference job reports its stress test's batches first).
    """
    job_type = spec["type"]
    if job_type == "IMAGE_BUILDER":
        from pytest_rime.server.images import build_image

        return build_image(spec, _log)
    from pytest_rime.server.blobs import resolve_rime_uri

    resolver = partial(resolve_rime_uri, Path(spec["data_dir"]), blob_url=spec.get("blob_url", ""))
    batches = partial(_progress, job_dir, "test batches")
    bins = partial(_progress, job_dir, "bins")
    if job_type == "MODEL_STRESS_TEST":
        from pytest_rime.engine.run import run_stress_test

        result = run_stress_test(spec["config"], resolver=resolver, log=_log, progress=batches)
        return result.to_dict()
    if job_type == "FIREWALL_BATCH_TEST" and spec.get("ray"):
        from pytest_rime.server.ray_firewall import run_firewall_split

        split = run_firewall_split(spec, resolver=resolver, log=_log, progress=bins)
        return split.to_dict()
    if job_type == "FIREWALL_BATCH_TEST":
        from pytest_rime.engine.firewall import run_firewall

        firewall = run_firewall(
            spec["reference_config"],
            eval_path=spec["eval_path"],
            timestamp_col=spec["timestamp_col"],
            bin_size_seconds=spec["bin_size_seconds"],
            resolver=resolver,
            log=_log,
            progress=bins,
            thresholds=spec.get("thresholds"),
            enable_events=spec["enable_events"],
        )
        return firewall.to_dict()
    if job_type == "FIREWALL_TEST_FROM_REFERENCE":
        from pytest_rime.engine.firewall import run_firewall_from_reference

        from_reference = run_firewall_from_reference(
            spec["config"],
            resolver=resolver,
            log=_log,
            progress=bins,
            stress_test_progress=batches,
            enable_events=spec["enable_events"],
        )
        return from_reference.to_dict()
    raise ValueError(f"unknown job type {job_type!r}")


def _caused_by_memory_error(error: BaseException | None) -> bool:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, MemoryError):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def main(argv: list[str]) -> int:
    """Run the job in ``argv[0]`` and return the process exit code."""
    job_dir = Path(argv[0])
    spec = json.loads((job_dir / "spec.json").read_text())
    apply_limits(spec)
    try:
        payload = run_job(spec, job_dir)
    except Exception as exc:
        if _caused_by_memory_error(exc):
            _log(f"[rime worker] out of memory: {exc!r}")
            return OOM_EXIT_CODE
        traceback.print_exc()
        summary = f"{type(exc).__name__}: {exc}".splitlines()[0]
        (job_dir / "error.txt").write_text(summary[:MAX_ERROR_CHARS])
        return 1
    _write_json(job_dir / "result.json", payload)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
