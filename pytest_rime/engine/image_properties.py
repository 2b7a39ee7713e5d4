"""What the ``images`` tests measure of each image, computed once per run.

Per image: mean ``brightness`` (0..255, grey level), ``contrast`` (standard deviation of the grey
levels), ``sharpness`` (variance of the 4-neighbour Laplacian of the grey image over the
variance of the grey image: blur lowers it, noise raises it, and darkening or a contrast change
leaves it alone), ``colourfulness`` (Hasler and Süsstrunk's metric; 0 for grey images), ``height``,
``width``, ``aspect_ratio`` (width / height), ``channels`` (1 grey, 3 colour), the per-channel
means ``mean_red`` / ``mean_green`` / ``mean_blue`` (the grey level for grey images), and
``readable`` (False for a missing or undecodable file: its other properties are NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pytest_rime.engine.context import RunContext, Which
from pytest_rime.engine.datatypes.images import image_column
from pytest_rime.engine.image_io import ReadImage, pixels_of

PROPERTIES = (
    "brightness",
    "contrast",
    "sharpness",
    "colourfulness",
    "height",
    "width",
    "aspect_ratio",
    "channels",
    "mean_red",
    "mean_green",
    "mean_blue",
)
"""The numeric properties of an image, in column order."""


def grey(pixels: np.ndarray) -> np.ndarray:
    """The image as float grey levels (ITU-R 601 luma for colour images)."""
    values: np.ndarray = pixels.astype(float)
    if values.ndim == 3:
        luma: np.ndarray = values @ np.array([0.299, 0.587, 0.114])
        return luma
    return values


def sharpness(pixels: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the grey image over the grey image's variance.

    Scale free: multiplying every pixel by a constant (darkening, a contrast change) leaves it
    unchanged, while blur lowers it and noise raises it. 0 for a constant image and for images
    under 3x3.
    """
    level = grey(pixels)
    spread = float(level.var())
    if level.shape[0] < 3 or level.shape[1] < 3 or spread <= 1e-12:
        return 0.0
    laplacian = (
        level[:-2, 1:-1]
        + level[2:, 1:-1]
        + level[1:-1, :-2]
        + level[1:-1, 2:]
        - 4 * level[1:-1, 1:-1]
    )
    return float(laplacian.var()) / spread


def colourfulness(pixels: np.ndarray) -> float:
    """Hasler and Süsstrunk's colourfulness (0 for a grey image)."""
    if pixels.ndim != 3:
        return 0.0
    red, green, blue = (pixels[:, :, i].astype(float) for i in range(3))
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = np.hypot(rg.std(), yb.std())
    mean = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * mean)


def image_properties(pixels: np.ndarray) -> dict[str, float]:
    """Every property of :data:`PROPERTIES` of one decoded image."""
    level = grey(pixels)
    height, width = pixels.shape[:2]
    channels = 3 if pixels.ndim == 3 else 1
    means = (
        [float(pixels[:, :, i].mean()) for i in range(3)]
        if channels == 3
        else [float(level.mean())] * 3
    )
    return {
        "brightness": float(level.mean()),
        "contrast": float(level.std()),
        "sharpness": sharpness(pixels),
        "colourfulness": colourfulness(pixels),
        "height": float(height),
        "width": float(width),
        "aspect_ratio": float(width / height) if height else float("nan"),
        "channels": float(channels),
        "mean_red": means[0],
        "mean_green": means[1],
        "mean_blue": means[2],
    }


def read_images(ctx: RunContext, which: Which) -> list[ReadImage]:
    """The decoded ``ref`` or ``eval`` images (or why each cannot be read), in row order."""
    column = image_column(ctx.config)
    return ctx.memo(
        f"images.read:{which}", lambda: [pixels_of(v) for v in ctx.frame(which)[column]]
    )


def properties(ctx: RunContext, which: Which) -> pd.DataFrame:
    """One row per ``ref`` or ``eval`` image: :data:`PROPERTIES` and ``readable`` (once a run)."""

    def compute() -> pd.DataFrame:
        rows = []
        for read in read_images(ctx, which):
            if read.pixels is None:
                rows.append({**dict.fromkeys(PROPERTIES, float("nan")), "readable": False})
            else:
                rows.append({**image_properties(read.pixels), "readable": True})
        columns = [*PROPERTIES, "readable"]
        return pd.DataFrame(rows, columns=columns).astype({"readable": bool})

    return ctx.memo(f"images.properties:{which}", compute)
