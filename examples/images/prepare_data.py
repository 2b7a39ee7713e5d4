"""Prepare the images example: handwritten digits as PNG files, tables and a small model.

Run from this directory (needs ``pip install ".[examples]"`` for scikit-learn)::

    python prepare_data.py

Reads scikit-learn's bundled digits (``sklearn.datasets.load_digits``: 1,797 grey 8x8 images of
the digits 0-9, no download), splits them at random (seeded) into training (40%), reference
(30%) and evaluation (30%) images, and writes:

- ``data/ref.csv`` and ``data/eval.csv``: columns ``image`` (a PNG file relative to the table's
  folder, under ``data/ref/`` or ``data/eval/``) and ``label``;
- ``model/model.json``: a multinomial logistic regression fitted on the training images, as
  plain numbers read by ``model/model.py`` (numpy and Pillow only), which this script checks
  predicts exactly as scikit-learn does.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "model"))

from model import features, predict_batch  # noqa: E402  (model/model.py: the serving code)

SEED = 0


def write_table(name: str, images: list[np.ndarray], labels: np.ndarray) -> None:
    """Write ``images`` as ``data/<name>/<i>.png`` and the table ``data/<name>.csv``."""
    folder = HERE / "data" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{index}.png", optimize=True)
    paths = [f"{name}/{index}.png" for index in range(len(images))]
    pd.DataFrame({"image": paths, "label": labels}).to_csv(
        HERE / "data" / f"{name}.csv", index=False
    )


def main() -> None:
    digits = load_digits()
    images = [(image * 16).clip(0, 255).astype(np.uint8) for image in digits.images]
    order = np.random.default_rng(SEED).permutation(len(images))
    n_train, n_ref = int(0.4 * len(order)), int(0.3 * len(order))
    train, ref, eval_ = np.split(order, [n_train, n_train + n_ref])
    x_train = np.stack([features(images[i]) for i in train])
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x_train, digits.target[train])
    artefact = {
        "classes": model.classes_.tolist(),
        "coef": model.coef_.round(8).tolist(),
        "intercept": model.intercept_.round(8).tolist(),
    }
    (HERE / "model" / "model.json").write_text(json.dumps(artefact) + "\n")
    write_table("ref", [images[i] for i in ref], digits.target[ref])
    write_table("eval", [images[i] for i in eval_], digits.target[eval_])
    x_eval = np.stack([features(images[i]) for i in eval_])
    ours = predict_batch([images[i] for i in eval_])
    np.testing.assert_allclose(ours, model.predict_proba(x_eval), atol=1e-6)
    accuracy = float(np.mean(ours.argmax(axis=1) == digits.target[eval_]))
    sizes = f"train {len(train)}, ref {len(ref)}, eval {len(eval_)} images"
    print(f"{sizes}; eval accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
