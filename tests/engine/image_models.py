"""Image runs of the images engine tests: contexts, splits and the cases of a run.

Imported as ``from image_models import ...`` (shared by the test_image_*.py modules).
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from image_data import ImageRun, write_image_run
from PIL import Image

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.context import RunContext
from pytest_rime.engine.registry import TestSpec
from pytest_rime.engine.results import Severity, TestCaseResult
from pytest_rime.engine.run import load_context, run_batches
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


def quiet(_line: str) -> None:
    """A log that drops its lines."""


def image_cases(
    run: ImageRun, keep: Callable[[TestSpec], bool], **extra: Any
) -> list[TestCaseResult]:
    """The cases (evidence applied) of the images tests ``keep`` takes on ``run``.

    ``extra``: keys of the run's config (:meth:`ImageRun.config`).
    """
    config = validate_config(run.config(**extra))
    ctx, _ = load_context(config, log=quiet)
    specs = [s for s in all_tests("images") if keep(s)]
    batches, _ = run_batches(ctx, specs, config, quiet)
    return [case for batch in batches for case in batch.cases]


def category_cases(
    folder: Path,
    ref: Images,
    cur: Images,
    category: str,
    model: str | None = None,
    tables: Callable[[pd.DataFrame], None] | None = None,
) -> list[TestCaseResult]:
    """The cases of the images tests of ``category`` on ``ref`` and ``cur`` written in ``folder``.

    ``model``: the source of a ``model.py`` (``{path}``: the estimator trained on ``ref``),
    else that estimator; ``tables``: edits the ref and eval tables in place before the run.
    """
    run = write_image_run(folder, ref, cur)
    if tables is not None:
        for table in (run.ref_path, run.eval_path):
            frame = pd.read_csv(table)
            tables(frame)
            frame.to_csv(table, index=False)
    extra: dict[str, Any] = {}
    if model is not None:
        path = folder / "model.py"
        path.write_text(model.format(path=str(run.model_path)))
        extra["model_info"] = {"path": str(path)}
    return image_cases(run, lambda spec: spec.category == category, **extra)


def assert_at_most_low(cases: list[TestCaseResult]) -> None:
    """Every case is NONE or LOW (the message lists the others)."""
    loud = [c.description for c in cases if c.severity not in (Severity.NONE, Severity.LOW)]
    assert not loud, loud


PNG_URI = "data:image/png;base64,"


def decode_thumbnail(uri: str) -> np.ndarray:
    """The pixels of a thumbnail (``image_thumbnails.thumbnail``'s PNG data URI)."""
    if not uri.startswith(PNG_URI):
        raise ValueError("not a PNG data URI")
    with Image.open(io.BytesIO(base64.b64decode(uri[len(PNG_URI) :]))) as image:
        return np.asarray(image.convert(image.mode), dtype=np.uint8)
