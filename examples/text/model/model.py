"""Review model: is a food review a five-star one? ``predict_batch(texts)``, numpy only.

A TF-IDF + logistic regression pipeline trained by ``prepare_data.py`` with scikit-learn and
stored as plain numbers in ``model.json``; this module recomputes what scikit-learn's
``TfidfVectorizer`` (lower-cased word unigrams and bigrams, sublinear term frequency, idf
weights, unit length) and ``LogisticRegression`` compute, so the gate needs no scikit-learn.
Words the model never saw are ignored; an empty text gets the intercept's probability.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np


@functools.cache
def _artefact() -> dict[str, Any]:
    artefact: dict[str, Any] = json.loads(
        Path(__file__).with_name("model.json").read_text(encoding="utf-8")
    )
    artefact["index"] = {term: i for i, term in enumerate(artefact["vocabulary"])}
    artefact["pattern"] = re.compile(artefact["token_pattern"])
    return artefact


def _terms(text: str, artefact: dict[str, Any]) -> list[str]:
    words = artefact["pattern"].findall(text.lower())
    low, high = artefact["ngram_range"]
    return [
        " ".join(words[i : i + n]) for n in range(low, high + 1) for i in range(len(words) - n + 1)
    ]


def _score(text: str, artefact: dict[str, Any]) -> float:
    index, idf, weights = artefact["index"], artefact["idf"], artefact["weights"]
    counts = Counter(i for term in _terms(text, artefact) if (i := index.get(term)) is not None)
    values = {i: (1.0 + math.log(n)) * idf[i] for i, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in values.values())) or 1.0
    return float(artefact["intercept"] + sum(weights[i] * v / norm for i, v in values.items()))


def predict_batch(texts: list[str]) -> np.ndarray:
    """Probability that each review is a five-star (``great``) one."""
    artefact = _artefact()
    scores = np.array([_score(str(text), artefact) for text in texts], dtype=float)
    return 1.0 / (1.0 + np.exp(-scores))
