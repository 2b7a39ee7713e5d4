"""Text runs of the nlp Transformations and Attacks tests: contexts, typos, a fragile model.

Imported as ``from text_models import ...`` (shared by test_nlp_transformations.py and
test_nlp_attacks.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from text_data import make_texts, write_text_run

from pytest_rime.engine import text_perturb as tp
from pytest_rime.engine.context import RunContext
from pytest_rime.engine.run import load_context
from pytest_rime.engine.validation import validate_config

TYPO_FRAGILE = '''
import joblib
import numpy as np

PIPE = joblib.load({path!r})
VECTORIZER = PIPE.steps[0][1]
ANALYZE = VECTORIZER.build_analyzer()


def predict_batch(texts):
    """Flips its decision when a text holds a word it has not seen."""
    p = PIPE.predict_proba(list(texts))[:, 1]
    unknown = np.array([any(t not in VECTORIZER.vocabulary_ for t in ANALYZE(x)) for x in texts])
    return np.where(unknown, 1 - p, p)
'''
"""Model source (``{path}``: the pickled pipeline) flipping on words it has not seen."""


def quiet(_line: str) -> None:
    """A log that drops every line."""


def with_typos(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """``frame`` with one substituted letter in a word of ``share`` of its texts."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    rows = rng.choice(len(frame), int(share * len(frame)), replace=False)
    out.loc[rows, "text"] = [tp.substitute_characters(t, rng, 0.0) for t in out.text[rows]]
    return out


def context(
    folder: Path,
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    model_source: str | None = None,
    **extra: Any,
) -> RunContext:
    """A loaded nlp run of ``ref`` and ``cur`` (the pipeline, or ``model_source`` on it)."""
    run = write_text_run(folder, ref, cur)
    config = run.config(**extra)
    if model_source is not None:
        model = folder / "model.py"
        model.write_text(model_source.format(path=str(run.model_path)), encoding="utf-8")
        config["model_info"] = {"path": str(model)}
    ctx, _ = load_context(validate_config(config), log=quiet)
    return ctx


CLEAN_SPLITS = [(0, ("sport", "money")), (1, ("sport", "money")), (2, ("sport", "money", "health"))]
"""``(seed, classes)`` of the clean splits a healthy pipeline is tested on."""


def clean_split(folder: Path, seed: int, classes: tuple[str, ...]) -> RunContext:
    """A run of 300 ref and 300 eval texts of ``classes`` (seeds ``2 seed`` and ``2 seed + 1``)."""
    return context(
        folder, make_texts(300, 2 * seed, classes), make_texts(300, 2 * seed + 1, classes)
    )
