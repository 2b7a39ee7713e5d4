"""Image Square Attack: flips a fragile model within the budget, not a robust one; batched."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import run_one
from image_data import blob_images, digit_images
from image_models import decode_thumbnail, image_context, only, random_split
from scipy import stats

from pytest_rime.engine.errors import ConfigError
from pytest_rime.engine.results import Severity, Status
from pytest_rime.engine.tests.image_attacks import margins, window_share

ATTACK = "attacks.image_square_attack"

FRAGILE_MODEL = """
import numpy as np

def predict_batch(images):
    means = np.asarray([np.asarray(i, dtype=float).mean() for i in images])
    return 1 / (1 + np.exp(-(means - 50.0)))
"""
"""Class 1 when the mean grey level exceeds 50: every blob image sits within a few levels."""

ROBUST_MODEL = """
import numpy as np

def predict_batch(images):
    out = []
    for image in images:
        a = np.asarray(image, dtype=float)
        out.append(0.95 if a[8:].max() > a[:8].max() else 0.05)
    return np.asarray(out)
"""
"""Class 1 when the brightest pixel is in the bottom half: a blob (+160) outshines 8 levels."""

CRASH_MODEL = """
import numpy as np

def predict_batch(images):
    if any(np.asarray(i, dtype=int).max() == 255 for i in images):
        raise RuntimeError("saturated pixel")
    grey = [np.asarray(i, dtype=float) for i in images]
    return np.asarray([0.5 + 0.1 * np.sign(a[8:].mean() - a[:8].mean()) for a in grey])
"""
"""Blob position; raises on a saturated (255) pixel."""


def test_attack_flips_a_fragile_model_and_reports_rate_queries_and_examples(
    tmp_path: Path,
) -> None:
    ctx = image_context(tmp_path, blob_images(100, 0), blob_images(60, 1), FRAGILE_MODEL)
    assert ctx.model is not None
    calls = ctx.model.n_calls
    case = only(run_one(ctx, ATTACK))
    used = ctx.model.n_calls - calls
    m = case.metrics
    assert case.status is Status.FAIL
    assert case.severity is Severity.MEDIUM and "max_severity" in case.description
    assert m["images_attacked"] == 30 and m["attack_success_rate"] > 0.8
    assert m["epsilon"] == pytest.approx(8 / 255) and m["epsilon_grey_levels"] == 8
    assert 1 <= m["mean_queries_successful"] <= 200
    assert m["queries_used"] <= 30 * 200
    # one call per round (all images' candidates batched) plus the sample's own call
    assert used == m["predict_calls"] + 1
    assert m["predict_calls"] <= 1 + 200 // 4 + 1
    expected = stats.binomtest(m["successful_attacks"], 30, 0.2, alternative="greater").pvalue
    assert m["p_value"] == pytest.approx(expected)
    example = m["examples"][0]
    original = decode_thumbnail(example["original"])
    attacked = decode_thumbnail(example["perturbed"])
    assert original.shape == attacked.shape == (16, 16)
    change = np.abs(original.astype(int) - attacked.astype(int)).max()
    assert 0 < change <= 8 and example["max_pixel_change"] == change
    assert example["prediction_before"] != example["prediction_after"]


def test_attack_on_a_robust_model_passes_and_spends_the_whole_budget(tmp_path: Path) -> None:
    ctx = image_context(
        tmp_path,
        blob_images(100, 0),
        blob_images(60, 1),
        ROBUST_MODEL,
        tests_config={ATTACK: {"sample_size": 10, "max_queries": 40}},
    )
    case = only(run_one(ctx, ATTACK))
    m = case.metrics
    assert case.status is Status.PASS and case.severity is Severity.NONE
    assert m["successful_attacks"] == 0 and m["mean_queries_successful"] is None
    assert m["queries_used"] == 10 * 40
    assert m["examples"] == []
    assert m["predict_calls"] == 1 + (40 - 1 + 3) // 4  # stripes, then rounds of 4


@pytest.mark.parametrize("seed", [0, 1])
def test_healthy_models_on_clean_splits_are_not_high(tmp_path: Path, seed: int) -> None:
    for name, data in (("blob", blob_images(300, seed)), ("digits", digit_images())):
        ref, cur = random_split(data, seed)
        ctx = image_context(tmp_path / name, ref, cur)
        case = only(run_one(ctx, ATTACK))
        assert case.severity is not Severity.HIGH, case
        assert case.status is not Status.ERROR


def test_the_attack_is_deterministic_and_max_severity_can_lift_the_cap(tmp_path: Path) -> None:
    config = {ATTACK: {"max_severity": "HIGH", "sample_size": 20}}
    first = image_context(
        tmp_path / "a", blob_images(80, 0), blob_images(40, 1), FRAGILE_MODEL, tests_config=config
    )
    second = image_context(
        tmp_path / "b", blob_images(80, 0), blob_images(40, 1), FRAGILE_MODEL, tests_config=config
    )
    one, two = only(run_one(first, ATTACK)), only(run_one(second, ATTACK))
    assert one.metrics["queries_used"] == two.metrics["queries_used"]
    assert one.metrics["examples"] == two.metrics["examples"]
    assert one.severity is Severity.HIGH


def test_a_model_raising_on_attacked_images_is_a_capped_failure(tmp_path: Path) -> None:
    images, labels = blob_images(40, 1)
    images = [np.minimum(im, 250) for im in images]
    for image in images:
        image[0, 0] = 250  # +8 levels: 255 after clipping, the model raises
    ctx = image_context(tmp_path, blob_images(60, 0), (images, labels), CRASH_MODEL)
    case = only(run_one(ctx, ATTACK))
    assert case.status is Status.FAIL and case.severity is Severity.MEDIUM
    assert "saturated pixel" in case.description


def test_bad_parameters_are_refused_by_validation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"epsilon: expected a number in \(0, 1\]"):
        image_context(
            tmp_path,
            blob_images(40, 0),
            blob_images(20, 1),
            tests_config={ATTACK: {"epsilon": 8}},
        )


def test_margins_and_the_square_schedule() -> None:
    binary = margins(np.array([0.9, 0.2, 0.6]), np.array([1, 0, 0]))
    assert binary == pytest.approx([0.8, 0.6, -0.2])
    multi = margins(np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]]), np.array([0, 0]))
    assert multi == pytest.approx([0.2, -0.5])
    labels = margins(np.array(["a", "b"]), np.array(["a", "a"]))
    assert labels == pytest.approx([1.0, -1.0])
    shares = [window_share(0.1, q, 200) for q in range(200)]
    assert shares[0] == 0.1 and shares[-1] == pytest.approx(0.1 / 2**9)
    assert all(a >= b for a, b in itertools.pairwise(shares))


def test_the_image_tests_are_registered_for_images_only() -> None:
    from pytest_rime.engine.catalog import all_tests

    images = {spec.test_id: spec for spec in all_tests("images")}
    tabular = {spec.test_id for spec in all_tests("tabular")}
    ours = [t for t in images if t.startswith(("transformations.image_", "attacks.image_"))]
    assert len(ours) == 14 and not set(ours) & tabular
    assert images[ATTACK].category == "Attacks"
    assert all(images[t].needs_model and images[t].func.__doc__ for t in ours)
