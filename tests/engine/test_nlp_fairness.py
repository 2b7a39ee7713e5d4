"""Bias and Fairness tests of text classifiers (``pytest_rime.engine.tests.nlp_fairness``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from text_data import make_texts
from text_models import context, pipe_model, quiet

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.results import Severity, Status, TestCaseResult
from pytest_rime.engine.run import run_batches
from pytest_rime.engine.tests.nlp_fairness import flip_p_value, swap_families

CATEGORY = "Bias and Fairness"
GENDER = "bias_and_fairness.text_gender_swap"
MALE = ["He", "The man", "His brother", "My father", "Mr Smith"]
FEMALE = ["She", "The woman", "Her sister", "My mother", "Mrs Smith"]

SHE_BONUS = """
import re
import numpy as np
FEMALE = re.compile(r"\\b(she|her|woman)\\b", re.IGNORECASE)
def predict_batch(texts):
    p = PIPE.predict_proba(texts)[:, 1]
    return np.clip(p + 0.4 * np.array([bool(FEMALE.search(t)) for t in texts]), 0, 1)
"""


def _gendered(frame: pd.DataFrame, seed: int, subjects: list[str], share: float = 0.5):  # type: ignore[no-untyped-def]
    """``frame`` with ``share`` of its texts opening with "<subject> said:"."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    chosen = rng.random(len(out)) < share
    out.loc[chosen, "text"] = [
        f"{rng.choice(subjects)} said: {t[0].lower()}{t[1:]}" for t in out.loc[chosen, "text"]
    ]
    return out


def _run(
    folder: Path,
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    *,
    model: str | None = None,
    protected: list[str] | None = None,
    **extra: Any,
) -> tuple[dict[str, list[TestCaseResult]], Any]:
    """Bias and Fairness cases of an nlp run (evidence applied) by test id, and the context."""
    source = None if model is None else pipe_model(model)
    data_info = None if protected is None else {"protected_features": protected}
    ctx = context(folder, ref, cur, source, data_info=data_info, **extra)
    specs = [s for s in all_tests("nlp") if s.category == CATEGORY]
    batches, _ = run_batches(ctx, specs, ctx.config, quiet)
    return {b.test_id: list(b.cases) for b in batches}, ctx


# ----------------------------------------------------------------------------- swaps
def test_shipped_list_has_the_four_families_with_equal_lines() -> None:
    families = swap_families()
    assert set(families) == {"gender", "name", "nationality", "religion"}
    for family in families.values():
        assert family.sides >= 2
        assert all(len(line) == family.sides for line in family.lines)
    assert families["gender"].side_names == ("he", "she")


def test_swap_is_whole_word_and_keeps_case() -> None:
    gender = swap_families()["gender"]
    assert gender.swap("He told HER that his mother's Man was there.", 1) == (
        "She told HIS that her father's Woman was there."
    )  # "her" is ambiguous (his / him): the first line listing it, "his her", decides
    assert gender.swap("the sheep then shed the helmet", 1) == "the sheep then shed the helmet"
    assert gender.sides_in("She and her brother") == {0, 1}


def test_group_families_move_every_term_by_the_same_offset() -> None:
    religion = swap_families()["religion"]
    text = "A Christian went to church"
    assert religion.swap(text, 1) == "A Muslim went to mosque"
    assert religion.swap(text, 2) == "A Jewish went to synagogue"
    assert religion.swap(text, religion.sides) == text


@pytest.mark.parametrize(
    ("flips", "rows", "tolerance"), [(0, 50, 0.01), (3, 100, 0.01), (9, 300, 0.02)]
)
def test_flip_p_value_is_the_exact_binomial_tail(flips: int, rows: int, tolerance: float) -> None:
    brute = sum(
        math.comb(rows, k) * tolerance**k * (1 - tolerance) ** (rows - k)
        for k in range(flips, rows + 1)
    )
    assert flip_p_value(flips, rows, tolerance) == pytest.approx(brute, rel=1e-9)
    expected = stats.binomtest(flips, rows, tolerance, alternative="greater").pvalue
    assert flip_p_value(flips, rows, tolerance) == pytest.approx(expected)


# ------------------------------------------------------------------------------- runs
@pytest.mark.parametrize("seed", [0, 2, 4])
def test_healthy_pipeline_with_gendered_texts_has_no_medium_or_high(
    tmp_path: Path, seed: int
) -> None:
    subjects = [*MALE, *FEMALE, "John", "Mary", "An American", "A Muslim", "A Christian"]
    ref = _gendered(make_texts(400, seed), seed, subjects)
    cur = _gendered(make_texts(400, seed + 1), seed + 1, subjects)
    batches, _ = _run(tmp_path, ref, cur)
    cases = [c for cases in batches.values() for c in cases]
    assert all(c.severity.rank <= Severity.LOW.rank for c in cases), [
        (c.test_id, c.description) for c in cases if c.severity.rank > Severity.LOW.rank
    ]
    (gender,) = batches[GENDER]
    assert gender.status is not Status.SKIP


def test_model_that_favours_female_texts_is_high_with_examples(tmp_path: Path) -> None:
    ref = _gendered(make_texts(400, 0), 0, [*MALE, *FEMALE])
    cur = _gendered(make_texts(400, 1), 1, [*MALE, *FEMALE])
    batches, _ = _run(tmp_path, ref, cur, model=SHE_BONUS)
    (case,) = batches[GENDER]
    assert (case.status, case.severity) == (Status.FAIL, Severity.HIGH), case.description
    assert case.features == ("text",)
    metrics = case.metrics
    with_terms = int(cur["text"].str.contains(" said: ").sum())
    assert metrics["eval_texts_with_terms"] == with_terms
    assert metrics["flip_rate"] == pytest.approx(
        metrics["decisions_flipped"] / metrics["texts_swapped"]
    )
    expected_p = stats.binomtest(
        metrics["decisions_flipped"], metrics["texts_swapped"], 0.01, alternative="greater"
    ).pvalue
    assert metrics["p_value"] == pytest.approx(expected_p)
    sides = {row["side"]: row for row in metrics["sides"]}
    # male -> female adds the bonus (to the swaps that produce she, her or woman)
    assert sides["he"]["mean_probability_change"] > 0.1
    assert sides["she"]["mean_probability_change"] < -0.1
    examples = metrics["examples"]
    assert 1 <= len(examples) <= 3
    for example in examples:
        assert example["original"] != example["perturbed"]
        assert (example["prediction_before"] >= 0.5) != (example["prediction_after"] >= 0.5)
    # the original text is an eval text, its swap the engine's own
    assert examples[0]["original"] in set(cur["text"])


def test_swaps_of_a_family_are_predicted_in_one_call(tmp_path: Path) -> None:
    ref = _gendered(make_texts(300, 0), 0, [*MALE, *FEMALE])
    cur = _gendered(make_texts(300, 1), 1, [*MALE, *FEMALE])
    _, ctx = _run(tmp_path, ref, cur)
    calls = ctx.model.n_calls
    from pytest_rime.engine.catalog import get_test
    from pytest_rime.engine.run import run_test, settings_for

    spec = get_test(GENDER)
    run_test(ctx, spec, settings_for(ctx.config, spec), quiet)
    assert ctx.model.n_calls == calls + 1


def test_swap_the_eval_data_does_not_show_is_capped_at_medium(tmp_path: Path) -> None:
    ref = _gendered(make_texts(400, 0), 0, MALE)
    cur = _gendered(make_texts(400, 1), 1, MALE)  # men only: "she" is a what-if
    batches, _ = _run(tmp_path, ref, cur, model=SHE_BONUS)
    (case,) = batches[GENDER]
    assert case.status is Status.FAIL and case.severity is Severity.MEDIUM, case.description
    assert case.metrics["statistic"] >= 0.1  # HIGH by the thresholds alone
    assert "Capped at MEDIUM" in case.description and "hypothetical" in case.description
    assert case.metrics["exposed_sides"] == ["he"]


def test_family_mentioned_by_few_eval_texts_is_at_most_medium(tmp_path: Path) -> None:
    ref = _gendered(make_texts(300, 0), 0, [*MALE, *FEMALE], share=0.5)
    cur = _gendered(make_texts(1000, 1), 1, [*MALE, *FEMALE], share=0.02)
    config = {"tests_config": {GENDER: {"min_texts": 5, "min_side_texts": 2}}}
    batches, _ = _run(tmp_path, ref, cur, model=SHE_BONUS, **config)
    (case,) = batches[GENDER]
    assert case.status is Status.FAIL and case.metrics["statistic"] >= 0.1, case.description
    share = case.metrics["eval_share_with_terms"]
    assert share == pytest.approx(cur["text"].str.contains(" said: ").mean())
    assert share < 0.03  # impact under 0.3: MEDIUM at most
    assert case.severity is Severity.MEDIUM
    assert "lowered by the model impact" in case.description


def test_family_with_too_few_texts_is_skipped(tmp_path: Path) -> None:
    batches, _ = _run(tmp_path, make_texts(300, 0), make_texts(300, 1))
    for test_id in (GENDER, "bias_and_fairness.text_religion_swap"):
        (case,) = batches[test_id]
        assert case.status is Status.SKIP
        assert "0 eval texts mention" in case.description and "min_texts=20" in case.description


# ------------------------------------------------------------- protected metadata columns
def test_group_fairness_runs_on_protected_metadata_and_skips_the_text(tmp_path: Path) -> None:
    batches, _ = _run(
        tmp_path, make_texts(400, 0), make_texts(400, 1), protected=["source", "text"]
    )
    for slug in ("demographic_parity", "equal_opportunity", "predictive_equality"):
        cases = batches[f"bias_and_fairness.text_{slug}"]
        by_feature = {c.features: c for c in cases}
        assert by_feature[("text",)].status is Status.SKIP
        assert by_feature[("source",)].status is not Status.SKIP
        assert by_feature[("source",)].severity.rank <= Severity.LOW.rank


def test_model_unfair_to_a_metadata_group_fails_demographic_parity(tmp_path: Path) -> None:
    model = """
import numpy as np
def predict_df(df):
    p = PIPE.predict_proba(df["text"])[:, 1]
    return np.where((df["source"] == "mail").to_numpy(), p * 0.3, p)
"""
    batches, _ = _run(
        tmp_path, make_texts(400, 0), make_texts(400, 1), model=model, protected=["source"]
    )
    (case,) = batches["bias_and_fairness.text_demographic_parity"]
    assert (case.status, case.severity) == (Status.FAIL, Severity.HIGH), case.description
    assert case.metrics["lowest_group"] == "mail"


def test_group_tests_skip_without_protected_features(tmp_path: Path) -> None:
    batches, _ = _run(tmp_path, make_texts(300, 0), make_texts(300, 1))
    (case,) = batches["bias_and_fairness.text_demographic_parity"]
    assert case.status is Status.SKIP and "protected_features" in case.description


def test_nlp_fairness_ids_are_nlp_only() -> None:
    ids = {s.test_id for s in all_tests("nlp") if s.category == CATEGORY}
    assert GENDER in ids and "bias_and_fairness.text_demographic_parity" in ids
    assert not ids & {s.test_id for s in all_tests("tabular")}
