"""Small PNG thumbnails of images as data URIs, for the examples of failing image test cases.

Results carry up to three examples in ``metrics["examples"]`` as plain JSON; for an image the
web page shows ``thumbnail(pixels)``: the image shrunk (aspect ratio kept, never enlarged) to at
most ``MAX_SIDE`` pixels a side and encoded as ``data:image/png;base64,...``.
"""

from __future__ import annotations

import base64
import io

import numpy as np

MAX_SIDE = 32
"""The longest side of a thumbnail, in pixels."""

_PREFIX = "data:image/png;base64,"


def _as_uint8(pixels: np.ndarray) -> np.ndarray:
    array = np.asarray(pixels)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"expected an (h, w) or (h, w, 3) image, got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"expected a non-empty image, got shape {array.shape}")
    if array.dtype == np.uint8:
        return array
    values = np.nan_to_num(array.astype(float))
    if values.size and values.max() <= 1.0 and values.min() >= 0.0 and array.dtype.kind == "f":
        values = values * 255.0
    clipped: np.ndarray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return clipped


def thumbnail(pixels: np.ndarray | None, max_side: int = MAX_SIDE) -> str | None:
    """The image as a PNG data URI at most ``max_side`` pixels a side (None for no image).

    Args:
        pixels: ``(h, w)`` grey or ``(h, w, 3)`` colour pixels; uint8, or floats (0..1 floats
            are scaled to 0..255, others clipped).
        max_side: the longest side of the thumbnail; smaller images keep their size.

    Returns:
        ``"data:image/png;base64,..."``, or None when ``pixels`` is None.
    """
    if pixels is None:
        return None
    from PIL import Image

    array = _as_uint8(pixels)
    image = Image.fromarray(array)  # uint8 (h, w) -> "L", (h, w, 3) -> "RGB"
    height, width = array.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return _PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")
