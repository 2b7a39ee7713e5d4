"""Text runs of the nlp engine tests: contexts, the cases of a run, typos, a fragile model.

Imported as ``from text_models import ...`` (shared by the test_nlp_*.py modules).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from text_data import make_texts, train_pipeline, write_text_run

from pytest_rime.engine import text_perturb as tp
from pytest_rime.engine.catalog import get_test
from pytest_rime.engine.context import RunContext
from pytest_rime.engine.importance import compute_importance
from pytest_rime.engine.model import ModelAdapter
from pytest_rime.engine.results import TestCaseResult
from pytest_rime.engine.run import load_context, run_batches
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


def pipe_model(source: str) -> str:
    """A ``model_source`` for :func:`context`: ``source`` run with ``PIPE``, the pipeline."""
    escaped = source.replace("{", "{{").replace("}", "}}")
    return "import joblib\nPIPE = joblib.load({path!r})\n" + escaped


def context(
    folder: Path,
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    model_source: str | None = None,
    *,
    data_info: Mapping[str, Any] | None = None,
    **extra: Any,
) -> RunContext:
    """A loaded nlp run of ``ref`` and ``cur`` (the pipeline, or ``model_source`` on it).

    ``data_info``: keys added to the config's ``data_info``; ``extra``: other config keys.
    """
    run = write_text_run(folder, ref, cur)
    config = run.config(**extra)
    config["data_info"].update(data_info or {})
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


@functools.lru_cache(maxsize=1)
def _other_pipeline() -> Pipeline:
    return train_pipeline(make_texts(400, 1000))


def tfidf(frame: pd.DataFrame) -> np.ndarray:
    """Class-1 probability of a TF-IDF pipeline trained on other texts (400, seed 1000)."""
    return np.asarray(_other_pipeline().predict_proba(frame["text"].tolist())[:, 1])


def memory_context(
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    *,
    model: Any = tfidf,
    predictions: tuple[np.ndarray, np.ndarray] | None = None,
    **extra: Any,
) -> RunContext:
    """An nlp RunContext over in-memory frames (default model: :func:`tfidf`; None: no model)."""
    config = validate_config(
        {
            "run_name": "nlp",
            "data_type": "nlp",
            "data_info": {"ref_path": "ref.jsonl", "eval_path": "eval.jsonl", "label_col": "label"},
            **extra,
        }
    )
    adapter = None if model is None else ModelAdapter(model, source="test model")
    ref_predictions, eval_predictions = predictions or (None, None)
    return RunContext(
        config,
        ref,
        cur,
        model=adapter,
        ref_predictions=ref_predictions,
        eval_predictions=eval_predictions,
        importance=compute_importance,
    )


def single_cases(ctx: RunContext, ids: tuple[str, ...]) -> dict[str, TestCaseResult]:
    """The single case of each test of ``ids`` by test id, with the evidence of the run applied."""
    batches, _ = run_batches(ctx, [get_test(i) for i in ids], ctx.config, quiet)
    out = {}
    for batch in batches:
        assert len(batch.cases) == 1, batch.cases
        out[batch.test_id] = batch.cases[0]
    return out
