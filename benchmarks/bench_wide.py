"""Benchmark: a stress test of wide data (200 rows, thousands of columns) in a limited worker.

Run from the repository root::

    python benchmarks/bench_wide.py                                  # 1k, 5k, 10k columns, 3 runs
    python benchmarks/bench_wide.py --columns 1000 --repeats 1       # quick

Each run is ``python -m pytest_rime.server.worker`` on a ``MODEL_STRESS_TEST`` spec, the job
process of the server with the server's limits: address space twice ``--ram-request`` MB
(default 2000, so the 4,000 MB of issue 13), threads from the CPU request. Data (not timed):
``--rows`` reference and evaluation rows of ``--columns`` features written as CSV (70% float,
15% small integers, 15% string categories, a planted correlated pair and a planted
inconsistent pair) and a ``model.py`` like the examples' (``tests/engine/wide_data.py``). Every
registered test runs with its defaults. The table shows the median wall time of the worker,
its median peak RSS (``ru_maxrss`` from ``os.wait4``), the CSV size and the exit code of each
run (0 success, 3 out of memory).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "engine"))

from wide_data import WorkerRun, run_in_worker, write_wide_inputs


def measure(columns: int, rows: int, repeats: int, ram_request: int) -> list[WorkerRun]:
    """``repeats`` worker runs of one freshly written data set of ``columns`` columns."""
    with tempfile.TemporaryDirectory(prefix="bench_wide_") as folder:
        root = Path(folder)
        config = write_wide_inputs(root, columns, rows)
        size_mb = (root / "ref.csv").stat().st_size / 1e6
        runs = []
        for repeat in range(repeats):
            run = run_in_worker(config, root / f"job{repeat}", ram_request_megabytes=ram_request)
            print(
                f"  {columns} columns, run {repeat + 1}: exit {run.exit_code}, "
                f"{run.seconds:.1f} s, peak RSS {run.peak_rss_mb:.0f} MB "
                f"(ref.csv {size_mb:.1f} MB)",
                flush=True,
            )
            if run.exit_code != 0:
                print(run.log[-2000:], flush=True)
            runs.append(run)
    return runs


def main(argv: list[str] | None = None) -> int:
    """Measure every width and print the table; exit 1 when a run failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ram-request", type=int, default=2000, help="MB; the limit is twice")
    args = parser.parse_args(argv)
    results = {c: measure(c, args.rows, args.repeats, args.ram_request) for c in args.columns}
    print()
    print(
        f"address space limit {2 * args.ram_request} MB, {args.rows} rows, medians of "
        f"{args.repeats}"
    )
    print(
        "| columns | median s | min s | max s | median peak RSS MB | max peak RSS MB | exit codes |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|")
    for columns, runs in results.items():
        seconds = [r.seconds for r in runs]
        rss = [r.peak_rss_mb for r in runs]
        print(
            f"| {columns:,} | {statistics.median(seconds):.1f} | {min(seconds):.1f} | "
            f"{max(seconds):.1f} | {statistics.median(rss):.0f} | {max(rss):.0f} | "
            f"{' '.join(str(r.exit_code) for r in runs)} |"
        )
    print()
    print(
        "reproduce: python benchmarks/bench_wide.py "
        + shlex.join(sys.argv[1:] if argv is None else argv)
    )
    return 0 if all(r.exit_code == 0 for runs in results.values() for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
