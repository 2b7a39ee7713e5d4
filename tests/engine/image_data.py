"""Synthetic and small real image classification data for the ``images`` engine tests.

Synthetic images are 16x16 grey pictures of one bright blob: in the top half (class 0) or the
bottom half (class 1), at a random place, with pixel noise; sklearn's bundled 8x8 digits are
the small real dataset. Images are written as PNG (or NPY) files beside a csv table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from PIL import Image
from sklearn.linear_model import LogisticRegression

SIZE = 16


def blob_images(rows: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``rows`` noisy blob images (uint8, 16x16) and their labels (0 top, 1 bottom)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, rows)
    images = []
    for label in labels:
        image = rng.normal(40, 15, (SIZE, SIZE))
        row = int(rng.integers(1, SIZE // 2 - 4)) + (SIZE // 2 if label else 0)
        column = int(rng.integers(1, SIZE - 5))
        image[row : row + 4, column : column + 4] += 160
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return images, labels


def digit_images(classes: tuple[int, ...] = (0, 1, 2)) -> tuple[list[np.ndarray], np.ndarray]:
    """Sklearn's bundled 8x8 digits of ``classes`` as uint8 images (0..255) and labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = np.isin(digits.target, classes)
    images = [(image * 16).clip(0, 255).astype(np.uint8) for image in digits.images[keep]]
    return images, digits.target[keep]


def train_estimator(images: list[np.ndarray], labels: np.ndarray) -> LogisticRegression:
    """Logistic regression on flattened pixels."""
    features = np.stack([image.astype(float).ravel() for image in images])
    return LogisticRegression(max_iter=2000).fit(features, labels)


@dataclass(frozen=True)
class ImageRun:
    """Files of one image stress test: ref and eval tables (images beside them) and a model."""

    ref_path: Path
    eval_path: Path
    model_path: Path

    def config(self, **extra: Any) -> dict[str, Any]:
        """The images test run config of these files (``extra`` keys added on top)."""
        return {
            "run_name": "images",
            "data_type": "images",
            "data_info": {
                "ref_path": str(self.ref_path),
                "eval_path": str(self.eval_path),
                "label_col": "label",
            },
            "model_info": {"path": str(self.model_path)},
            **extra,
        }


def write_images(
    folder: Path, name: str, images: list[np.ndarray], labels: np.ndarray, suffix: str = ".png"
) -> Path:
    """Write ``images`` under ``folder/<name>/`` and the table ``folder/<name>.csv``."""
    image_dir = folder / name
    image_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, image in enumerate(images):
        path = image_dir / f"{index}{suffix}"
        if suffix == ".npy":
            np.save(path, image)
        else:
            Image.fromarray(image).save(path)
        paths.append(f"{name}/{path.name}")
    table = folder / f"{name}.csv"
    pd.DataFrame({"image": paths, "label": labels}).to_csv(table, index=False)
    return table


def write_image_run(
    folder: Path,
    ref: tuple[list[np.ndarray], np.ndarray],
    cur: tuple[list[np.ndarray], np.ndarray],
    train: tuple[list[np.ndarray], np.ndarray] | None = None,
) -> ImageRun:
    """Write ref and eval images with their tables and an estimator trained on ``train`` (ref)."""
    folder.mkdir(parents=True, exist_ok=True)
    ref_table = write_images(folder, "ref", *ref)
    eval_table = write_images(folder, "eval", *cur)
    model_path = folder / "model.joblib"
    joblib.dump(train_estimator(*(train or ref)), model_path)
    return ImageRun(ref_table, eval_table, model_path)
