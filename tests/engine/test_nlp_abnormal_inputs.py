"""Abnormal Inputs tests of texts: clean splits pass, planted faults are HIGH in their test."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from text_data import make_texts
from text_models import memory_context, single_cases, tfidf

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.results import Severity, Status, TestCaseResult
from pytest_rime.engine.tests.nlp_abnormal_inputs import (
    expected_duplicate_share,
    foreign_shares,
    main_scripts,
    script_counts,
    unusual_counts,
)

TESTS = (
    "abnormal_inputs.empty_text",
    "abnormal_inputs.long_text",
    "abnormal_inputs.unusual_characters",
    "abnormal_inputs.non_language_text",
    "abnormal_inputs.out_of_vocabulary_text",
    "abnormal_inputs.duplicate_texts",
)


def run_tests(ctx: RunContext, ids: tuple[str, ...] = TESTS) -> dict[str, TestCaseResult]:
    return single_cases(ctx, ids)


def planted(cur: pd.DataFrame, texts: list[str]) -> pd.DataFrame:
    out = cur.copy()
    out.loc[: len(texts) - 1, "text"] = texts
    return out


@pytest.mark.parametrize(("rows", "seed"), [(200, 0), (300, 1), (400, 2), (600, 3), (250, 4)])
def test_clean_splits_pass(rows: int, seed: int) -> None:
    cases = run_tests(memory_context(make_texts(rows, seed), make_texts(rows, seed + 50)))
    for test_id, case in cases.items():
        assert case.severity.rank <= Severity.LOW.rank, (test_id, case.description)
        assert case.status == Status.PASS, (test_id, case.description)
        assert case.metrics["p_value"] is not None


def test_empty_texts_are_high_when_the_model_gets_the_prior() -> None:
    cur = planted(make_texts(300, 1), [""] * 40 + ["   \n"] * 20)
    case = run_tests(memory_context(make_texts(300, 0), cur))["abnormal_inputs.empty_text"]
    assert case.severity == Severity.HIGH, case.description
    assert case.metrics["failing_fraction"] == pytest.approx(0.2)
    assert case.importance_score >= 0.3
    assert case.metrics["examples"][0] == {"text": "", "reason": "empty or whitespace only"}


def test_empty_texts_a_constant_model_serves_alike_are_at_most_low() -> None:
    cur = planted(make_texts(300, 1), [""] * 60)
    ctx = memory_context(make_texts(300, 0), cur, model=lambda frame: np.full(len(frame), 0.7))
    case = run_tests(ctx, ("abnormal_inputs.empty_text",))["abnormal_inputs.empty_text"]
    assert case.status == Status.FAIL
    assert case.severity == Severity.LOW, case.description


def test_empty_texts_as_common_as_in_ref_are_not_significant() -> None:
    ref = planted(make_texts(300, 0), [""] * 30)
    cur = planted(make_texts(300, 1), [""] * 33)
    case = run_tests(memory_context(ref, cur), ("abnormal_inputs.empty_text",))[
        "abnormal_inputs.empty_text"
    ]
    assert case.metrics["expected_rate"] == pytest.approx(31 / 301)
    assert case.metrics["p_value"] == pytest.approx(stats.binom.sf(32, 300, 31 / 301))
    assert case.severity == Severity.LOW


def test_very_long_texts_are_high() -> None:
    cur = make_texts(300, 1)
    # a boilerplate of the other class appended: the decision moves, the text is 10x longer
    boiler = " ".join(make_texts(20, 7, classes=("money", "money"))["text"])
    cur = planted(cur, [t + " " + boiler for t in cur["text"][:60]])
    case = run_tests(memory_context(make_texts(300, 0), cur))["abnormal_inputs.long_text"]
    assert case.severity == Severity.HIGH, case.description
    assert case.metrics["failing_fraction"] == pytest.approx(0.2)
    assert "characters (bound" in case.metrics["examples"][0]["reason"]
    assert len(case.metrics["examples"][0]["text"]) <= 300


def test_foreign_script_texts_are_high() -> None:
    russian = ["Сегодня команда выиграла матч и тренер доволен"] * 30
    greek = ["Η τράπεζα ανακοίνωσε νέο δάνειο για την αγορά"] * 30  # noqa: RUF001
    cur = planted(make_texts(300, 1), russian + greek)
    cur.loc[:59, "text"] = [f"{t} {i}" for i, t in enumerate(cur["text"][:60])]  # not duplicates
    case = run_tests(memory_context(make_texts(300, 0), cur))["abnormal_inputs.non_language_text"]
    assert case.severity == Severity.HIGH, case.description
    assert "CYRILLIC" in case.metrics["examples"][0]["reason"]
    assert case.metrics["reference_scripts"] == ["LATIN"]


def test_texts_without_letters_are_non_language() -> None:
    cur = planted(make_texts(300, 1), ["12345 !!! ???"] * 10)
    case = run_tests(memory_context(make_texts(300, 0), cur))["abnormal_inputs.non_language_text"]
    assert case.metrics["failing_fraction"] == pytest.approx(10 / 300)
    assert case.metrics["examples"][0]["reason"] == "no letter"


def test_unusual_characters_that_break_words_are_high() -> None:
    cur = make_texts(300, 1)
    broken = ["\u200b".join(t) + " \x07😀" for t in cur["text"][:60]]  # zero-width spaces
    case = run_tests(memory_context(make_texts(300, 0), planted(cur, broken)))[
        "abnormal_inputs.unusual_characters"
    ]
    assert case.severity == Severity.HIGH, case.description
    reason = case.metrics["examples"][0]["reason"]
    assert "invisible format character" in reason and "control character" in reason


def test_unusual_characters_the_model_ignores_are_at_most_low() -> None:
    cur = make_texts(300, 1)
    noisy = [t + " \x07" for t in cur["text"][:60]]  # TF-IDF tokens are unchanged
    case = run_tests(memory_context(make_texts(300, 0), planted(cur, noisy)))[
        "abnormal_inputs.unusual_characters"
    ]
    assert case.status == Status.FAIL
    assert case.severity == Severity.LOW, case.description
    assert case.metrics["prediction_change"] == pytest.approx(0.0, abs=1e-9)


def test_out_of_vocabulary_texts_are_high_when_the_model_loses_them() -> None:
    cur = make_texts(300, 1)
    unknown = [
        " ".join(f"w{i}x{j}" for j in range(8)) + " " + " ".join(t.split()[:2])
        for i, t in enumerate(cur["text"][:60])
    ]
    case = run_tests(memory_context(make_texts(300, 0), planted(cur, unknown)))[
        "abnormal_inputs.out_of_vocabulary_text"
    ]
    assert case.severity == Severity.HIGH, case.description
    assert "unseen in ref" in case.metrics["examples"][0]["reason"]


def test_duplicated_rows_are_flagged_but_at_most_low_without_model_damage() -> None:
    cur = make_texts(300, 1)
    cur = pd.concat([cur.iloc[:240], cur.iloc[:60]], ignore_index=True)  # whole rows repeated
    case = run_tests(memory_context(make_texts(300, 0), cur))["abnormal_inputs.duplicate_texts"]
    assert case.metrics["eval_duplicate_share"] == pytest.approx(60 / 300)
    assert case.status == Status.FAIL
    assert case.metrics["p_value_adjusted"] < 0.01
    assert case.severity.rank <= Severity.MEDIUM.rank, case.description


def test_duplicates_as_common_as_in_ref_pass() -> None:
    ref = make_texts(300, 0)
    ref = pd.concat([ref.iloc[:270], ref.iloc[:30]], ignore_index=True)
    cur = make_texts(300, 1)
    cur = pd.concat([cur.iloc[:270], cur.iloc[:30]], ignore_index=True)
    case = run_tests(memory_context(ref, cur))["abnormal_inputs.duplicate_texts"]
    assert case.metrics["ref_duplicate_share"] == pytest.approx(0.1)
    assert case.status == Status.PASS  # the excess over ref's repeats is 0
    assert case.severity.rank <= Severity.LOW.rank


def test_expected_duplicate_share_matches_enumeration() -> None:
    values = ["a", "a", "a", "b", "b", "c", "d"]
    counts = np.array(list(Counter(values).values()))
    for size in (1, 2, 3, 5, 7):
        shares = [(size - len(set(sample))) / size for sample in combinations(values, size)]
        assert expected_duplicate_share(counts, size) == pytest.approx(np.mean(shares))


def test_character_and_script_helpers() -> None:
    assert unusual_counts("ok\tfine\n") == Counter()
    assert unusual_counts("a\x00b\u200bc😀\ufffd") == Counter(
        {
            "control character": 1,
            "invisible format character": 1,
            "emoji": 1,
            "unassigned, private-use or replacement character": 1,
        }
    )
    counts = [script_counts("Hello мир"), script_counts("日本"), script_counts("...")]
    assert counts[0] == Counter({"LATIN": 5, "CYRILLIC": 3})
    assert counts[1] == Counter({"CJK": 2})
    known = main_scripts(counts[:1], 0.5)
    assert known == frozenset({"LATIN"})
    assert foreign_shares(counts, known).tolist() == pytest.approx([3 / 8, 1.0, 1.0])


def test_edge_cases() -> None:
    ref = make_texts(100, 0)
    single = run_tests(memory_context(ref, make_texts(1, 1)))
    assert all(c.status == Status.PASS for c in single.values()), [
        c.description for c in single.values()
    ]
    empty_eval = run_tests(memory_context(ref, make_texts(5, 1).iloc[:0]))
    assert all(c.status == Status.PASS for c in empty_eval.values())
    all_blank = run_tests(memory_context(ref, make_texts(50, 1).assign(text="")))
    assert all_blank["abnormal_inputs.empty_text"].severity == Severity.HIGH
    assert all_blank["abnormal_inputs.non_language_text"].status == Status.PASS
    assert all_blank["abnormal_inputs.duplicate_texts"].status == Status.PASS


def test_precomputed_predictions_use_the_labelled_loss_only() -> None:
    ref = make_texts(300, 0)
    cur = planted(make_texts(300, 1), [""] * 60)
    ctx = memory_context(ref, cur, model=None, predictions=(tfidf(ref), tfidf(cur)))
    case = run_tests(ctx, ("abnormal_inputs.empty_text",))["abnormal_inputs.empty_text"]
    assert "prediction_change" not in case.metrics
    assert case.metrics["flagged_rows_loss"] > case.metrics["clean_rows_loss"]
    assert case.severity == Severity.HIGH
