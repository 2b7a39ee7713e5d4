"""Benchmark: a full stress test with a model at 1M rows, end to end, median of N runs.

Run from the repository root::

    python benchmarks/bench_full_run.py                       # 1M ref + 1M eval rows, 3 runs
    python benchmarks/bench_full_run.py --baseline-rev HEAD   # also the committed engine
    python benchmarks/bench_full_run.py --rows 100000 --repeats 1   # quick

What is timed: ``run_stress_test`` on a config of every registered test with its default
settings (no ``tests_config``, no ``nrows`` sampling): reading the reference and evaluation
parquet files, loading the model directory, profiling, importance, every test of every category,
p-values and their multiple-testing correction, model metrics. Not timed: generating and writing
the data (done once, before the runs).

Data: ``--rows`` reference and ``--rows`` evaluation rows of 25 features (15 float, 5 int with
10 to 50 values, 5 string categoricals with 3 to 11 values) and a binary label; the evaluation
set has a mild shift in three features, 0.5% nulls in one and 1% outliers in another (as in
``bench_engine.py``). Model: a ``model.py`` whose vectorised ``predict_df`` is a logistic score
of two floats, an int and a categorical.

Each run is its own child process (peak RSS from ``resource.getrusage`` is its own). With
``--baseline-rev REV`` the same runs are made with the engine of git revision ``REV``
(``git archive``, read-only: the working tree is not touched) and the table shows the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

N_FLOAT, N_INT, N_CAT = 15, 5, 5
REPO = Path(__file__).resolve().parent.parent

MODEL_SOURCE = '''"""Vectorised logistic model of the benchmark."""

import numpy as np
import pandas as pd

CITY_EFFECT = {"v0": 0.4, "v1": -0.3, "v2": 0.1}


def _number(df, name):
    return pd.to_numeric(df[name], errors="coerce").fillna(0.0).to_numpy(dtype=float)


def predict_df(df):
    score = (
        2.0 * _number(df, "f0")
        - 1.0 * _number(df, "f1")
        + 0.05 * (_number(df, "i0") - 5.0)
        + df["c0"].map(CITY_EFFECT).fillna(0.0).to_numpy(dtype=float)
    )
    return 1.0 / (1.0 + np.exp(-score))
'''


def make_frame(rows: int, seed: int, shift: float) -> pd.DataFrame:
    """``rows`` rows of the benchmark's 25 features and label; ``shift`` moves f0, f3, f6."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i in range(N_FLOAT):
        columns[f"f{i}"] = rng.normal(shift * (i % 3 == 0), 1.0 + 0.1 * i, rows)
    for i in range(N_INT):
        columns[f"i{i}"] = rng.integers(0, 10 * (i + 1), rows)
    for i in range(N_CAT):
        columns[f"c{i}"] = rng.choice([f"v{j}" for j in range(3 + 2 * i)], rows)
    frame = pd.DataFrame(columns)
    score = 2.0 * frame["f0"] - frame["f1"] + 0.05 * (frame["i0"] - 5) + rng.normal(0, 0.5, rows)
    frame["y"] = (score > 0).astype(int)
    return frame


def write_inputs(rows: int, folder: Path) -> dict[str, Any]:
    """Write ref / eval parquet files and the model dir; the stress test config for them."""
    ref = make_frame(rows, 0, 0.0)
    cur = make_frame(rows, 1, 0.05)
    cur.loc[cur.index[:: max(1, rows // 200)], "f2"] = np.nan
    cur.loc[cur.index[:: max(1, rows // 100)], "f3"] = 1e6
    ref.to_parquet(folder / "ref.parquet", index=False)
    cur.to_parquet(folder / "eval.parquet", index=False)
    model_dir = folder / "model"
    model_dir.mkdir()
    (model_dir / "model.py").write_text(MODEL_SOURCE)
    return {
        "run_name": f"bench full run {rows}",
        "data_info": {
            "label_col": "y",
            "ref_path": str(folder / "ref.parquet"),
            "eval_path": str(folder / "eval.parquet"),
        },
        "model_info": {"path": str(model_dir)},
        "model_task": "Binary Classification",
        "random_seed": 0,
    }


def child(config_path: str) -> None:
    """One timed run in this process; prints one JSON line."""
    from pytest_rime.engine.run import run_stress_test

    config = json.loads(Path(config_path).read_text())
    started = time.perf_counter()
    result = run_stress_test(config, log=lambda _line: None)
    seconds = time.perf_counter() - started
    cases = [case for batch in result.batches for case in batch.cases]
    by_category: dict[str, float] = {}
    for batch in result.batches:
        by_category[batch.category] = by_category.get(batch.category, 0.0) + (
            batch.duration_millis / 1000
        )
    severities: dict[str, int] = {}
    for case in cases:
        severities[case.severity.value] = severities.get(case.severity.value, 0) + 1
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "predict_calls": result.metadata.get("predict_calls"),
                "cases": len(cases),
                "with_p_value": sum("p_value" in case.metrics for case in cases),
                "severities": severities,
                "by_category": by_category,
                "engine": __import__("pytest_rime").__file__,
            }
        )
    )


def run_variant(config_path: Path, source: Path | None, repeats: int) -> list[dict[str, Any]]:
    """``repeats`` child runs, with the engine of ``source`` (a dir holding pytest_rime) or ours."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(source), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    runs = []
    for _ in range(repeats):
        completed = subprocess.run(
            [sys.executable, __file__, "--child", str(config_path)],
            env=env,
            cwd=tempfile.gettempdir(),  # not the repo root: the engine comes from sys.path
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise SystemExit(f"run failed:\n{completed.stderr[-4000:]}")
        runs.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    return runs


def archive(rev: str, into: Path) -> Path:
    """The ``pytest_rime`` package of git revision ``rev``, extracted under ``into``."""
    tar_path = into / f"{rev.replace('/', '_')}.tar"
    with tar_path.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(REPO), "archive", rev, "pytest_rime"], stdout=out, check=True
        )
    target = into / f"rev-{rev.replace('/', '_')}"
    with tarfile.open(tar_path) as tar:
        tar.extractall(target, filter="data")
    return target


def summary(name: str, rows: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [run["seconds"] for run in runs]
    return {
        "variant": name,
        "rows": rows,
        "runs": len(runs),
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "predict_calls": runs[-1]["predict_calls"],
        "cases": runs[-1]["cases"],
        "with_p_value": runs[-1]["with_p_value"],
        "severities": runs[-1]["severities"],
        "by_category": runs[-1]["by_category"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="Rows of ref and of eval")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per variant (median shown)")
    parser.add_argument(
        "--baseline-rev",
        action="append",
        default=[],
        help="Also time the engine of this git revision (repeatable), e.g. HEAD",
    )
    parser.add_argument("--json", type=Path, help="Write the figures to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    command = "python benchmarks/bench_full_run.py " + shlex.join(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="rime-bench-full-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        config = write_inputs(args.rows, folder)
        config_path = folder / "config.json"
        config_path.write_text(json.dumps(config))
        print(f"data written in {time.perf_counter() - started:.1f}s", flush=True)
        variants: list[tuple[str, Path | None]] = [("working tree", None)]
        variants += [(f"rev {rev}", archive(rev, folder)) for rev in args.baseline_rev]
        results = []
        for name, source in variants:
            print(f"timing {name} ({args.repeats} runs) ...", flush=True)
            results.append(summary(name, args.rows, run_variant(config_path, source, args.repeats)))

    print()
    print(
        f"Full stress test with a model, {args.rows:,} ref + {args.rows:,} eval rows x 25 "
        f"features; python {platform.python_version()}, numpy {np.__version__}, "
        f"pandas {pd.__version__}, {os.cpu_count()} cpus"
    )
    print()
    print(
        "| variant | rows | runs | median s | min s | max s | peak RSS MB | predict calls "
        "| cases | with p-value |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['variant']} | {r['rows']:,} | {r['runs']} | {r['median_s']:.1f} "
            f"| {r['min_s']:.1f} | {r['max_s']:.1f} | {r['peak_rss_mb']:.0f} "
            f"| {r['predict_calls']} | {r['cases']} | {r['with_p_value']} |"
        )
    print()
    for r in results:
        slowest = sorted(r["by_category"].items(), key=lambda item: -item[1])
        print(
            f"{r['variant']}: seconds by category (last run): "
            + ", ".join(f"{name} {value:.1f}" for name, value in slowest)
        )
        print(f"{r['variant']}: severities {r['severities']}")
    for r in results[1:]:
        print(
            f"working tree / {r['variant']} = {results[0]['median_s'] / r['median_s']:.2f}x "
            "(median over median)"
        )
    print()
    print(f"Reproduce: {command}")
    if args.json:
        args.json.write_text(json.dumps({"command": command, "results": results}, indent=2))


if __name__ == "__main__":
    main()
