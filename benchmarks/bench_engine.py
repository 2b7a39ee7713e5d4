"""Engine benchmark: time per test category, and profiling + drift against a numpy baseline.

Run from the repository root::

    python benchmarks/bench_engine.py            # 100k x 25 per category, 1M x 25 drift
    python benchmarks/bench_engine.py --rows 20000 --big-rows 200000 --repeats 1   # quick

Every stage runs in its own child process (so its peak RSS, from ``resource.getrusage``, is its
own) and is repeated ``--repeats`` times; the table shows the median wall time, rows per second,
peak RSS and the number of batched model calls.

Stages:

- ``category:<name>``: every registered test of that category on a fresh RunContext over
  ``--rows`` rows x 25 features (15 float, 5 int, 5 categorical) with a vectorised model; the
  time includes the profiles and importance the category needs.
- ``drift_engine``: on ``--big-rows`` rows x 25 float features, NO sampling: the engine's
  profiles of every feature plus Feature Drift with PSI and with KS.
- ``drift_baseline``: the same PSI (reference-decile bins) and KS statistics per feature written
  as plain vectorised numpy (sort, quantile, searchsorted): the floor to compare with. The
  report shows ``drift_engine / drift_baseline``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from pytest_rime.engine.results import CATEGORIES
from pytest_rime.vocabulary import TABULAR

N_FLOAT, N_INT, N_CAT = 15, 5, 5


def make_frames(rows: int, *, numeric_only: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and evaluation frames: eval has mild drift, a few nulls and outliers."""

    def frame(seed: int, shift: float) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        columns: dict[str, Any] = {}
        n_float = N_FLOAT + (N_INT + N_CAT if numeric_only else 0)
        for i in range(n_float):
            columns[f"f{i}"] = rng.normal(shift * (i % 3), 1.0 + 0.1 * i, rows)
        if not numeric_only:
            for i in range(N_INT):
                columns[f"i{i}"] = rng.integers(0, 10 * (i + 1), rows)
            for i in range(N_CAT):
                columns[f"c{i}"] = rng.choice([f"v{j}" for j in range(3 + 2 * i)], rows)
        data = pd.DataFrame(columns)
        score = data["f0"] - 0.5 * data["f1"] + rng.normal(0, 0.5, rows)
        data["y"] = (score > 0).astype(int)
        return data

    ref, cur = frame(0, 0.0), frame(1, 0.1)
    if not numeric_only:
        cur.loc[cur.index[:: max(1, rows // 200)], "f2"] = np.nan
        cur.loc[cur.index[:: max(1, rows // 100)], "f3"] = 1e6
    return ref, cur


def model(frame: pd.DataFrame) -> np.ndarray:
    """A vectorised logistic model on f0 and f1."""
    x0 = pd.to_numeric(frame["f0"], errors="coerce").fillna(0.0).to_numpy()
    x1 = pd.to_numeric(frame["f1"], errors="coerce").fillna(0.0).to_numpy()
    probability: np.ndarray = 1.0 / (1.0 + np.exp(-(2 * x0 - x1)))
    return probability


def _context(ref: pd.DataFrame, cur: pd.DataFrame, *, with_model: bool) -> Any:
    from pytest_rime.engine.context import RunContext
    from pytest_rime.engine.importance import compute_importance
    from pytest_rime.engine.model import ModelAdapter
    from pytest_rime.engine.validation import validate_config

    data_info = {"ref_path": "ref", "eval_path": "eval"}
    if with_model:
        data_info["label_col"] = "y"
    config = validate_config({"run_name": "bench", "data_info": data_info})
    adapter = ModelAdapter(model, source="bench") if with_model else None
    context = RunContext(config, ref, cur, model=adapter, importance=compute_importance)
    return context, adapter


def _run(ctx: Any, spec: Any, settings: Any) -> None:
    from pytest_rime.engine.run import run_test

    cases, _ = run_test(ctx, spec, settings, log=lambda _line: None)
    raised = [c for c in cases if "the test raised" in c.description]
    if raised:
        raise RuntimeError(f"{spec.test_id}: {raised[0].description}")


def stage_category(category: str, rows: int) -> Callable[[], int]:
    """One timed run of every test of ``category``; returns the predict call count."""
    from pytest_rime.engine.catalog import all_tests

    ref, cur = make_frames(rows)
    specs = [spec for spec in all_tests(TABULAR) if spec.category == category]

    def once() -> int:
        from pytest_rime.engine.run import settings_for

        ctx, adapter = _context(ref, cur, with_model=True)
        for spec in specs:
            _run(ctx, spec, settings_for(ctx.config, spec))
        return int(adapter.n_calls)

    return once


def stage_drift_engine(rows: int) -> Callable[[], int]:
    """Profiles of every feature + Feature Drift with PSI and with KS, no sampling."""
    from pytest_rime.engine.catalog import get_test
    from pytest_rime.engine.registry import TestSettings

    ref, cur = make_frames(rows, numeric_only=True)
    spec = get_test("drift.feature_drift")

    def once() -> int:
        ctx, _ = _context(ref, cur, with_model=False)  # no model, no label: no importance cost
        for name in ctx.feature_names:
            ctx.profile(name)
        for statistic in ("psi", "ks"):
            params = {**spec.params, "numeric_statistic": statistic}
            _run(ctx, spec, TestSettings(spec.thresholds, params, ctx.seed))
        return 0

    return once


def baseline_psi_ks(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> tuple[float, float]:
    """Plain numpy PSI (reference-decile bins) and two-sample KS of one feature."""
    ref = np.sort(ref[np.isfinite(ref)])
    cur = np.sort(cur[np.isfinite(cur)])
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_p = np.diff(np.searchsorted(ref, edges, side="right"), prepend=0, append=ref.size)
    cur_p = np.diff(np.searchsorted(cur, edges, side="right"), prepend=0, append=cur.size)
    p = np.maximum(ref_p / ref.size, 1e-4)
    q = np.maximum(cur_p / cur.size, 1e-4)
    psi = float(np.sum((q - p) * np.log(q / p)))
    points = np.concatenate([ref, cur])
    ks = float(
        np.max(
            np.abs(
                np.searchsorted(ref, points, side="right") / ref.size
                - np.searchsorted(cur, points, side="right") / cur.size
            )
        )
    )
    return psi, ks


def stage_drift_baseline(rows: int) -> Callable[[], int]:
    """The baseline PSI + KS over every feature."""
    ref, cur = make_frames(rows, numeric_only=True)
    names = [c for c in ref.columns if c != "y"]

    def once() -> int:
        for name in names:
            baseline_psi_ks(ref[name].to_numpy(float), cur[name].to_numpy(float))
        return 0

    return once


def run_stage(stage: str, rows: int, repeats: int) -> dict[str, Any]:
    """Run one stage ``repeats`` times in this process and measure it."""
    if stage.startswith("category:"):
        once = stage_category(stage.split(":", 1)[1], rows)
    elif stage == "drift_engine":
        once = stage_drift_engine(rows)
    else:
        once = stage_drift_baseline(rows)
    times, calls = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        calls = once()
        times.append(time.perf_counter() - start)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    median = statistics.median(times)
    return {
        "stage": stage,
        "rows": rows,
        "median_s": median,
        "rows_per_s": rows / median if median else float("inf"),
        "peak_rss_mb": peak_kb / 1024,
        "predict_calls": calls,
        "times_s": times,
    }


def _child(stage: str, rows: int, repeats: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", stage, "--rows", str(rows)]
    command += ["--repeats", str(repeats)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="Rows per category stage")
    parser.add_argument("--big-rows", type=int, default=1_000_000, help="Rows of the drift stages")
    parser.add_argument("--repeats", type=int, default=3, help="Repeats per stage (median)")
    parser.add_argument(
        "--categories",
        nargs="+",
        choices=CATEGORIES,
        default=list(CATEGORIES),
        metavar="CATEGORY",
        help="Categories to time (default: all)",
    )
    parser.add_argument("--json", help="Also write the results to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_stage(args.child, args.rows, args.repeats)))
        return
    categories = tuple(args.categories)
    results = [_child(f"category:{c}", args.rows, args.repeats) for c in categories]
    results += [_child(s, args.big_rows, args.repeats) for s in ("drift_engine", "drift_baseline")]
    print(f"{'stage':<30} {'rows':>9} {'median s':>9} {'rows/s':>12} {'peak MB':>8} {'calls':>6}")
    for r in results:
        print(
            f"{r['stage']:<30} {r['rows']:>9} {r['median_s']:>9.3f} {r['rows_per_s']:>12,.0f} "
            f"{r['peak_rss_mb']:>8.0f} {r['predict_calls']:>6}"
        )
    engine, baseline = results[-2]["median_s"], results[-1]["median_s"]
    print(f"drift_engine / drift_baseline = {engine / baseline:.2f}x (target <= 2x)")
    if args.json:
        with open(args.json, "w") as stream:
            json.dump({"results": results, "drift_ratio": engine / baseline}, stream, indent=2)


if __name__ == "__main__":
    main()
