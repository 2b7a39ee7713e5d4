"""Wide tabular data (few rows, thousands of columns) and a stress test of it in a real worker.

Shared by ``tests/engine/test_wide_data.py`` (which asserts) and ``benchmarks/bench_wide.py``
(which times and measures it). :func:`write_wide_inputs` writes ``ref.csv``, ``eval.csv`` and a
``model/model.py`` like the examples' and returns the stress test config;
:func:`run_in_worker` runs that config in ``python -m pytest_rime.server.worker``, the server's
own job process, with the server's limits (address space twice ``ram_request_megabytes``), and
returns its exit code, result, wall time and peak RSS (``os.wait4`` of the child).

The columns: 70% float (``f<i>``), 15% small integers (``i<i>``), 15% string categories
(``c<i>``, 3 to 8 levels), then the label ``y`` (a logistic score of ``f0``, ``f1``, ``i0`` and
``c0``). Planted for the pairwise tests: ``f3`` is ``f2`` plus 1% noise (High Feature
Correlation), and in eval the pair (``c1``, ``c2``) takes a combination of common values that
ref never shows (Inconsistencies). Eval is shifted a little in ``f0``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MODEL_SOURCE = '''"""A logistic score of four columns of the wide data."""

import numpy as np
import pandas as pd

LEVEL_EFFECT = {"v0": 0.5, "v1": -0.5}


def _number(df, name):
    return pd.to_numeric(df[name], errors="coerce").fillna(0.0).to_numpy(dtype=float)


def predict_df(df):
    """Probability of the positive class for each row of ``df``."""
    score = (
        1.5 * _number(df, "f0")
        - 1.0 * _number(df, "f1")
        + 0.2 * (_number(df, "i0") - 2.0)
        + df["c0"].map(LEVEL_EFFECT).fillna(0.0).to_numpy(dtype=float)
    )
    return 1.0 / (1.0 + np.exp(-score))
'''

PLANTED_CORRELATED = ("f2", "f3")
"""A numeric pair with correlation about 0.9999 in ref."""

PLANTED_INCONSISTENT = ("c1", "c2")
"""A categorical pair whose eval rows pair common values ref never pairs."""


def column_names(columns: int) -> list[str]:
    """The ``columns`` feature names: 70% ``f``, 15% ``i``, the rest ``c`` (at least 4 ``c``)."""
    n_cat = max(4, columns * 15 // 100)
    n_int = max(1, columns * 15 // 100)
    n_float = columns - n_cat - n_int
    return (
        [f"f{i}" for i in range(n_float)]
        + [f"i{i}" for i in range(n_int)]
        + [f"c{i}" for i in range(n_cat)]
    )


def wide_frame(rows: int, columns: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """``rows`` rows of ``columns`` features and the label ``y`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    names = column_names(columns)
    floats = [n for n in names if n[0] == "f"]
    ints = [n for n in names if n[0] == "i"]
    cats = [n for n in names if n[0] == "c"]
    parts = [
        pd.DataFrame(rng.normal(0.0, 1.0, (rows, len(floats))), columns=floats),
        pd.DataFrame(rng.integers(0, 5, (rows, len(ints))), columns=ints),
    ]
    levels = rng.integers(3, 9, len(cats))
    codes = (rng.random((rows, len(cats))) * levels).astype(int)
    parts.append(pd.DataFrame(np.char.add("v", codes.astype(str)), columns=cats))
    frame = pd.concat(parts, axis=1)
    frame["f0"] += shift
    frame["f3"] = frame["f2"] + rng.normal(0.0, 0.01, rows)
    a, b = PLANTED_INCONSISTENT
    frame[a] = rng.choice(["v0", "v1"], rows)
    frame[b] = np.where(frame[a] == "v0", "v0", "v1")  # ref pairs v0 with v0 and v1 with v1
    effect = frame["c0"].map({"v0": 0.5, "v1": -0.5}).fillna(0.0)
    score = 1.5 * frame["f0"] - frame["f1"] + 0.2 * (frame["i0"] - 2) + effect
    frame["y"] = (score + rng.normal(0.0, 0.5, rows) > 0).astype(int)
    return frame


def write_wide_inputs(folder: Path, columns: int, rows: int = 200) -> dict[str, Any]:
    """Write ref / eval CSVs of ``rows`` x ``columns`` and the model dir; return the config."""
    ref = wide_frame(rows, columns, 0)
    cur = wide_frame(rows, columns, 1, shift=0.3)
    a, b = PLANTED_INCONSISTENT
    crossed = cur.index[: rows // 5]
    cur.loc[crossed, b] = np.where(cur.loc[crossed, a] == "v0", "v1", "v0")
    ref.to_csv(folder / "ref.csv", index=False)
    cur.to_csv(folder / "eval.csv", index=False)
    model_dir = folder / "model"
    model_dir.mkdir(exist_ok=True)
    (model_dir / "model.py").write_text(MODEL_SOURCE, encoding="utf-8")
    return {
        "run_name": f"wide {rows} x {columns}",
        "data_info": {
            "label_col": "y",
            "ref_path": str(folder / "ref.csv"),
            "eval_path": str(folder / "eval.csv"),
        },
        "model_info": {"path": str(model_dir / "model.py")},
        "model_task": "Binary Classification",
        "random_seed": 0,
    }


@dataclass(frozen=True)
class WorkerRun:
    """One stress test in a worker process.

    Attributes:
        exit_code: The worker's exit code (0 success, 3 out of memory, 1 other error).
        result: ``result.json`` (a ``RunResult`` dict), ``None`` unless it succeeded.
        seconds: Wall time of the worker process.
        peak_rss_mb: Its peak resident set size (``ru_maxrss`` from ``os.wait4``).
        log: Its stdout and stderr.
    """

    exit_code: int
    result: dict[str, Any] | None
    seconds: float
    peak_rss_mb: float
    log: str


def run_in_worker(
    config: dict[str, Any], job_dir: Path, *, ram_request_megabytes: int = 2000
) -> WorkerRun:
    """Run ``config`` as a ``MODEL_STRESS_TEST`` in ``python -m pytest_rime.server.worker``.

    The worker caps its address space at twice ``ram_request_megabytes`` (the default 2000
    gives the 4,000 MB of the issue) and its threads as the server does.
    """
    job_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "type": "MODEL_STRESS_TEST",
        "data_dir": str(job_dir),
        "python": sys.executable,
        "ram_request_megabytes": ram_request_megabytes,
        "cpu_request_millicores": 1000,
        "config": config,
    }
    (job_dir / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    log_path = job_dir / "log.txt"
    started = time.perf_counter()
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "pytest_rime.server.worker", str(job_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:  # a test timeout or ^C: never leave the worker running
            child.kill()
            child.wait()
            raise
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    result_path = job_dir / "result.json"
    result = json.loads(result_path.read_text()) if child.returncode == 0 else None
    return WorkerRun(
        exit_code=child.returncode,
        result=result,
        seconds=seconds,
        peak_rss_mb=usage.ru_maxrss / 1024,
        log=log_path.read_text(encoding="utf-8", errors="replace"),
    )
