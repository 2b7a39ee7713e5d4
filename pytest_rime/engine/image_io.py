"""Reading image files for the ``images`` data type: PNG, JPEG (any Pillow format) and NPY.

Decoded images are cached per process by path, modification time and size, so the model adapter
and the tests decode each file once; a file that cannot be read gives ``None`` and its error,
never an exception (the Abnormal Inputs tests count and report such rows).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CACHED_IMAGES = 20_000
"""Decoded images kept in memory (least recently used beyond this are decoded again)."""


@dataclass(frozen=True)
class ReadImage:
    """A decoded image (``pixels``: uint8 ``(h, w)`` or ``(h, w, 3)``), or why it is unreadable."""

    pixels: np.ndarray | None
    error: str | None = None


def _decode(path: str) -> np.ndarray:
    if path.lower().endswith(".npy"):
        array = np.load(path, allow_pickle=False)
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
            raise ValueError(f"expected an (h, w) or (h, w, channels) array, got {array.shape}")
        return _as_uint8(array)
    from PIL import Image

    with Image.open(path) as image:
        image.load()  # a truncated file fails here, not later
        grey = image.mode in ("1", "L", "I", "I;16", "F")
        converted = image.convert("L" if grey else "RGB")
        pixels: np.ndarray = np.asarray(converted, dtype=np.uint8)
        return pixels


def _as_uint8(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.dtype == np.uint8:
        return array
    values = array.astype(float)
    if values.size and np.nanmax(values) <= 1.0:
        values = values * 255.0
    scaled: np.ndarray = np.clip(np.nan_to_num(values), 0, 255).astype(np.uint8)
    return scaled


@functools.lru_cache(maxsize=CACHED_IMAGES)
def _read_cached(path: str, _mtime_ns: int, _size: int) -> ReadImage:
    try:
        return ReadImage(_decode(path))
    except MemoryError:
        raise
    except Exception as exc:  # any decoder error: the row is reported, the run goes on
        return ReadImage(None, " ".join(f"{type(exc).__name__}: {exc}".split())[:200])


def read_image(path: str) -> ReadImage:
    """The image at ``path`` (cached), or the reason it cannot be read."""
    if not path:
        return ReadImage(None, "no image path")
    try:
        stat = os.stat(path)
    except OSError as exc:
        return ReadImage(None, f"{type(exc).__name__}: {exc.strerror or exc}")
    return _read_cached(path, stat.st_mtime_ns, stat.st_size)


def pixels_of(value: object) -> ReadImage:
    """An image given as a path (read, cached) or as an array (taken as it is)."""
    if isinstance(value, np.ndarray):
        return ReadImage(_as_uint8(value))
    return read_image("" if value is None else str(value))


def blank_like(images: Sequence[np.ndarray | None]) -> np.ndarray:
    """A black image of the most common shape among ``images``, 1x1 when none is readable.

    The model scores an unreadable row as this image.
    """
    shapes = [image.shape for image in images if image is not None]
    if not shapes:
        return np.zeros((1, 1), dtype=np.uint8)
    values, counts = np.unique(np.array([str(s) for s in shapes]), return_counts=True)
    common = values[int(np.argmax(counts))]
    shape = next(s for s in shapes if str(s) == common)
    return np.zeros(shape, dtype=np.uint8)
