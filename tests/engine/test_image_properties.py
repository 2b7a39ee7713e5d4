"""Image properties against independent computations (scipy.ndimage, numpy by hand)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from pytest_rime.engine.image_properties import (
    PROPERTIES,
    colourfulness,
    grey,
    image_properties,
    sharpness,
)


def test_sharpness_is_scipys_laplacian_variance_over_the_image_variance() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 24)).astype(np.uint8)
    values = image.astype(float)
    expected = ndimage.laplace(values)[1:-1, 1:-1].var() / values.var()
    assert sharpness(image) == pytest.approx(expected)
    blurred = ndimage.gaussian_filter(values, 1.5).astype(np.uint8)
    assert sharpness(blurred) < sharpness(image) / 4
    darker = (values * 0.35).round().astype(np.uint8)
    assert sharpness(darker) == pytest.approx(sharpness(image), rel=0.02)
    assert sharpness(np.zeros((2, 2), np.uint8)) == 0.0
    assert sharpness(np.full((5, 5), 7, np.uint8)) == 0.0


def test_colourfulness_follows_hasler_and_susstrunk() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (10, 10, 3)).astype(np.uint8)
    r, g, b = (image[:, :, i].astype(float) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    expected = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(
        rg.mean() ** 2 + yb.mean() ** 2
    )
    assert colourfulness(image) == pytest.approx(expected)
    assert colourfulness(image[:, :, 0]) == 0.0
    grey_rgb = np.repeat(image[:, :, :1], 3, axis=2)
    assert colourfulness(grey_rgb) == pytest.approx(0.0)


def test_properties_of_one_image() -> None:
    image = np.full((4, 8, 3), (200, 100, 50), dtype=np.uint8)
    found = image_properties(image)
    assert set(found) == set(PROPERTIES)
    assert found["brightness"] == pytest.approx(grey(image).mean())
    assert found["brightness"] == pytest.approx(0.299 * 200 + 0.587 * 100 + 0.114 * 50)
    assert found["contrast"] == pytest.approx(0.0)
    assert (found["height"], found["width"], found["aspect_ratio"]) == (4.0, 8.0, 2.0)
    assert (found["channels"], found["mean_red"], found["mean_blue"]) == (3.0, 200.0, 50.0)
    assert image_properties(np.zeros((3, 3), np.uint8))["channels"] == 1.0
