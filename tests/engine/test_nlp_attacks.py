"""The nlp Attacks test: a query-budgeted typo attack finds flips on fragile models only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from scipy import stats
from text_data import make_texts
from text_models import CLEAN_SPLITS, TYPO_FRAGILE, clean_split, context, quiet, with_typos

from pytest_rime.engine.catalog import all_tests, get_test
from pytest_rime.engine.context import RunContext
from pytest_rime.engine.errors import ConfigError
from pytest_rime.engine.registry import TestSettings
from pytest_rime.engine.results import Severity, Status, TestCaseResult
from pytest_rime.engine.robustness import perturbation_sample
from pytest_rime.engine.run import run_batches, settings_for
from pytest_rime.engine.tests import nlp_attacks as na

TEST_ID = "attacks.text_character_attack"

CRASH_ON_TYPO = """
import joblib

PIPE = joblib.load({path!r})
VECTORIZER = PIPE.steps[0][1]
ANALYZE = VECTORIZER.build_analyzer()


def predict_batch(texts):
    for text in texts:
        if any(t not in VECTORIZER.vocabulary_ for t in ANALYZE(text)):
            raise KeyError("unknown word")
    return PIPE.predict_proba(list(texts))[:, 1]
"""


def attack_case(ctx: RunContext) -> TestCaseResult:
    batches, _ = run_batches(ctx, [get_test(TEST_ID)], ctx.config, quiet)
    (case,) = batches[0].cases
    return case


def _config(**params: Any) -> dict[str, Any]:
    return {"tests_config": {TEST_ID: params}} if params else {}


def test_the_attack_is_registered_for_nlp_only() -> None:
    assert TEST_ID in {spec.test_id for spec in all_tests("nlp")}
    assert TEST_ID not in {spec.test_id for spec in all_tests("tabular")}
    spec = get_test(TEST_ID)
    assert spec.category == "Attacks" and spec.needs_model


def test_a_typo_fragile_model_is_flipped_by_one_edit_and_high_when_eval_has_typos(
    tmp_path: Path,
) -> None:
    ref, cur = make_texts(300, 0), with_typos(make_texts(300, 1), 0.3, 5)
    ctx = context(tmp_path, ref, cur, TYPO_FRAGILE)
    calls = ctx.model.n_calls if ctx.model else 0
    case = attack_case(ctx)
    metrics = case.metrics
    assert case.severity is Severity.HIGH, case.description
    assert metrics["attack_success_rate"] == metrics["statistic"]
    # texts that already hold a typo are flipped already: another typo changes nothing there
    assert float(metrics["attack_success_rate"]) > 0.8
    assert metrics["mean_words_changed"] == 1.0
    assert metrics["exposed"] is True
    # batched: one call for the sample, one for word importance, one per edit step
    assert ctx.model is not None
    assert ctx.model.n_calls - calls == 1 + metrics["predict_calls"]
    # texts already flipped by their own typo go on to the next word: a few steps, not one
    # call per text or per query
    assert 2 <= metrics["predict_calls"] <= 5 < metrics["texts_attacked"]
    examples = metrics["examples"]
    assert isinstance(examples, list) and 1 <= len(examples) <= 3
    for example in examples:
        assert isinstance(example, dict)
        assert example["prediction_before"] != example["prediction_after"]
        assert example["words_changed"] == 1
        assert isinstance(example["queries"], int) and example["queries"] <= na.MAX_QUERIES
        before, after = str(example["original"]).split(), str(example["perturbed"]).split()
        assert len(before) == len(after)
        assert len({a.lower() for a, b in zip(before, after, strict=True) if a != b}) == 1
    assert "e.g." in case.description


def test_a_typo_fragile_model_is_capped_at_medium_on_clean_eval(tmp_path: Path) -> None:
    ctx = context(tmp_path, make_texts(300, 0), make_texts(300, 1), TYPO_FRAGILE)
    case = attack_case(ctx)
    assert case.status is Status.FAIL
    assert case.severity is Severity.MEDIUM
    assert "Capped at MEDIUM" in case.description and "typos" in case.description


@pytest.mark.parametrize(("seed", "classes"), CLEAN_SPLITS)
def test_a_healthy_pipeline_on_clean_splits_is_at_most_low(
    tmp_path: Path, seed: int, classes: tuple[str, ...]
) -> None:
    ctx = clean_split(tmp_path, seed, classes)
    case = attack_case(ctx)
    assert case.severity.rank <= Severity.LOW.rank, case.description
    assert float(case.metrics["attack_success_rate"]) < 0.4


def test_queries_stay_within_the_budget(tmp_path: Path) -> None:
    ctx = context(tmp_path, make_texts(200, 0), make_texts(200, 1), TYPO_FRAGILE)
    spec = get_test(TEST_ID)
    for budget in (2, 6, 30):
        settings = TestSettings(
            spec.thresholds, {**spec.params, "max_queries": budget}, ctx.config.random_seed
        )
        sample = perturbation_sample(ctx, int(settings.params["sample_size"]))
        outcome = na.run_attack(ctx, sample, settings)
        assert outcome.error is None
        assert all(t.queries <= budget for t in outcome.targets)
        assert all(t.changed <= t.max_words for t in outcome.targets)


def test_a_small_budget_finds_fewer_flips(tmp_path: Path) -> None:
    ref, cur = make_texts(300, 0), make_texts(300, 1)
    small = attack_case(context(tmp_path / "a", ref, cur, **_config(max_queries=2)))
    large = attack_case(context(tmp_path / "b", ref, cur, **_config(max_words_fraction=0.5)))
    assert float(small.metrics["mean_queries"]) <= 2
    assert small.metrics["attack_success_rate"] < large.metrics["attack_success_rate"]


def test_the_attack_is_deterministic(tmp_path: Path) -> None:
    ref, cur = make_texts(200, 0), make_texts(200, 1)
    first = attack_case(context(tmp_path / "a", ref, cur))
    second = attack_case(context(tmp_path / "b", ref, cur))
    assert first.metrics == second.metrics


def test_success_rate_and_p_value_match_an_independent_computation(tmp_path: Path) -> None:
    ctx = context(tmp_path, make_texts(300, 0), make_texts(300, 1))
    case = attack_case(ctx)
    spec = get_test(TEST_ID)
    settings = settings_for(ctx.config, spec)
    sample = perturbation_sample(ctx, na.SAMPLE_SIZE)
    outcome = na.run_attack(ctx, sample, settings)
    # every success is a real flip: re-predict the final texts with the pipeline
    won = [t for t in outcome.targets if t.flipped]
    pipe = joblib.load(tmp_path / "model.joblib")
    before = pipe.predict([t.original for t in won])
    after = pipe.predict([t.current for t in won])
    assert np.all(before != after)
    # the misclassified texts are not attacked
    labels = sample.labels.to_numpy() if sample.labels is not None else None
    assert labels is not None
    right = pipe.predict(sample.inputs["text"].tolist()) == labels
    assert case.metrics["texts_attacked"] == int(right.sum()) == len(outcome.targets)
    successes, count = len(won), len(outcome.targets)
    assert case.metrics["successful_attacks"] == successes
    assert case.metrics["attack_success_rate"] == pytest.approx(successes / count)
    p_value = stats.binomtest(successes, count, spec.thresholds[0], alternative="greater").pvalue
    assert case.metrics["p_value"] == pytest.approx(p_value)


def test_without_labels_every_sampled_text_is_attacked(tmp_path: Path) -> None:
    ctx = context(tmp_path, make_texts(200, 0), make_texts(200, 1))
    ctx.label_col = None  # the run has no labels
    case = attack_case(ctx)
    assert case.metrics["texts_attacked"] == na.SAMPLE_SIZE
    assert case.metrics["texts_misclassified"] == 0
    assert "correctly classified" not in case.description


def test_a_model_that_crashes_on_edited_texts_fails(tmp_path: Path) -> None:
    ctx = context(tmp_path, make_texts(200, 0), make_texts(200, 1), CRASH_ON_TYPO)
    case = attack_case(ctx)
    assert case.status is Status.FAIL and case.metrics["statistic"] == 1.0
    assert "unknown word" in str(case.metrics["model_error"])
    assert case.severity is Severity.MEDIUM  # the eval texts hold no typo


def test_texts_without_words_are_skipped(tmp_path: Path) -> None:
    cur = make_texts(50, 1)
    cur["text"] = "?!"
    ctx = context(tmp_path, make_texts(100, 0), cur)
    ctx.label_col = None
    case = attack_case(ctx)
    assert case.status is Status.SKIP
    assert "no sampled text has a word" in case.description.lower()


def test_a_budget_below_two_queries_is_refused_by_validation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"max_queries: expected a number in \[2, 100000\]"):
        context(tmp_path, make_texts(100, 0), make_texts(100, 1), **_config(max_queries=1))


def test_word_edits_are_whole_word_and_case_insensitive() -> None:
    assert na.drop_word("The team, the TEAM and teams", "team") == "The , the  and teams"
    assert na.replace_word("Goal! goal goals", "goal", "gaol") == "gaol! gaol goals"
    assert na.replace_word("a+b", "a", "x") == "x+b"
