"""Images benchmark: a whole ``data_type="images"`` stress test on 10k small images.

Run from the repository root (needs the test extras: scikit-learn for the model)::

    python benchmarks/bench_images.py                     # 10k ref + 10k eval images, 3 repeats
    python benchmarks/bench_images.py --images 2000 --repeats 1   # quick

Data: scikit-learn's bundled 8x8 digits, drawn with replacement, upscaled to 24x24 grey
(Pillow, bilinear) with a random shift of up to 2 pixels and Gaussian pixel noise (sd 6), so no
two images are equal; ``--images`` reference and as many evaluation images, written as PNG
files beside two csv tables in a temporary folder (not timed). The model is a logistic
regression on flattened pixels trained on 2,000 other such images, pickled with joblib (the
engine's images adapter calls it on all images of a batch at once).

Each repeat runs ``run_stress_test`` in a fresh child process (cold image cache: reading and
decoding the PNG files is part of the run) and reports:

- per test family (category): wall seconds (sum of its batches' ``duration_millis``) and eval
  images per second; the first family to need the images' pixels or properties pays for
  reading them, so ``load`` (data, model, predictions before the first test) and the families
  are shown separately and the total is the whole run;
- ``predict_calls``: the batched model calls of the whole run (``metadata.predict_calls``);
- peak RSS of the child (``resource.getrusage(RUSAGE_SELF).ru_maxrss``).

The table shows the median over ``--repeats`` of each figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SIDE = 24


def make_images(count: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``count`` 24x24 grey digit images (uint8) and their labels."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(digits.images), count)
    images = []
    for row in rows:
        small = Image.fromarray((digits.images[row] * 16).clip(0, 255).astype(np.uint8))
        big = np.asarray(small.resize((SIDE - 4, SIDE - 4), Image.Resampling.BILINEAR), float)
        canvas = np.zeros((SIDE, SIDE))
        dy, dx = rng.integers(0, 5, 2)
        canvas[dy : dy + SIDE - 4, dx : dx + SIDE - 4] = big
        canvas += rng.normal(0, 6, canvas.shape)
        images.append(canvas.clip(0, 255).astype(np.uint8))
    return images, digits.target[rows]


def write_table(folder: Path, name: str, images: list[np.ndarray], labels: np.ndarray) -> Path:
    """PNG files under ``folder/<name>/`` and the table ``folder/<name>.csv``."""
    from PIL import Image

    (folder / name).mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / name / f"{index}.png")
    table = folder / f"{name}.csv"
    paths = [f"{name}/{index}.png" for index in range(len(images))]
    pd.DataFrame({"image": paths, "label": labels}).to_csv(table, index=False)
    return table


def prepare(folder: Path, count: int) -> dict[str, Any]:
    """Write the data and model of one benchmark; return the stress test's config."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    train_images, train_labels = make_images(2000, seed=0)
    model = LogisticRegression(C=0.1, max_iter=2000).fit(
        np.stack([image.ravel() / 255.0 for image in train_images]), train_labels
    )
    # The engine gives a pickled estimator raw pixels (0..255): fold the scaling into it.
    model.coef_ = model.coef_ / 255.0
    joblib.dump(model, folder / "model.joblib")
    ref = write_table(folder, "ref", *make_images(count, seed=1))
    cur = write_table(folder, "eval", *make_images(count, seed=2))
    return {
        "run_name": "bench images",
        "data_type": "images",
        "data_info": {"ref_path": str(ref), "eval_path": str(cur), "label_col": "label"},
        "model_info": {"path": str(folder / "model.joblib")},
        "random_seed": 0,
    }


def child(config_path: str) -> None:
    """One stress test; print its figures as JSON (run in a fresh process)."""
    from pytest_rime.engine.run import run_stress_test

    config = json.loads(Path(config_path).read_text())
    started = time.perf_counter()
    result = run_stress_test(config, log=lambda _line: None)
    total = time.perf_counter() - started
    families: dict[str, float] = {}
    for batch in result.batches:
        families[batch.category] = families.get(batch.category, 0.0) + batch.duration_millis / 1e3
        raised = [c for c in batch.cases if "the test raised" in c.description]
        if raised:
            raise RuntimeError(f"{batch.test_id}: {raised[0].description}")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "total": total,
                "load": total - sum(families.values()),
                "families": families,
                "predict_calls": int(result.metadata["predict_calls"]),  # type: ignore[call-overload]
                "peak_rss_mb": peak_kb / 1024,
                "images": result.num_inputs,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000, help="Reference and eval images")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="Also write the medians to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        config = prepare(folder, args.images)
        written = time.perf_counter() - started
        print(f"wrote {args.images} + {args.images} PNG images in {written:.1f}s")
        config_path = folder / "config.json"
        config_path.write_text(json.dumps(config))
        runs = []
        for repeat in range(args.repeats):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(config_path)],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"repeat {repeat + 1}: {runs[-1]['total']:.1f}s", flush=True)
    report(runs, args)


def report(runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Print the medians as a markdown table (and write them as JSON when asked)."""
    images = runs[0]["images"]
    stages = ["load", *runs[0]["families"], "total"]

    def seconds(run: dict[str, Any], stage: str) -> float:
        return float(run[stage] if stage in ("load", "total") else run["families"][stage])

    medians = {stage: statistics.median(seconds(run, stage) for run in runs) for stage in stages}
    calls = statistics.median(run["predict_calls"] for run in runs)
    peak = statistics.median(run["peak_rss_mb"] for run in runs)
    print(f"\n{images} eval images ({images} reference), median of {len(runs)}")
    print("| stage | median s | eval images/s |")
    print("|---|---:|---:|")
    for stage in stages:
        rate = images / medians[stage] if medians[stage] > 0 else float("inf")
        print(f"| {stage} | {medians[stage]:.2f} | {rate:,.0f} |".replace(",", " "))
    print(f"\npredict calls: {calls:.0f}; peak RSS: {peak:.0f} MB")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"seconds": medians, "predict_calls": calls, "peak_rss_mb": peak}, indent=1)
        )


if __name__ == "__main__":
    main()
