r"""Benchmark: firewall drift over 10M rows in 30 daily bins, one process vs Ray tasks.

Measures, in the same run, on the same synthetic data (generated once into ``--data-dir``):

- ``single``: :func:`pytest_rime.engine.firewall.run_firewall` in this process;
- ``ray N``: for each ``--workers`` N, a local Ray cluster of N CPUs started by this script
  (``ray.init(num_cpus=N)``, start-up not timed) and the split run of the job worker
  (:func:`pytest_rime.server.ray_firewall.run_groups_on_ray` after
  :func:`~pytest_rime.engine.firewall_split.plan_bins` in the driver), with ``split_rows`` set
  so the 30 bins form N groups (one task per CPU; each task reads the whole file, see
  docs/scale_out.md).

Every Ray result is checked equal to the single-process result (wall times aside). The tests
are the firewall's Drift category only (``tests_config`` disables the others); the model is a
numpy logistic function (``predict_df``). Prints the median of ``--repeats`` wall times per
setup and its ratio to the single-process median.

Ray must run in a private network namespace (it binds the machine's address otherwise)::

    unshare -n sh -c 'ip link set lo up && . /tmp/venv/bin/activate && cd /work/main && \\
        python benchmarks/bench_firewall_ray.py --rows 10000000 --repeats 3'
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pytest_rime.engine.firewall import FirewallRunResult, firewall_tests, run_firewall
from pytest_rime.engine.firewall_split import group_bins, plan_bins
from pytest_rime.engine.validation import validate_config
from pytest_rime.server.ray_firewall import run_groups_on_ray

DAY = 86400
FIRST_DAY = pd.Timestamp("2025-01-01", tz="UTC")
CITIES = np.array([f"city{i:02d}" for i in range(20)])
PLANS = np.array(["free", "basic", "plus", "pro", "team"])
MODEL_SOURCE = """
import numpy as np


def predict_df(df):
    score = df["amount"].to_numpy() * 0.8 + 0.01 * (df["age"].to_numpy() - 40)
    score = score + np.where(df["plan"].to_numpy() == "pro", 0.5, 0.0)
    return 1.0 / (1.0 + np.exp(-score))
"""


def _rows(rng: np.random.Generator, count: int, drift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": rng.normal(drift, 1.0, count),
            "latency": rng.lognormal(0.0, 0.5 + drift / 4, count),
            "age": rng.integers(18, 90, count),
            "city": CITIES[rng.integers(0, len(CITIES), count)],
            "plan": PLANS[rng.choice(len(PLANS), count, p=[0.4, 0.3, 0.15, 0.1, 0.05])],
        }
    )


def write_data(directory: Path, rows: int, days: int, ref_rows: int) -> dict[str, Any]:
    """Write (once) the reference, the ``rows`` eval rows over ``days`` days and the model.

    Days 10-12 drift (``amount`` and ``latency`` shifted). Returns the firewall arguments.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ref_path = directory / f"ref_{ref_rows}.parquet"
    eval_path = directory / f"eval_{rows}_{days}.parquet"
    model_path = directory / "model.py"
    model_path.write_text(MODEL_SOURCE)
    if not ref_path.exists():
        _rows(np.random.default_rng(1), ref_rows).to_parquet(ref_path, index=False)
    if not eval_path.exists():
        rng = np.random.default_rng(2)
        bounds = np.linspace(0, rows, days + 1).astype(np.int64)
        parts = []
        for day in range(days):
            count = int(bounds[day + 1] - bounds[day])
            part = _rows(rng, count, drift=0.6 if 10 <= day <= 12 else 0.0)
            start = int((FIRST_DAY + pd.Timedelta(days=day)).timestamp())
            part["ts"] = np.sort(rng.integers(start, start + DAY, count))
            parts.append(part)
        pd.concat(parts, ignore_index=True).to_parquet(eval_path, index=False)
    config: dict[str, Any] = {
        "run_name": "bench firewall",
        "data_info": {
            "ref_path": str(ref_path),
            "eval_path": str(ref_path),
            "categorical_features": ["city", "plan"],
        },
        "model_info": {"path": str(model_path)},
        "model_task": "Binary Classification",
    }
    drift_only = {
        spec.test_id: {"enabled": False}
        for spec in firewall_tests(validate_config(config))
        if spec.category != "Drift"
    }
    config["tests_config"] = drift_only
    return {
        "reference_config": config,
        "eval_path": str(eval_path),
        "timestamp_col": "ts",
        "bin_size_seconds": DAY,
        "enable_events": True,
    }


def _quiet(_line: str) -> None:
    pass


def comparable(value: Any) -> Any:
    """A ``to_dict()`` payload without wall times."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k != "duration_millis"}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def timed(run: Callable[[], FirewallRunResult]) -> tuple[float, FirewallRunResult]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def ray_run(arguments: dict[str, Any], workers: int) -> FirewallRunResult:
    """The worker's split path: plan in the driver, one group of bins per worker."""
    plan = plan_bins(arguments["eval_path"], "ts", DAY)
    split_rows = math.ceil(plan.num_rows / workers * 1.01)  # 1% slack: exactly ``workers`` groups
    groups = group_bins(plan.rows, split_rows)
    return run_groups_on_ray(arguments, plan, groups, log=_quiet)


def _name(workers: int) -> str:
    return f"ray {workers} cpu"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--ref-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/rime_bench_firewall"))
    args = parser.parse_args(argv)
    import ray

    started = time.perf_counter()
    arguments = write_data(args.data_dir, args.rows, args.days, args.ref_rows)
    print(f"data ready in {time.perf_counter() - started:.1f} s: {arguments['eval_path']}")
    times: dict[str, list[float]] = {"single": [], **{_name(n): [] for n in args.workers}}
    expected: Any = None
    for repeat in range(1, args.repeats + 1):  # setups interleaved: each repeat sees the same load
        seconds, result = timed(lambda: run_firewall(**arguments, log=_quiet))
        times["single"].append(seconds)
        print(f"repeat {repeat} single     {seconds:7.1f} s", flush=True)
        if expected is None:
            expected = comparable(result.to_dict())
            drifting = sum(bool(b.summary.drifting_features) for b in result.bins)
            print(
                f"  {len(result.bins)} bins, {result.num_rows} rows, {drifting} bins with "
                f"drifting features, {len(result.events)} events"
            )
        for workers in args.workers:
            boot = time.perf_counter()
            ray.init(
                address="local",
                num_cpus=workers,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            booted = time.perf_counter() - boot
            try:
                seconds, result = timed(lambda: ray_run(arguments, workers))  # noqa: B023
            finally:
                ray.shutdown()
            if comparable(result.to_dict()) != expected:
                print(f"{_name(workers)}: the split result differs from the single-process one")
                return 1
            times[_name(workers)].append(seconds)
            print(
                f"repeat {repeat} {_name(workers)} {seconds:7.1f} s (equal to single; cluster "
                f"start {booted:.1f} s not timed)",
                flush=True,
            )
    base = statistics.median(times["single"])
    print(f"\nmedians of {args.repeats} repeats, {args.rows} rows, {args.days} daily bins:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:11} {median:7.1f} s   x{base / median:4.2f} vs single")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
