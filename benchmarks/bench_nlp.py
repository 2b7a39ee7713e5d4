"""Benchmark: an nlp stress test on 10k texts: cases per second and batched predict calls.

Run from the repository root::

    python benchmarks/bench_nlp.py                  # 10,000 ref + 10,000 eval texts, 3 runs
    python benchmarks/bench_nlp.py --rows 2000 --repeats 1   # quick

What is timed: ``run_stress_test`` on an nlp config with every registered nlp test at its
default settings: reading the jsonl files, unpickling the model, every test of every category,
p-values and their correction, model metrics. Not timed: making and writing the data and
training the model (once, before the runs). The table shows the median of ``--repeats`` runs.

Data: ``--rows`` reference and ``--rows`` evaluation texts of the topic generator of
``tests/engine/text_data.py`` (four topics, 6 to 16 words, 15% of topic words from another
topic), plus 5% of the evaluation texts with keyboard-neighbour typos and 1% empty, so the
abnormal-input and what-if tests have something to find, and a tenth of the texts of each set
opening with a gendered word, a first name or a nationality (``IDENTITY_OPENERS``), so the
counterfactual swaps run. Model: a pickled scikit-learn pipeline
(TF-IDF + logistic regression) trained on other texts of the generator.

Predict calls: the model adapter counts every batched call (``ModelAdapter.n_calls``). After
the timed runs, each test runs once more on its own over the same context and the calls it made
are counted: a transformation test must make exactly one call (every perturbed text of the test
in one batch; the stress test's eval predictions are computed once, before the tests). The script
exits 1 when one does not.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "engine"))

from text_data import make_texts, train_pipeline  # noqa: E402

from pytest_rime.engine.run import (  # noqa: E402
    enabled_tests,
    load_context,
    run_stress_test,
    run_test,
    settings_for,
)
from pytest_rime.engine.validation import validate_config  # noqa: E402

CLASSES = ("sport", "money", "health", "travel")
IDENTITY_OPENERS = (
    "She says: ", "He says: ", "My wife thinks: ", "My husband thinks: ", "Maria wrote: ",
    "John wrote: ", "A French friend: ", "A German friend: ",
)  # fmt: skip
KEYBOARD = {"a": "s", "e": "r", "i": "o", "o": "p", "s": "d", "t": "y", "n": "m", "r": "t"}


def _typos(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    for i in rng.choice(len(words), max(1, len(words) // 4), replace=False):
        word = words[i]
        spots = [j for j, ch in enumerate(word) if ch in KEYBOARD]
        if spots:
            j = int(rng.choice(spots))
            words[i] = word[:j] + KEYBOARD[word[j]] + word[j + 1 :]
    return " ".join(words)


def write_data(folder: Path, rows: int) -> dict[str, Any]:
    """Ref / eval jsonl and the pickled pipeline; the nlp config reading them."""
    rng = np.random.default_rng(0)
    ref = make_texts(rows, seed=1, classes=CLASSES)
    cur = make_texts(rows, seed=2, classes=CLASSES)
    typo_rows = rng.choice(rows, rows // 20, replace=False)
    cur.loc[typo_rows, "text"] = [_typos(t, rng) for t in cur.loc[typo_rows, "text"]]
    cur.loc[rng.choice(rows, rows // 100, replace=False), "text"] = ""
    for frame in (ref, cur):  # identity terms for the Bias and Fairness swaps to work on
        picked = rng.choice(rows, rows // 10, replace=False)
        openers = rng.choice(IDENTITY_OPENERS, len(picked))
        texts = frame.loc[picked, "text"]
        frame.loc[picked, "text"] = [o + t for o, t in zip(openers, texts, strict=True)]
    paths = {}
    for name, frame in (("ref", ref), ("eval", cur)):
        path = folder / f"{name}.jsonl"
        records = frame.to_dict("records")
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        paths[name] = str(path)
    model_path = folder / "model.joblib"
    joblib.dump(train_pipeline(make_texts(max(rows, 4000), seed=3, classes=CLASSES)), model_path)
    return {
        "run_name": f"nlp bench {rows}",
        "data_type": "nlp",
        "data_info": {"ref_path": paths["ref"], "eval_path": paths["eval"], "label_col": "label"},
        "model_info": {"path": str(model_path)},
        "model_task": "Multi-class Classification",
        "random_seed": 0,
    }


def timed_run(config: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    result = run_stress_test(config, log=lambda _line: None)
    seconds = time.perf_counter() - started
    cases = [case for batch in result.batches for case in batch.cases]
    return {
        "seconds": seconds,
        "cases": len(cases),
        "predict_calls": int(result.metadata.get("predict_calls", 0)),  # type: ignore[call-overload]
        "severities": Counter(case.severity.value for case in cases),
        "per_category": {
            category: sum(b.duration_millis for b in result.batches if b.category == category)
            / 1000
            for category in dict.fromkeys(b.category for b in result.batches)
        },
    }


def calls_per_test(config: dict[str, Any]) -> list[tuple[str, str, int, int, float]]:
    """(test id, category, calls first time, calls again, seconds again) of each test.

    Every test runs twice, in registry order, on one context. The first pass also makes the
    calls the tests share once per run (permutation importance; the predictions of the
    perturbation sample, shared by the what-if tests of one sample size); the second pass
    (memos warm) counts each test's own calls.
    """
    cfg = validate_config(config)
    ctx, _ = load_context(cfg, log=lambda _line: None)
    assert ctx.model is not None
    specs = enabled_tests(cfg)
    first = []
    for spec in specs:
        before = ctx.model.n_calls
        run_test(ctx, spec, settings_for(cfg, spec), lambda _line: None)
        first.append(ctx.model.n_calls - before)
    rows = []
    for spec, calls_first in zip(specs, first, strict=True):
        before, started = ctx.model.n_calls, time.perf_counter()
        run_test(ctx, spec, settings_for(cfg, spec), lambda _line: None)
        calls = ctx.model.n_calls - before
        rows.append(
            (spec.test_id, spec.category, calls_first, calls, time.perf_counter() - started)
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="Ref and eval texts (each)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="Write the figures to this file")
    args = parser.parse_args()
    command = "python benchmarks/bench_nlp.py " + shlex.join(sys.argv[1:])

    with tempfile.TemporaryDirectory(prefix="rime-bench-nlp-") as tmp:
        config = write_data(Path(tmp), args.rows)
        runs = [timed_run(config) for _ in range(args.repeats)]
        per_test = calls_per_test(config)

    seconds = statistics.median(r["seconds"] for r in runs)
    cases = runs[0]["cases"]
    print(f"# nlp stress test, {args.rows:,} ref + {args.rows:,} eval texts")
    print(f"machine: {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")
    print(f"command: {command}\n")
    print("| texts (eval) | runs | median s | min s | max s | cases | cases/s | predict calls |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    all_seconds = [r["seconds"] for r in runs]
    print(
        f"| {args.rows:,} | {len(runs)} | {seconds:.2f} | {min(all_seconds):.2f} | "
        f"{max(all_seconds):.2f} | {cases} | {cases / seconds:.1f} | {runs[0]['predict_calls']} |"
    )
    print("\nseconds per category (first run):")
    for category, spent in runs[0]["per_category"].items():
        print(f"  {category}: {spent:.2f}")
    print(f"severities (first run): {dict(runs[0]['severities'])}")

    print("\npredict calls per test (first pass: with the calls shared once per run; again: own)")
    print("| test | category | calls, first pass | calls, again | s, again |")
    print("|---|---|---:|---:|---:|")
    for test_id, category, first, calls, spent in per_test:
        if first or calls or category in ("Transformations", "Attacks", "Bias and Fairness"):
            print(f"| {test_id} | {category} | {first} | {calls} | {spent:.2f} |")
    # One call per transformation test; none when no sampled text had anything to perturb.
    unbatched = [
        (test_id, calls)
        for test_id, category, _, calls, _ in per_test
        if category == "Transformations" and calls > 1
    ]
    transformations = [t for t in per_test if t[1] == "Transformations"]
    if unbatched:
        print(f"\nNOT ONE BATCH: transformation tests with more than one predict call: {unbatched}")
    else:
        empty = [t[0] for t in transformations if t[3] == 0]
        print(
            f"\nall {len(transformations)} transformation tests made at most one predict call "
            f"(none: {', '.join(empty) or '-'}, nothing to perturb)"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"runs": runs, "per_test": per_test, "command": command}, default=str)
        )
    return 1 if unbatched else 0


if __name__ == "__main__":
    sys.exit(main())
