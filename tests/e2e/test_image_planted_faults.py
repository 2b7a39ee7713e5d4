"""Planted faults in real image data: each must give a HIGH case in the right category.

Data (``image_datasets.py``, bundled in wheels): handwritten digits (1,797 8x8 images) and an
MNIST subset (1,500 of 5,000 28x28 images), each split at random into train / reference /
evaluation; a logistic regression on flattened pixels is trained on the training part and
pickled. The reference stays clean; the evaluation images get one fault each:

- ``blurred``: every image Gaussian-blurred (Pillow, radius 0.7 px on 8x8, 1 px on 28x28) ->
  HIGH in Transformations (Gaussian blur, exposed: eval sharpness below the reference's) or in
  Drift of the image property ``sharpness``;
- ``darkened``: every image's pixels x 0.35 -> HIGH Drift of ``brightness``;
- ``blank``: exactly 10% of the images (ceil) replaced by black images -> HIGH Abnormal Inputs
  (``abnormal_inputs.image_blank``; 10% is the high threshold of the row share);
- ``flipped``: 40% of the images mirrored left-right; the model, trained on unflipped digits,
  fails on mirrored ones -> HIGH ``transformations.image_horizontal_flip`` (exposed: eval images
  look mirrored against the reference mean image).

The clean evaluation set of the same split is the control: none of those cases is HIGH there.
All ``slow``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from image_datasets import (
    DATASETS,
    image_config,
    save_model,
    split,
    train,
    write_table,
)
from PIL import Image, ImageFilter
from sweep_helpers import describe

from pytest_rime.engine.results import Severity, TestCaseResult
from pytest_rime.engine.run import run_stress_test

pytestmark = pytest.mark.slow

ROWS = {"digits": None, "mnist_5k": 1500}
"""Images used per dataset (``None``: all)."""

Fault = Callable[[list[np.ndarray], np.random.Generator], list[np.ndarray]]


def _blurred(images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    radius = 0.7 if images[0].shape[0] <= 8 else 1.0
    return [
        np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))
        for image in images
    ]


def _darkened(images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    return [(image.astype(float) * 0.35).astype(np.uint8) for image in images]


def _blank(images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    rows = set(rng.choice(len(images), math.ceil(0.1 * len(images)), replace=False).tolist())
    return [np.zeros_like(image) if i in rows else image for i, image in enumerate(images)]


def _flipped(images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    rows = set(rng.choice(len(images), int(0.4 * len(images)), replace=False).tolist())
    return [np.fliplr(image).copy() if i in rows else image for i, image in enumerate(images)]


def _is_blur(case: TestCaseResult) -> bool:
    return case.test_id == "transformations.image_gaussian_blur" or (
        case.test_id == "drift.image_property_drift" and "sharpness" in case.features
    )


def _is_brightness_drift(case: TestCaseResult) -> bool:
    return case.test_id == "drift.image_property_drift" and "brightness" in case.features


def _is_blank(case: TestCaseResult) -> bool:
    return case.test_id == "abnormal_inputs.image_blank"


def _is_flip(case: TestCaseResult) -> bool:
    return case.test_id == "transformations.image_horizontal_flip"


@dataclass(frozen=True)
class Planted:
    """A fault, the category its HIGH must be in, and which cases count."""

    fault: Fault
    categories: frozenset[str]
    expected: Callable[[TestCaseResult], bool]


FAULTS = {
    "blurred": Planted(_blurred, frozenset({"Transformations", "Drift"}), _is_blur),
    "darkened": Planted(_darkened, frozenset({"Drift"}), _is_brightness_drift),
    "blank": Planted(_blank, frozenset({"Abnormal Inputs"}), _is_blank),
    "flipped": Planted(_flipped, frozenset({"Transformations"}), _is_flip),
}


@dataclass(frozen=True)
class Prepared:
    """One dataset's split written to ``folder``: the reference table, model and eval part."""

    folder: Path
    ref: Path
    model: Path
    eval_images: list[np.ndarray]
    eval_labels: np.ndarray

    def run(self, name: str, images: list[np.ndarray]) -> list[TestCaseResult]:
        eval_table = write_table(self.folder, name, images, self.eval_labels)
        result = run_stress_test(
            image_config(self.ref, eval_table, self.model, 0), log=lambda _line: None
        )
        return [case for batch in result.batches for case in batch.cases]


_PREPARED: dict[str, Prepared] = {}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Prepared]:
    def get(name: str) -> Prepared:
        if name not in _PREPARED:
            folder = tmp_path_factory.mktemp(f"faults-{name}")
            data = split(DATASETS[name](), 0, ROWS[name])
            ref = write_table(folder, "ref", data.ref.images, data.ref.labels)
            model = save_model(train("logreg", data.train, 0), folder / "model.joblib")
            _PREPARED[name] = Prepared(folder, ref, model, data.eval.images, data.eval.labels)
        return _PREPARED[name]

    return get


@pytest.fixture(scope="module")
def clean_cases(prepared: Callable[[str], Prepared]) -> Callable[[str], list[TestCaseResult]]:
    cache: dict[str, list[TestCaseResult]] = {}

    def get(name: str) -> list[TestCaseResult]:
        if name not in cache:
            data = prepared(name)
            cache[name] = data.run("eval", data.eval_images)
        return cache[name]

    return get


def _listing(cases: list[TestCaseResult], keep: Callable[[TestCaseResult], Any]) -> str:
    return "\n".join(describe(c) for c in cases if keep(c))


@pytest.mark.parametrize("dataset", sorted(ROWS))
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_planted_image_fault_is_high_in_its_category(
    fault: str,
    dataset: str,
    prepared: Callable[[str], Prepared],
    clean_cases: Callable[[str], list[TestCaseResult]],
) -> None:
    planted = FAULTS[fault]
    data = prepared(dataset)
    faulty = planted.fault(data.eval_images, np.random.default_rng(0))
    cases = data.run(f"eval_{fault}", faulty)
    highs = [
        c
        for c in cases
        if c.severity == Severity.HIGH and planted.expected(c) and c.category in planted.categories
    ]
    assert highs, f"{fault} on {dataset}: no HIGH where expected:\n" + _listing(
        cases, planted.expected
    )
    clean_highs = [
        c for c in clean_cases(dataset) if c.severity == Severity.HIGH and planted.expected(c)
    ]
    assert not clean_highs, "HIGH on the clean control:\n" + _listing(clean_highs, bool)
