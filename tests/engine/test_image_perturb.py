"""Image corruptions: each does what its name says, grows with strength, keeps shape and dtype."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from image_data import blob_images
from PIL import Image
from scipy import ndimage

from pytest_rime.engine import image_perturb as perturb
from pytest_rime.engine.image_properties import colourfulness, grey, sharpness

GRADED = (
    perturb.gaussian_blur,
    perturb.gaussian_noise,
    perturb.shot_noise,
    perturb.brightness,
    perturb.contrast,
    perturb.colour_jitter,
    perturb.jpeg_compression,
    perturb.pixelate,
    perturb.rotation,
    perturb.translation,
    perturb.randomize_pixels,
)
ALL = (*GRADED, perturb.horizontal_flip, perturb.vertical_flip)


def _colour(seed: int = 0, size: int = 24) -> np.ndarray:
    """A smooth colour picture: gradients per channel, a bright square, mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    image = np.stack([200 * x, 180 * y, 120 * (1 - x)], axis=2) + 30
    image[size // 4 : size // 2, size // 3 : size // 2 + 3] += 60
    return np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)


def _grey() -> np.ndarray:
    return blob_images(1, 3)[0][0]


def _mean_abs_change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def _rng(seed: int = 7) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize("corruption", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize("image", [_grey(), _colour()], ids=["grey", "colour"])
def test_shape_dtype_kept_input_untouched_and_seeded(
    corruption: perturb.ImagePerturbation, image: np.ndarray
) -> None:
    copy = image.copy()
    for strength in perturb.STRENGTHS:
        first = corruption(image, strength, _rng())
        assert first.shape == image.shape and first.dtype == np.uint8
        assert np.array_equal(first, corruption(image, strength, _rng()))
    assert np.array_equal(image, copy)


@pytest.mark.parametrize("corruption", GRADED, ids=lambda f: f.__name__)
def test_graded_corruptions_change_more_with_strength(
    corruption: perturb.ImagePerturbation,
) -> None:
    """Mean change over images and seeds grows from strength 1 to 5 (and 1 < 3 < 5)."""
    images = [_colour(seed, 24) for seed in range(6)]
    change = [
        np.mean(
            [_mean_abs_change(im, corruption(im, s, _rng(seed))) for seed, im in enumerate(images)]
        )
        for s in perturb.STRENGTHS
    ]
    assert change[0] > 0
    assert change[0] < change[2] < change[4], change


def test_blur_lowers_sharpness_monotonically_and_is_scipys_gaussian_filter() -> None:
    image = _grey()
    found = [sharpness(perturb.gaussian_blur(image, s, _rng())) for s in perturb.STRENGTHS]
    assert sharpness(image) > found[0]
    assert all(a > b for a, b in itertools.pairwise(found)), found
    expected = ndimage.gaussian_filter(image.astype(float), 0.7)  # strength 3 at 16 px
    assert np.array_equal(
        perturb.gaussian_blur(image, 3, _rng()), np.clip(np.rint(expected), 0, 255)
    )


def test_noise_raises_pixel_variance_and_sharpness_with_strength() -> None:
    flat = np.full((32, 32), 128, np.uint8)
    for corruption in (perturb.gaussian_noise, perturb.shot_noise):
        spread = [corruption(flat, s, _rng()).astype(float).std() for s in perturb.STRENGTHS]
        assert 0 < spread[0] < spread[2] < spread[4], (corruption.__name__, spread)
    noisy = perturb.gaussian_noise(flat, 1, _rng())
    assert noisy.astype(float).std() == pytest.approx(0.04 * 255, rel=0.1)  # CIFAR-10-C
    assert sharpness(perturb.gaussian_noise(_grey(), 3, _rng())) > sharpness(_grey())


def test_brightness_shifts_the_mean_up_or_down_by_the_strengths_step() -> None:
    mid = np.full((16, 16), 120, np.uint8)
    signs = set()
    for seed in range(12):
        shifts = [float(perturb.brightness(mid, s, _rng(seed)).mean()) - 120 for s in (1, 3, 5)]
        assert [abs(v) for v in shifts] == pytest.approx(
            [0.05 * 255, 0.15 * 255, 0.3 * 255], abs=0.6
        )
        signs.add(np.sign(shifts[0]))
    assert signs == {-1.0, 1.0}


def test_contrast_lowers_the_standard_deviation_and_keeps_the_mean() -> None:
    image = _colour()
    spreads = [grey(perturb.contrast(image, s, _rng())).std() for s in perturb.STRENGTHS]
    assert grey(image).std() > spreads[0] and all(a > b for a, b in itertools.pairwise(spreads))
    assert perturb.contrast(image, 5, _rng()).mean() == pytest.approx(image.mean(), abs=1.0)


def test_colour_jitter_changes_colour_images_only() -> None:
    image = _colour()
    grey_image = _grey()
    assert np.array_equal(perturb.colour_jitter(grey_image, 5, _rng()), grey_image)
    grey_rgb = np.repeat(grey_image[:, :, None], 3, axis=2)
    assert _mean_abs_change(perturb.colour_jitter(grey_rgb, 5, _rng()), grey_rgb) < 1.0
    jittered = perturb.colour_jitter(image, 5, _rng())
    assert colourfulness(jittered) != pytest.approx(colourfulness(image), rel=0.02)
    # the HSV value (the largest channel) stays: hue and saturation change, not the light
    assert jittered.max(axis=2).astype(float) == pytest.approx(image.max(axis=2), abs=2)
    assert np.any(jittered.argmax(axis=2) != image.argmax(axis=2))  # the hue moved


def test_jpeg_is_pillows_codec_and_strength_5_differs_more_than_1() -> None:
    image = _colour(size=64)
    small = _colour(size=32)  # strength 1 below 32 px: quality 80
    buffer = io.BytesIO()
    Image.fromarray(small).save(buffer, format="JPEG", quality=80)
    expected = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
    assert np.array_equal(perturb.jpeg_compression(small, 1, _rng()), expected)
    one = _mean_abs_change(perturb.jpeg_compression(image, 1, _rng()), image)
    five = _mean_abs_change(perturb.jpeg_compression(image, 5, _rng()), image)
    assert 0 < one < five
    assert perturb.jpeg_compression(_grey(), 3, _rng()).shape == _grey().shape


def test_parameters_follow_cifar_below_32_pixels_and_imagenet_from_224() -> None:
    blur = perturb.BLUR_SIGMA
    assert perturb.level(blur, 3, (8, 8)) == 0.7
    assert perturb.level(blur, 3, (32, 40)) == 0.7
    assert perturb.level(blur, 3, (224, 300)) == 3.0
    assert perturb.level(blur, 3, (1000, 1000)) == 3.0
    middle = [perturb.level(blur, s, (80, 80)) for s in perturb.STRENGTHS]
    assert all(a < b for a, b in itertools.pairwise(middle))
    assert 0.7 < middle[2] < 3.0
    quality = [perturb.level(perturb.JPEG_QUALITY, s, (100, 100)) for s in perturb.STRENGTHS]
    assert all(a > b for a, b in itertools.pairwise(quality))


def test_pixelate_makes_blocks() -> None:
    image = _colour(size=64)
    out = perturb.pixelate(image, 5, _rng())  # factor between .65 and .25 at 64 px
    assert np.array_equal(out[:, :1], out[:, 1:2]) or _mean_abs_change(out, image) > 3
    assert sharpness(out) < sharpness(image)


def test_rotation_and_translation_move_content_without_changing_the_mean_much() -> None:
    image = np.zeros((33, 33), np.uint8)
    image[10:23, 15:18] = 255  # a vertical bar through the centre
    rotated = perturb.rotation(image, 5, _rng())  # 15 degrees
    ys, xs = np.nonzero(rotated > 127)
    slope = np.polyfit(ys, xs, 1)[0]
    assert abs(np.degrees(np.arctan(slope))) == pytest.approx(15, abs=3)
    shifted = perturb.translation(image, 5, _rng())  # 15% of 33 px = ~5 px
    (y0, x0), (y1, x1) = (np.argwhere(a > 127).mean(axis=0) for a in (image, shifted))
    assert np.hypot(y1 - y0, x1 - x0) == pytest.approx(0.15 * 33, abs=1.0)


def test_randomize_pixels_replaces_the_strengths_share_of_pixels() -> None:
    flat = np.full((20, 20, 3), 128, np.uint8)
    for strength, share in zip(perturb.STRENGTHS, perturb.RANDOM_PIXEL_FRACTION, strict=True):
        out = perturb.randomize_pixels(flat, strength, _rng())
        changed = np.any(out != flat, axis=2).sum()
        assert round(share * 400) - 2 <= changed <= round(share * 400)  # a value may be 128
    one = perturb.randomize_pixels(np.full((4, 4), 9, np.uint8), 1, _rng())
    assert np.count_nonzero(one != 9) <= 1


def test_flips_are_exact_mirrors() -> None:
    image = _colour()
    assert np.array_equal(perturb.horizontal_flip(image, 3, _rng()), image[:, ::-1])
    assert np.array_equal(perturb.vertical_flip(image, 1, _rng()), image[::-1])
    twice = perturb.horizontal_flip(perturb.horizontal_flip(image, 1, _rng()), 1, _rng())
    assert np.array_equal(twice, image)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="strength"):
        perturb.gaussian_blur(_grey(), 6, _rng())
    with pytest.raises(ValueError, match="uint8"):
        perturb.contrast(_grey().astype(float), 1, _rng())
    with pytest.raises(ValueError, match="channels"):
        perturb.brightness(np.zeros((4, 4, 4), np.uint8), 1, _rng())
