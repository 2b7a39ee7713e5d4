"""Subset Performance tests of images (``pytest_rime.engine.tests.image_subset``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from image_data import blob_images, digit_images
from image_models import Images, assert_at_most_low, category_cases, random_split

from pytest_rime.engine.results import Severity, Status, TestCaseResult

GAP, DROP = (
    "subset_performance.image_subset_performance",
    "subset_performance.image_subset_degradation",
)

# A model that sees nothing in dark images (its sensor floor is grey level 30).
DARK_BLIND = """
import joblib
import numpy as np
MODEL = joblib.load({path!r})
def predict_batch(images):
    p = MODEL.predict_proba(np.stack([i.astype(float).ravel() for i in images]))
    dark = np.array([i.mean() < 30 for i in images])
    p[dark] = p[dark][:, ::-1]
    return p
"""


def _cameras(table: pd.DataFrame) -> None:
    table["camera"] = np.where(np.arange(len(table)) % 2, "left", "right")


def _run(
    folder: Path, ref: Images, cur: Images, model: str | None = None, metadata: bool = False
) -> list[TestCaseResult]:
    tables = _cameras if metadata else None
    cases = category_cases(folder, ref, cur, "Subset Performance", model, tables)
    return [c for c in cases if c.test_id in (GAP, DROP)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_blob_splits_are_at_most_low(tmp_path: Path, seed: int) -> None:
    cases = _run(tmp_path, blob_images(300, seed), blob_images(300, seed + 100), metadata=True)
    features = {c.features for c in cases if c.status != Status.SKIP}
    assert {("label",), ("brightness",), ("camera",)} <= features
    assert_at_most_low(cases)


@pytest.mark.parametrize("seed", [0, 1])
def test_clean_digit_splits_are_at_most_low(tmp_path: Path, seed: int) -> None:
    cases = _run(tmp_path, *random_split(digit_images(), seed))
    assert_at_most_low(cases)


def test_model_failing_on_dark_images_is_high_when_eval_has_them(tmp_path: Path) -> None:
    images, labels = blob_images(400, 1)
    dark = [
        (image * 0.4).astype(np.uint8) if i % 4 == 0 else image for i, image in enumerate(images)
    ]
    cases = _run(tmp_path, blob_images(300, 0), (dark, labels), model=DARK_BLIND)
    gap = next(c for c in cases if c.test_id == GAP and c.features == ("brightness",))
    assert gap.severity == Severity.HIGH, gap.description
    assert str(gap.metrics["worst_subset"]).startswith("<")
    size = gap.metrics["worst_subset_size"]
    assert isinstance(size, int) and size >= 100  # the 100 dark images and the darkest others
    # the subset's accuracy: right on (about) the normal rows of the bin only
    subset_accuracy = gap.metrics["worst_subset_metric"]
    assert isinstance(subset_accuracy, float)
    assert subset_accuracy == pytest.approx((size - 100) / size, abs=0.05)
    # without dark eval images the same model is fine
    clean = _run(tmp_path / "clean", blob_images(300, 0), blob_images(300, 1), model=DARK_BLIND)
    assert all(c.severity in (Severity.NONE, Severity.LOW) for c in clean)


def test_degradation_needs_the_subset_in_ref(tmp_path: Path) -> None:
    ref_images, ref_labels = blob_images(300, 0)
    images, labels = blob_images(300, 1)
    # the darkest ref fifth turns darker in eval, where the model fails
    ref_dark = np.argsort([image.mean() for image in ref_images])[:60]
    darker = [
        (image * 0.4).astype(np.uint8) if i % 3 == 0 else image for i, image in enumerate(images)
    ]
    cases = _run(tmp_path, (ref_images, ref_labels), (darker, labels), model=DARK_BLIND)
    drop = next(c for c in cases if c.test_id == DROP and c.features == ("brightness",))
    assert drop.status != Status.SKIP and ref_dark.size == 60
    assert drop.severity == Severity.HIGH, drop.description
    assert drop.metrics["worst_subset_ref_metric"] > 0.9  # type: ignore[operator]


def test_label_subsets_and_edges(tmp_path: Path) -> None:
    cases = _run(tmp_path, blob_images(40, 0), blob_images(40, 1))
    assert cases and all(c.status == Status.SKIP for c in cases)  # no subset of 50 rows
    assert any("min_subset_size=50" in c.description for c in cases)
