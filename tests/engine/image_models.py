"""Image runs of the image Transformations and Attacks tests: contexts and splits.

Imported as ``from image_models import ...`` (shared by test_image_transformations.py and
test_image_attacks.py).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from image_data import write_image_run

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.results import TestCaseResult
from pytest_rime.engine.run import load_context
from pytest_rime.engine.validation import validate_config

Images = tuple[list[np.ndarray], np.ndarray]


def random_split(data: Images, seed: int) -> tuple[Images, Images]:
    images, labels = data
    order = np.random.default_rng(seed).permutation(len(images))
    half = len(order) // 2

    def pick(rows: np.ndarray) -> Images:
        return [images[i] for i in rows], labels[rows]

    return pick(order[:half]), pick(order[half:])


def image_context(
    folder: Path, ref: Images, cur: Images, model: str | None = None, **config: Any
) -> RunContext:
    """A loaded images run (PNG files, a logistic regression on ref, or ``model`` source)."""
    run = write_image_run(folder, ref, cur)
    raw = run.config(**config)
    if model is not None:
        (folder / "model.py").write_text(textwrap.dedent(model))
        raw["model_info"] = {"path": str(folder / "model.py")}
    ctx, _ = load_context(validate_config(raw), log=lambda _line: None)
    return ctx


def only(cases: list[TestCaseResult]) -> TestCaseResult:
    assert len(cases) == 1, cases
    return cases[0]
