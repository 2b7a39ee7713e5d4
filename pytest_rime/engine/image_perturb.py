"""Graded image corruptions for the ``images`` Transformations tests.

Every corruption is a pure function ``(image, strength, rng) -> image``: ``image`` is uint8
``(h, w)`` grey or ``(h, w, 3)`` colour, ``strength`` an integer 1..5 (the five severities of
ImageNet-C, Hendrycks & Dietterich 2019), ``rng`` the only source of randomness (the same
generator state gives the same result). The result is a new uint8 array of the same shape; the
input is never modified. Flips take ``strength`` for a uniform signature and ignore it.

Parameters follow Hendrycks & Dietterich's code. Their benchmark has two parameter sets: one
for CIFAR-10-C (32 x 32 images) and one for ImageNet-C (224 x 224); a corruption here takes the
CIFAR-10-C value for images whose shorter side is at most 32 pixels, the ImageNet-C value from
224 pixels on, and interpolates linearly in the logarithm of the shorter side in between (both
sets grow with strength, so the interpolation does too). Per strength 1..5:

============================  =========================  ============================
corruption                    CIFAR-10-C (<= 32 px)      ImageNet-C (>= 224 px)
============================  =========================  ============================
Gaussian blur: sigma (px)     0.4 0.6 0.7 0.8 1.0        1 2 3 4 6
Gaussian noise: sigma (0..1)  .04 .06 .08 .09 .10        .08 .12 .18 .26 .38
shot noise: photons per unit  500 250 100 75 50          60 25 12 5 3
brightness: shift (0..1)      .05 .1 .15 .2 .3           .1 .2 .3 .4 .5
contrast: factor              .75 .5 .4 .3 .15           .4 .3 .2 .1 .05
JPEG: Pillow quality          80 65 58 50 40             25 18 15 10 7
pixelate: resize factor       .95 .9 .85 .75 .65         .6 .5 .4 .3 .25
============================  =========================  ============================

The others are not in ImageNet-C (or not in this form) and use one set at every size:

- brightness here shifts every channel up *or down* (a random sign per image): production
  images are as often too dark as too bright, ImageNet-C only brightens;
- colour jitter (as torchvision's ``ColorJitter``): saturation scaled by ``1 +/- s`` and hue
  rotated by ``+/- h`` of the colour circle, ``s`` = .1 .2 .3 .4 .5, ``h`` = .02 .04 .06 .08
  .1, random signs; grey images are returned unchanged;
- rotation by +/- 3 6 9 12 15 degrees (random sign) about the centre, bilinear, edges
  extended;
- translation by 3 6 9 12 15 % of each side in a random direction (sub-pixel, bilinear,
  edges extended);
- randomized pixels: 1 2 5 10 20 % of the pixels (at least one) replaced by uniform random
  values (each channel drawn independently), like dead or hot sensor pixels;
- horizontal / vertical flip: exact mirror images.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence

import numpy as np

ImagePerturbation = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
"""``(image uint8, strength 1..5, rng) -> image uint8`` of the same shape."""

STRENGTHS = (1, 2, 3, 4, 5)
"""The strengths of a graded corruption."""

SMALL_SIDE = 32
"""Shorter side (pixels) up to which the CIFAR-10-C parameters apply."""

LARGE_SIDE = 224
"""Shorter side (pixels) from which the ImageNet-C parameters apply."""

BLUR_SIGMA = ((0.4, 0.6, 0.7, 0.8, 1.0), (1.0, 2.0, 3.0, 4.0, 6.0))
NOISE_SIGMA = ((0.04, 0.06, 0.08, 0.09, 0.10), (0.08, 0.12, 0.18, 0.26, 0.38))
SHOT_PHOTONS = ((500.0, 250.0, 100.0, 75.0, 50.0), (60.0, 25.0, 12.0, 5.0, 3.0))
BRIGHTNESS_SHIFT = ((0.05, 0.1, 0.15, 0.2, 0.3), (0.1, 0.2, 0.3, 0.4, 0.5))
CONTRAST_FACTOR = ((0.75, 0.5, 0.4, 0.3, 0.15), (0.4, 0.3, 0.2, 0.1, 0.05))
JPEG_QUALITY = ((80.0, 65.0, 58.0, 50.0, 40.0), (25.0, 18.0, 15.0, 10.0, 7.0))
PIXELATE_FACTOR = ((0.95, 0.9, 0.85, 0.75, 0.65), (0.6, 0.5, 0.4, 0.3, 0.25))
SATURATION_SCALE = (0.1, 0.2, 0.3, 0.4, 0.5)
HUE_SHIFT = (0.02, 0.04, 0.06, 0.08, 0.1)
ROTATION_DEGREES = (3.0, 6.0, 9.0, 12.0, 15.0)
TRANSLATION_FRACTION = (0.03, 0.06, 0.09, 0.12, 0.15)
RANDOM_PIXEL_FRACTION = (0.01, 0.02, 0.05, 0.1, 0.2)

ParameterSets = tuple[Sequence[float], Sequence[float]]


def _check(image: np.ndarray, strength: int) -> None:
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(
            f"expected a uint8 (h, w) or (h, w, 3) image, got {image.dtype} {image.shape}"
        )
    if image.ndim == 3 and image.shape[2] != 3:
        raise ValueError(f"expected 3 colour channels, got shape {image.shape}")
    if strength not in STRENGTHS:
        raise ValueError(f"strength must be an integer 1..5, got {strength!r}")


def level(parameters: ParameterSets, strength: int, shape: tuple[int, ...]) -> float:
    """The parameter of ``strength`` for an image of ``shape`` (see the module docstring)."""
    small, large = parameters
    side = max(1, min(shape[:2]))
    t = (math.log(side) - math.log(SMALL_SIDE)) / (math.log(LARGE_SIDE) - math.log(SMALL_SIDE))
    t = min(1.0, max(0.0, t))
    return float(small[strength - 1] + t * (large[strength - 1] - small[strength - 1]))


def _to_uint8(values: np.ndarray) -> np.ndarray:
    result: np.ndarray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return result


def _per_channel(image: np.ndarray, apply: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``apply`` (float 2-D -> float 2-D) on each channel of ``image``, as floats."""
    values = image.astype(float)
    if values.ndim == 2:
        return apply(values)
    return np.stack([apply(values[:, :, c]) for c in range(values.shape[2])], axis=2)


def _sign(rng: np.random.Generator) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


def gaussian_blur(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur of each channel (edges reflected); ``rng`` is unused."""
    from scipy import ndimage

    _check(image, strength)
    sigma = level(BLUR_SIGMA, strength, image.shape)
    return _to_uint8(_per_channel(image, lambda c: ndimage.gaussian_filter(c, sigma)))


def gaussian_noise(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise, independent per pixel and channel."""
    _check(image, strength)
    sigma = level(NOISE_SIGMA, strength, image.shape) * 255.0
    return _to_uint8(image.astype(float) + rng.normal(0.0, sigma, image.shape))


def shot_noise(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """Poisson (photon) noise: ``poisson(x * photons) / photons`` on 0..1 values."""
    _check(image, strength)
    photons = level(SHOT_PHOTONS, strength, image.shape)
    counts = rng.poisson(image.astype(float) / 255.0 * photons)
    return _to_uint8(counts / photons * 255.0)


def brightness(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """Every channel shifted up or down (random sign) by the strength's share of 255."""
    _check(image, strength)
    shift = _sign(rng) * level(BRIGHTNESS_SHIFT, strength, image.shape) * 255.0
    return _to_uint8(image.astype(float) + shift)


def contrast(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """Contrast lowered: ``(x - mean) * factor + mean`` (mean of all pixels); ``rng`` unused."""
    _check(image, strength)
    factor = level(CONTRAST_FACTOR, strength, image.shape)
    values = image.astype(float)
    mean = values.mean()
    return _to_uint8((values - mean) * factor + mean)


def colour_jitter(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """Saturation scaled and hue rotated (random signs); a grey image comes back unchanged."""
    from PIL import Image

    _check(image, strength)
    scale = 1.0 + _sign(rng) * SATURATION_SCALE[strength - 1]
    hue = _sign(rng) * HUE_SHIFT[strength - 1]
    if image.ndim == 2:
        return image.copy()
    hsv = np.asarray(Image.fromarray(image).convert("HSV")).astype(float)
    hsv[:, :, 0] = np.mod(hsv[:, :, 0] + hue * 256.0, 256.0)
    hsv[:, :, 1] = hsv[:, :, 1] * scale
    channels = [Image.fromarray(c) for c in np.moveaxis(_to_uint8(hsv), 2, 0)]
    shifted = Image.merge("HSV", channels).convert("RGB")
    result: np.ndarray = np.asarray(shifted, dtype=np.uint8).copy()
    return result


def jpeg_compression(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """Encoded and decoded as JPEG at the strength's Pillow quality; ``rng`` is unused."""
    from PIL import Image

    _check(image, strength)
    quality = round(level(JPEG_QUALITY, strength, image.shape))
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        result: np.ndarray = np.asarray(decoded.convert(decoded.mode), dtype=np.uint8).copy()
    return result.reshape(image.shape)


def pixelate(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """Shrunk by the strength's factor and enlarged back (box filter); ``rng`` is unused."""
    from PIL import Image

    _check(image, strength)
    factor = level(PIXELATE_FACTOR, strength, image.shape)
    height, width = image.shape[:2]
    small = (max(1, int(width * factor)), max(1, int(height * factor)))
    box = Image.Resampling.BOX
    picture = Image.fromarray(image).resize(small, box).resize((width, height), box)
    result: np.ndarray = np.asarray(picture, dtype=np.uint8).copy()
    return result


def rotation(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """Rotated about the centre by the strength's angle, either way (bilinear, edges extended)."""
    from scipy import ndimage

    _check(image, strength)
    angle = _sign(rng) * ROTATION_DEGREES[strength - 1]
    return _to_uint8(
        _per_channel(
            image, lambda c: ndimage.rotate(c, angle, reshape=False, order=1, mode="nearest")
        )
    )


def translation(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """Shifted by the strength's share of each side in a random direction (bilinear)."""
    from scipy import ndimage

    _check(image, strength)
    fraction = TRANSLATION_FRACTION[strength - 1]
    direction = rng.uniform(0.0, 2.0 * math.pi)
    height, width = image.shape[:2]
    shift = (fraction * height * math.sin(direction), fraction * width * math.cos(direction))
    return _to_uint8(
        _per_channel(image, lambda c: ndimage.shift(c, shift, order=1, mode="nearest"))
    )


def randomize_pixels(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """The strength's share of pixels (a random mask, at least one) set to random values."""
    _check(image, strength)
    height, width = image.shape[:2]
    count = max(1, round(RANDOM_PIXEL_FRACTION[strength - 1] * height * width))
    picked = rng.choice(height * width, size=min(count, height * width), replace=False)
    result = image.copy()
    rows, columns = np.divmod(picked, width)
    values = rng.integers(0, 256, (picked.size, *image.shape[2:]), dtype=np.uint8)
    result[rows, columns] = values
    return result


def horizontal_flip(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """The left-right mirror image (``strength`` and ``rng`` are ignored)."""
    _check(image, 1)
    return np.ascontiguousarray(image[:, ::-1])


def vertical_flip(image: np.ndarray, strength: int, rng: np.random.Generator) -> np.ndarray:
    """The upside-down mirror image (``strength`` and ``rng`` are ignored)."""
    _check(image, 1)
    return np.ascontiguousarray(image[::-1])
