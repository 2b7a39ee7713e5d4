"""Image Transformations: healthy models pass, brittle ones fail, HIGH only when eval shows it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import run_one
from image_data import blob_images, digit_images, write_image_run, write_images
from image_models import Images, decode_thumbnail, image_context, only, random_split
from scipy import stats

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.errors import ConfigError
from pytest_rime.engine.image_perturb import gaussian_blur, horizontal_flip
from pytest_rime.engine.results import Severity, Status, TestCaseResult
from pytest_rime.engine.run import load_context
from pytest_rime.engine.tests.image_transformations import (
    IMAGE_TRANSFORMATIONS,
    flip_class_swap,
    flip_exposure,
    jpeg_exposure,
    looks_mirrored,
    property_exposure,
)
from pytest_rime.engine.validation import validate_config

ALL = tuple(f"transformations.{spec.slug}" for spec in IMAGE_TRANSFORMATIONS)
BLUR = "transformations.image_gaussian_blur"
HFLIP = "transformations.image_horizontal_flip"
VFLIP = "transformations.image_vertical_flip"
BRIGHTNESS = "transformations.image_brightness"
JITTER = "transformations.image_colour_jitter"

LEFT_HALF_MODEL = """
import numpy as np

def predict_batch(images):
    out = []
    for image in images:
        a = np.asarray(image, dtype=float)
        a = a.mean(axis=2) if a.ndim == 3 else a
        h, w = a.shape
        left = a[:, : w // 2]
        out.append(1 / (1 + np.exp(-(left[h // 2 :].mean() - left[: h // 2].mean()) / 2)))
    return np.asarray(out)
"""
"""Class 1 when the left half is brighter at the bottom: blind to the right half."""

BLUR_SENSITIVE_MODEL = """
import numpy as np

def predict_batch(images):
    out = []
    for image in images:
        a = np.asarray(image, dtype=float)
        h = a.shape[0]
        lap = a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] - 4 * a[1:-1, 1:-1]
        p = 1 / (1 + np.exp(-(a[h // 2 :].mean() - a[: h // 2].mean()) / 2))
        out.append(p if lap.var() > 3000 else 1 - p)
    return np.asarray(out)
"""
"""Blob position, inverted on blurred images (Laplacian variance below 3000)."""

BRIGHT_CRASH_MODEL = """
import numpy as np

def predict_batch(images):
    if any(np.asarray(image, dtype=float).mean() > 120 for image in images):
        raise ValueError("overexposed image")
    grey = [np.asarray(i, dtype=float) for i in images]
    return np.asarray([float(a[8:].mean() > a[:8].mean()) for a in grey])
"""


def oriented_images(rows: int, seed: int) -> Images:
    """16x16 grey: a bright bar on the left edge and a blob in the left half, top (0) or bottom (1).

    A horizontal flip moves both to the right half: the label (top / bottom) is kept, but a
    model reading the left half sees nothing.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, rows)
    images = []
    for label in labels:
        image = rng.normal(40, 15, (16, 16))
        image[:, :2] += 100
        row = int(rng.integers(1, 4)) + (8 if label else 0)
        column = int(rng.integers(2, 5))
        image[row : row + 4, column : column + 4] += 160
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return images, labels


def colour_blobs(rows: int, seed: int) -> Images:
    """Blob images in colour: a red blob on a blue-green background."""
    images, labels = blob_images(rows, seed)
    coloured = [
        np.stack([image, image // 2 + 30, 255 - image // 2], axis=2).astype(np.uint8)
        for image in images
    ]
    return coloured, labels


def run_all(ctx: RunContext, test_ids: tuple[str, ...] = ALL) -> dict[str, TestCaseResult]:
    return {test_id: only(run_one(ctx, test_id)) for test_id in test_ids}


# ----------------------------------------------------------------------- healthy: no HIGH
@pytest.mark.parametrize("seed", [0, 1])
def test_healthy_blob_model_on_clean_splits_has_no_high_and_one_call_per_test(
    tmp_path: Path, seed: int
) -> None:
    ref, cur = random_split(blob_images(400, seed), seed)
    ctx = image_context(tmp_path, ref, cur)
    assert ctx.model is not None
    only(run_one(ctx, BLUR))  # draws the shared sample (one call on the unperturbed images)
    for test_id in ALL:
        calls = ctx.model.n_calls
        case = only(run_one(ctx, test_id))
        assert case.severity is not Severity.HIGH, case
        if case.status is not Status.SKIP:
            assert ctx.model.n_calls - calls == 1, test_id  # every strength in one call
            assert case.metrics["predict_calls"] == 1
        if test_id not in (VFLIP, JITTER):  # a vertical flip swaps top and bottom blobs
            assert case.severity in (Severity.NONE, Severity.LOW), case
    vflip = only(run_one(ctx, VFLIP))
    assert vflip.metrics["decision_change_rate"] > 0.9
    assert vflip.severity is Severity.LOW and "another class" in vflip.description


@pytest.mark.parametrize("seed", [0, 1])
def test_healthy_digits_model_on_clean_splits_has_no_high(tmp_path: Path, seed: int) -> None:
    ref, cur = random_split(digit_images(), seed)
    ctx = image_context(tmp_path, ref, cur)
    cases = run_all(ctx)
    for case in cases.values():
        assert case.severity is not Severity.HIGH, case
        assert case.metrics.get("exposed") is not True, case
    medium = {t for t, c in cases.items() if c.severity is Severity.MEDIUM}
    assert medium <= {HFLIP, VFLIP, "transformations.image_translation"}, medium


def test_colour_jitter_skips_grey_images_and_runs_on_colour(tmp_path: Path) -> None:
    grey_ctx = image_context(tmp_path / "grey", blob_images(60, 0), blob_images(60, 1))
    grey = only(run_one(grey_ctx, JITTER))
    assert grey.status is Status.SKIP and "colour images only" in grey.description
    ctx = image_context(tmp_path / "colour", colour_blobs(100, 0), colour_blobs(100, 1))
    case = only(run_one(ctx, JITTER))
    assert case.status is not Status.SKIP
    assert case.metrics["images_perturbed"] == 100
    assert [row["strength"] for row in case.metrics["by_strength"]] == [1, 2, 3, 4, 5]
    assert case.severity is not Severity.HIGH


# -------------------------------------------------------------------- flips: planted fault
def test_flip_sensitive_model_is_high_when_eval_holds_flipped_images(tmp_path: Path) -> None:
    images, labels = oriented_images(200, 1)
    flipped = [horizontal_flip(im, 1, np.random.default_rng(0)) if i % 5 < 2 else im
               for i, im in enumerate(images)]  # fmt: skip
    ctx = image_context(tmp_path, oriented_images(300, 0), (flipped, labels), LEFT_HALF_MODEL)
    case = only(run_one(ctx, HFLIP))
    assert case.status is Status.FAIL and case.severity is Severity.HIGH, case
    assert case.metrics["exposed"] is True
    assert case.metrics["eval_exposure"] == pytest.approx(0.4, abs=0.02)
    assert case.metrics["decision_change_rate"] > 0.3
    assert case.metrics["p_value"] < 1e-10
    examples = case.metrics["examples"]
    assert 1 <= len(examples) <= 3
    first = examples[0]
    original = decode_thumbnail(first["original"])
    assert original.shape == (16, 16)
    assert np.array_equal(decode_thumbnail(first["perturbed"]), original[:, ::-1])
    assert first["prediction_before"] != first["prediction_after"]
    assert isinstance(first["row"], int)


def test_flip_sensitive_model_is_capped_at_medium_when_eval_is_not_flipped(
    tmp_path: Path,
) -> None:
    ctx = image_context(tmp_path, oriented_images(300, 0), oriented_images(200, 1), LEFT_HALF_MODEL)
    case = only(run_one(ctx, HFLIP))
    assert case.status is Status.FAIL and case.severity is Severity.MEDIUM, case
    assert case.metrics["exposed"] is False
    assert "Capped at MEDIUM" in case.description and "hypothetical" in case.description
    assert case.metrics["flip_class_swap_share"] == 0.0  # the flip keeps top / bottom


def test_flip_exposure_against_scipy_fisher_and_brute_force(tmp_path: Path) -> None:
    images, labels = oriented_images(120, 1)
    flipped = [im[:, ::-1].copy() if i < 30 else im for i, im in enumerate(images)]
    ctx = image_context(tmp_path, oriented_images(200, 0), (flipped, labels), LEFT_HALF_MODEL)
    measure = flip_exposure(ctx, axis=1)
    assert measure.share == pytest.approx(30 / 120, abs=0.02)
    split = ctx.rng("images.orientation_split").permutation(200)
    ref = np.stack([im.astype(float) for im in oriented_images(200, 0)[0]])
    known, held = ref[split[:100]], ref[split[100:]]
    template = known.mean(axis=0)
    by_hand = sum(
        np.corrcoef(im.ravel(), template[:, ::-1].ravel())[0, 1]
        > np.corrcoef(im.ravel(), template.ravel())[0, 1]
        for im in held
    )
    assert measure.baseline == pytest.approx(by_hand / 100)
    hits = round(measure.share * 120)
    table = [[hits, 120 - hits], [by_hand, 100 - by_hand]]
    assert measure.p_value == pytest.approx(stats.fisher_exact(table, alternative="greater")[1])
    assert measure.exposed
    assert flip_exposure(ctx, axis=0).exposed is False  # nothing is upside down
    constant = np.zeros((2, 16, 16))
    assert not looks_mirrored(constant, template, 1).any()


def test_vertical_flip_of_top_bottom_blobs_swaps_classes(tmp_path: Path) -> None:
    ctx = image_context(tmp_path, blob_images(200, 0), blob_images(100, 1))
    assert flip_class_swap(ctx, axis=0) == 1.0
    assert flip_class_swap(ctx, axis=1) == 0.0


# --------------------------------------------------------------------- blur: planted fault
def _blurred_eval(rows: int, seed: int, share: float) -> Images:
    images, labels = blob_images(rows, seed)
    cut = int(rows * share)
    blurred = [gaussian_blur(im, 3, np.random.default_rng(0)) for im in images[:cut]]
    return blurred + images[cut:], labels


def test_blurred_eval_with_blur_sensitive_model_is_high(tmp_path: Path) -> None:
    ctx = image_context(
        tmp_path, blob_images(300, 0), _blurred_eval(200, 1, 0.2), BLUR_SENSITIVE_MODEL
    )
    case = only(run_one(ctx, BLUR))
    assert case.severity is Severity.HIGH, case
    assert case.metrics["exposed"] is True
    assert case.metrics["eval_exposure"] == pytest.approx(0.2, abs=0.03)
    rates = [row["decision_change_rate"] for row in case.metrics["by_strength"]]
    assert rates[0] < 0.05 < 0.5 < rates[1]  # strength 1 keeps it sharp, 2+ do not
    assert case.metrics["judged_strength"] == 2  # the worst up to 3, ties to the lower
    assert case.metrics["examples"][0]["strength"] == 2
    assert "strengths 1-5" in case.description


def test_blur_sensitive_model_on_sharp_eval_is_capped_at_medium(tmp_path: Path) -> None:
    ctx = image_context(tmp_path, blob_images(300, 0), blob_images(200, 1), BLUR_SENSITIVE_MODEL)
    case = only(run_one(ctx, BLUR))
    assert case.status is Status.FAIL and case.severity is Severity.MEDIUM
    assert case.metrics["exposed"] is False and "sharpness below" in case.description


def test_statistics_against_scipy(tmp_path: Path) -> None:
    ctx = image_context(
        tmp_path, blob_images(300, 0), _blurred_eval(200, 1, 0.2), BLUR_SENSITIVE_MODEL
    )
    case = only(run_one(ctx, BLUR))
    for row in case.metrics["by_strength"]:
        flips, n = row["decisions_changed"], row["images"]
        expected = stats.binomtest(flips, n, 0.05, alternative="greater").pvalue
        assert row["flip_p_value"] == pytest.approx(expected)
    judged = next(r for r in case.metrics["by_strength"] if r["strength"] == 2)
    assert case.metrics["p_value"] == pytest.approx(min(1.0, 3 * judged["flip_p_value"]))
    # McNemar by brute force: rebuild the same images and predictions
    sample_rows = case.metrics["images_perturbed"]
    assert sample_rows == 200
    worse, better = case.metrics["rows_worse"], case.metrics["rows_better"]
    discordant = worse + better
    assert case.metrics["mcnemar_p_value"] == pytest.approx(
        stats.binomtest(worse, discordant, 0.5, alternative="greater").pvalue
    )
    assert case.metrics["accuracy_drop"] == pytest.approx((worse - better) / 200)
    # sharpness exposure: share below the reference minimum, binomial against 1 / (n + 1)
    ref = property_exposure(ctx, "sharpness", "below")
    assert ref.baseline == pytest.approx(1 / 301)
    assert ref.p_value == pytest.approx(
        stats.binomtest(40, 200, 1 / 301, alternative="greater").pvalue
    )


# --------------------------------------------------------------------------- edge cases
def test_a_model_raising_on_corrupted_images_is_a_capped_failure(tmp_path: Path) -> None:
    ctx = image_context(tmp_path, blob_images(100, 0), blob_images(80, 1), BRIGHT_CRASH_MODEL)
    case = only(run_one(ctx, BRIGHTNESS))
    assert case.status is Status.FAIL and case.severity is Severity.MEDIUM
    assert case.metrics["model_error"].startswith("ValueError")
    assert "overexposed image" in case.description


def test_unreadable_images_are_left_out(tmp_path: Path) -> None:
    run = write_image_run(tmp_path, blob_images(100, 0), blob_images(60, 1))
    (tmp_path / "eval" / "0.png").write_text("not an image")
    config = validate_config(run.config(tests_config={BLUR: {"sample_size": 1000}}))
    ctx, _ = load_context(config, log=lambda _line: None)
    case = only(run_one(ctx, BLUR))
    assert case.metrics["images_perturbed"] == 59
    assert case.metrics["images_not_perturbed"] == 1


def test_a_judged_strength_outside_1_to_5_is_refused_by_validation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"judged_strength: expected a number in \[1, 5\]"):
        image_context(
            tmp_path,
            blob_images(60, 0),
            blob_images(40, 1),
            tests_config={BLUR: {"judged_strength": 9}},
        )


def test_runs_without_labels_and_reports_no_accuracy(tmp_path: Path) -> None:
    run = write_image_run(tmp_path, blob_images(80, 0), blob_images(50, 1))
    raw = run.config()
    del raw["data_info"]["label_col"]
    (tmp_path / "model.py").write_text(textwrap.dedent(BLUR_SENSITIVE_MODEL))
    raw["model_info"] = {"path": str(tmp_path / "model.py")}
    ctx, _ = load_context(validate_config(raw), log=lambda _line: None)
    case = only(run_one(ctx, BLUR))
    assert case.status is Status.FAIL and case.severity is Severity.MEDIUM
    assert "accuracy_before" not in case.metrics
    assert "accuracy_before" not in case.metrics["by_strength"][0]
    assert case.metrics["p_value"] < 1e-6


def test_brightness_and_jpeg_exposure(tmp_path: Path) -> None:
    images, labels = blob_images(100, 1)
    darker = [(im // 3).astype(np.uint8) if i < 10 else im for i, im in enumerate(images)]
    ctx = image_context(tmp_path / "dark", blob_images(150, 0), (darker, labels))
    dark = property_exposure(ctx, "brightness", "outside")
    assert dark.share == pytest.approx(0.1) and dark.baseline == pytest.approx(2 / 151)
    assert dark.exposed
    assert not property_exposure(ctx, "sharpness", "above").exposed
    case = only(run_one(ctx, BRIGHTNESS))
    assert case.metrics["exposed"] is True  # a robust model: exposed but nothing changes
    assert case.severity is Severity.NONE
    folder = tmp_path / "jpeg"
    run = write_image_run(folder, blob_images(60, 0), blob_images(40, 1))
    write_images(folder, "eval", *blob_images(40, 1), suffix=".jpg")
    ctx, _ = load_context(validate_config(run.config()), log=lambda _line: None)
    exposed = jpeg_exposure(ctx)
    assert (exposed.share, exposed.baseline, exposed.p_value) == (1.0, 0.0, 0.0)
    assert exposed.exposed
    png = image_context(tmp_path / "png", *random_split(blob_images(60, 2), 0))
    assert not jpeg_exposure(png).exposed


PARITY_MODEL = """
import numpy as np

def predict_batch(images):
    out = []
    for image in images:
        a = np.asarray(image, dtype=float)
        a = a.mean(axis=2) if a.ndim == 3 else a
        h = a.shape[0]
        p = 1 / (1 + np.exp(-(a[h // 2 :].mean() - a[: h // 2].mean()) / 2))
        odd = bool(np.any(np.asarray(image, dtype=np.int64) % 2))
        out.append(1 - p if odd else p)
    return np.asarray(out)
"""
"""Blob position, inverted on any image holding an odd pixel value (the data holds none)."""


def _even(data: Images) -> Images:
    return [(image // 2 * 2).astype(np.uint8) for image in data[0]], data[1]


@pytest.mark.parametrize(
    "test_id", [t for t in ALL if t not in (HFLIP, VFLIP)], ids=lambda t: t.split(".")[1]
)
def test_every_corruption_fails_a_model_it_breaks_capped_at_medium(
    tmp_path: Path, test_id: str
) -> None:
    ref, cur = _even(colour_blobs(80, 0)), _even(colour_blobs(60, 1))
    ctx = image_context(tmp_path, ref, cur, PARITY_MODEL)
    case = only(run_one(ctx, test_id))
    assert case.status is Status.FAIL, case
    assert case.metrics["decision_change_rate"] > 0.8
    assert case.severity is Severity.MEDIUM and "Capped at MEDIUM" in case.description
    assert len(case.metrics["examples"]) == 3
    assert case.metrics["p_value"] < 1e-10
