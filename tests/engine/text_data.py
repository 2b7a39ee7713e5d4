"""Synthetic text classification data and models for the ``nlp`` engine tests.

Each class has its own topic words; every text mixes a few topic words of its class with filler
words common to all classes, so a bag-of-words model learns the task well but not perfectly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

TOPICS: dict[str, tuple[str, ...]] = {
    "sport": ("match", "goal", "team", "coach", "league", "score", "player", "season"),
    "money": ("bank", "loan", "price", "market", "stock", "budget", "invoice", "profit"),
    "health": ("doctor", "clinic", "fever", "patient", "nurse", "vaccine", "therapy", "pain"),
    "travel": ("flight", "hotel", "beach", "ticket", "luggage", "museum", "train", "tour"),
}
FILLER = (
    "the", "a", "and", "today", "we", "they", "about", "really", "new", "our", "was", "is",
    "with", "for", "this", "that", "very", "some", "more", "news",
)  # fmt: skip


def make_texts(
    rows: int, seed: int, classes: tuple[str, ...] = ("sport", "money"), noise: float = 0.15
) -> pd.DataFrame:
    """``rows`` texts of the ``classes`` topics with columns ``text``, ``label``, ``source``.

    ``noise``: share of topic words drawn from another class (so the task is not trivial).
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(classes), rows)
    texts = []
    for label in labels:
        words = list(rng.choice(FILLER, rng.integers(4, 12)))
        for _ in range(rng.integers(2, 5)):
            topic = classes[label]
            if rng.random() < noise:
                topic = classes[rng.integers(0, len(classes))]
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(TOPICS[topic])))
        texts.append(" ".join(words).capitalize() + ".")
    label_values: Any = labels if len(classes) > 2 else labels.astype(int)
    return pd.DataFrame(
        {"text": texts, "label": label_values, "source": rng.choice(["web", "mail"], rows)}
    )


def train_pipeline(frame: pd.DataFrame) -> Pipeline:
    """TF-IDF + logistic regression on ``frame.text`` -> ``frame.label``."""
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
    pipeline.fit(frame["text"], frame["label"])
    return pipeline


@dataclass(frozen=True)
class TextRun:
    """Files of one text stress test: ref, eval and the pickled pipeline."""

    ref_path: Path
    eval_path: Path
    model_path: Path

    def config(self, **extra: Any) -> dict[str, Any]:
        """The nlp test run config of these files (``extra`` keys added on top)."""
        return {
            "run_name": "texts",
            "data_type": "nlp",
            "data_info": {
                "ref_path": str(self.ref_path),
                "eval_path": str(self.eval_path),
                "label_col": "label",
            },
            "model_info": {"path": str(self.model_path)},
            **extra,
        }


def write_text_run(
    folder: Path, ref: pd.DataFrame, cur: pd.DataFrame, train: pd.DataFrame | None = None
) -> TextRun:
    """Write ``ref`` and ``cur`` as jsonl and a pipeline trained on ``train`` (default: ref)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in (("ref.jsonl", ref), ("eval.jsonl", cur)):
        path = folder / name
        path.write_text(
            "\n".join(json.dumps(row) for row in frame.to_dict("records")) + "\n",
            encoding="utf-8",
        )
        paths.append(path)
    model_path = folder / "model.joblib"
    joblib.dump(train_pipeline(ref if train is None else train), model_path)
    return TextRun(paths[0], paths[1], model_path)
