"""Abnormal Inputs tests of images (``pytest_rime.engine.tests.image_abnormal_inputs``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from image_data import blob_images, digit_images, write_image_run
from image_models import (
    Images,
    assert_at_most_low,
    category_cases,
    decode_thumbnail,
    image_cases,
    quiet,
    random_split,
)
from scipy import stats

from pytest_rime.engine.results import Severity, Status, TestCaseResult
from pytest_rime.engine.run import run_stress_test

CATEGORY = "Abnormal Inputs"

# A model that crops or pads every image to 16x16 at the top left (no resizing).
CROPPING_MODEL = """
import joblib
import numpy as np
MODEL = joblib.load({path!r})
def predict_batch(images):
    rows = []
    for image in images:
        grey = image.mean(axis=2) if image.ndim == 3 else image.astype(float)
        canvas = np.zeros((16, 16))
        h, w = min(16, grey.shape[0]), min(16, grey.shape[1])
        canvas[:h, :w] = grey[:h, :w]
        rows.append(canvas.ravel())
    return MODEL.predict_proba(np.stack(rows))
"""


# A model whose input stage saturates at grey level 120 (washed-out images lose their blob).
SATURATING_MODEL = """
import joblib
import numpy as np
MODEL = joblib.load({path!r})
def predict_batch(images):
    rows = [np.minimum(image.astype(float), 120).ravel() * 2 for image in images]
    return MODEL.predict_proba(np.stack(rows))
"""


def _run(folder: Path, ref: Images, cur: Images, model: str | None = None) -> list[TestCaseResult]:
    return category_cases(folder, ref, cur, CATEGORY, model)


def _case(cases: list[TestCaseResult], test_id: str, feature: str) -> TestCaseResult:
    return next(c for c in cases if c.test_id == test_id and feature in c.features)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_blob_splits_are_at_most_low(tmp_path: Path, seed: int) -> None:
    cases = _run(tmp_path, blob_images(200, seed), blob_images(200, seed + 100))
    assert {c.test_id for c in cases} == {
        "abnormal_inputs.image_blank",
        "abnormal_inputs.image_unreadable",
        "abnormal_inputs.image_size",
        "abnormal_inputs.image_extreme_properties",
    }
    assert_at_most_low(cases)


@pytest.mark.parametrize("seed", [0, 1])
def test_clean_digit_splits_are_at_most_low(tmp_path: Path, seed: int) -> None:
    ref, cur = random_split(digit_images(), seed)
    cases = _run(tmp_path, ref, cur)
    assert_at_most_low(cases)


def test_ten_percent_blank_images_are_high_with_thumbnails(tmp_path: Path) -> None:
    images, labels = blob_images(200, 1)
    blank = list(images)
    for row in range(0, 200, 10):
        blank[row] = np.full((16, 16), 40, dtype=np.uint8)
    cases = _run(tmp_path, blob_images(200, 0), (blank, labels))
    case = _case(cases, "abnormal_inputs.image_blank", "contrast")
    assert case.severity == Severity.HIGH and case.status == Status.FAIL
    assert case.metrics["failing_fraction"] == pytest.approx(0.1)
    assert case.metrics["num_failing_rows"] == 20
    # the p-value is the exact binomial test against the reference's own rate (1 / 202)
    expected = stats.binomtest(20, 200, 1 / 202, alternative="greater").pvalue
    assert case.metrics["p_value"] == pytest.approx(expected, rel=1e-6)
    examples = case.metrics["examples"]
    assert isinstance(examples, list) and len(examples) == 3
    first = examples[0]
    assert isinstance(first, dict) and first["row"] == 0 and first["file"] == "0.png"
    assert isinstance(first["original"], str)
    assert np.all(decode_thumbnail(first["original"]) == 40)
    # blank images are left to Blank Images, not counted again as extreme
    extreme = [c for c in cases if c.test_id == "abnormal_inputs.image_extreme_properties"]
    assert all(c.severity in (Severity.NONE, Severity.LOW) for c in extreme)


def test_unreadable_files_are_reported_and_the_run_finishes(tmp_path: Path) -> None:
    ref, cur = blob_images(200, 0), blob_images(200, 1)
    run = write_image_run(tmp_path, ref, cur)
    folder = tmp_path / "eval"
    for row in range(30):
        path = folder / f"{row}.png"
        if row % 3 == 0:
            path.unlink()
        elif row % 3 == 1:
            path.write_bytes(path.read_bytes()[:40])
        else:
            path.write_text("not an image")
    result = run_stress_test(run.config(), log=quiet)
    cases = [c for b in result.batches for c in b.cases]
    assert not [c for c in cases if c.status == Status.ERROR]
    case = _case(cases, "abnormal_inputs.image_unreadable", "image")
    assert case.severity == Severity.HIGH
    assert case.metrics["num_failing_rows"] == 30
    files = case.metrics["unreadable_files"]
    assert isinstance(files, list) and len(files) == 20
    assert {f["file"] for f in files if isinstance(f, dict)} >= {"0.png", "1.png", "2.png"}
    assert "0.png" in case.description
    errors = [f["error"] for f in files if isinstance(f, dict)]
    assert any("FileNotFoundError" in str(e) for e in errors)
    assert all(e for e in errors)
    # the model scored them as black images: it loses most of its skill there
    assert case.importance_score >= 0.3


def test_images_of_a_new_size_are_high(tmp_path: Path) -> None:
    images, labels = blob_images(200, 1)
    bigger = list(images)
    for row in range(0, 200, 4):  # 25 %: twice as large (the cropping model sees a corner)
        bigger[row] = np.kron(images[row], np.ones((2, 2), dtype=np.uint8))
    cases = _run(tmp_path, blob_images(200, 0), (bigger, labels), model=CROPPING_MODEL)
    size = _case(cases, "abnormal_inputs.image_size", "height")
    assert size.features == ("height", "width")
    assert size.severity == Severity.HIGH
    assert size.metrics["unseen_values"] == ["32x32"]
    assert size.metrics["num_failing_rows"] == 50
    # resized back to 16x16, the model changes its mind on many of them
    prediction_change = size.metrics["prediction_change"]
    assert isinstance(prediction_change, float) and prediction_change > 0.2
    channels = _case(cases, "abnormal_inputs.image_size", "channels")
    assert channels.severity == Severity.NONE


def test_colour_images_against_grey_ref_are_flagged(tmp_path: Path) -> None:
    images, labels = blob_images(100, 1)
    colour = [
        np.repeat(image[:, :, None], 3, axis=2) if i < 20 else image
        for i, image in enumerate(images)
    ]
    cases = _run(tmp_path, blob_images(100, 0), (colour, labels), model=CROPPING_MODEL)
    channels = _case(cases, "abnormal_inputs.image_size", "channels")
    assert channels.metrics["num_failing_rows"] == 20
    assert channels.metrics["unseen_values"] == ["3"]
    # the cropping model averages the channels: converting to grey changes nothing
    assert channels.importance_score < 0.1
    assert channels.severity == Severity.LOW


def test_extreme_brightness_with_a_model_that_fails_on_it_is_high(tmp_path: Path) -> None:
    images, labels = blob_images(200, 1)
    bright = list(images)
    for row in range(0, 200, 5):  # 20 %: washed out
        bright[row] = np.clip(images[row].astype(int) + 150, 0, 255).astype(np.uint8)
    cases = _run(tmp_path, blob_images(200, 0), (bright, labels), model=SATURATING_MODEL)
    brightness = _case(cases, "abnormal_inputs.image_extreme_properties", "brightness")
    assert brightness.metrics["num_failing_rows"] == 40
    assert brightness.severity == Severity.HIGH, brightness.description
    low, high = brightness.metrics["ref_range"]  # type: ignore[misc]
    ref_brightness = [float(np.mean(i)) for i in blob_images(200, 0)[0]]
    assert (low, high) == pytest.approx((min(ref_brightness), max(ref_brightness)))
    # moved back to the reference median brightness, the model reads the blob again
    assert brightness.metrics["prediction_change"] > 0.3  # type: ignore[operator]


def test_no_labels_and_empty_flags_edge(tmp_path: Path) -> None:
    run = write_image_run(tmp_path, blob_images(60, 0), blob_images(60, 1))
    table = pd.read_csv(run.eval_path).drop(columns=["label"])
    table.loc[0, "image"] = "eval/missing.png"
    table.to_csv(run.eval_path, index=False)
    cases = image_cases(run, lambda spec: spec.category == CATEGORY)
    unreadable = _case(cases, "abnormal_inputs.image_unreadable", "image")
    assert unreadable.metrics["num_failing_rows"] == 1
    # without labels the impact is the prediction change against random reference images
    assert "prediction_change" in unreadable.metrics
    assert all(c.status != Status.ERROR for c in cases)
