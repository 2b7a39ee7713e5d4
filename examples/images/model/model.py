"""Handwritten digit classifier: a softmax regression on 8x8 pixels stored in model.json.

``predict_batch(images)`` returns, for each image (a numpy array, grey ``(h, w)`` or colour
``(h, w, 3)``), the probabilities of the digits 0-9. An image of another size is resized to 8x8
and a colour one averaged to grey, so any readable image gets a prediction instead of an error.
Numpy and Pillow only; ``prepare_data.py`` fits the numbers with scikit-learn.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

SIDE = 8


@functools.cache
def _artefact() -> dict[str, Any]:
    artefact: dict[str, Any] = json.loads(
        Path(__file__).with_name("model.json").read_text(encoding="utf-8")
    )
    return artefact


def features(image: np.ndarray) -> np.ndarray:
    """The 64 model inputs of one image: grey 8x8 pixels scaled to 0..1."""
    pixels = np.asarray(image, dtype=float)
    if pixels.ndim == 3:
        pixels = pixels[..., :3].mean(axis=2)
    if pixels.shape != (SIDE, SIDE):
        grey = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        pixels = np.asarray(grey.resize((SIDE, SIDE), Image.Resampling.BILINEAR), dtype=float)
    return np.clip(pixels, 0, 255).ravel() / 255.0


def predict_batch(images: list[np.ndarray]) -> np.ndarray:
    """Probabilities of the digits 0-9, one row per image."""
    artefact = _artefact()
    inputs = np.stack([features(image) for image in images])
    logits = inputs @ np.asarray(artefact["coef"]).T + np.asarray(artefact["intercept"])
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=float)
