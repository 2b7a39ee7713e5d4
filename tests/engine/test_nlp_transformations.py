"""The nlp Transformations tests: flips measured, batched, capped unless eval shows the text."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from text_data import make_texts, write_text_run
from text_models import CLEAN_SPLITS, TYPO_FRAGILE, clean_split, context, quiet, with_typos

from pytest_rime.engine import text_perturb as tp
from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.context import RunContext
from pytest_rime.engine.results import Severity, Status, TestCaseResult
from pytest_rime.engine.robustness import flip_p_value, perturbation_sample
from pytest_rime.engine.run import load_context, run_batches
from pytest_rime.engine.tests import nlp_transformations as nt
from pytest_rime.engine.tests.transformations import THRESHOLDS
from pytest_rime.engine.text import tokens
from pytest_rime.engine.validation import validate_config

IDS = [f"transformations.{spec.slug}" for spec in nt.TEXT_TRANSFORMATIONS]
CHARACTER_IDS = [
    "transformations.text_character_insertion",
    "transformations.text_character_deletion",
    "transformations.text_character_substitution",
    "transformations.text_character_swap",
    "transformations.text_keyboard_typos",
]

UPPER_CRASH = """
import joblib

PIPE = joblib.load({path!r})


def predict_batch(texts):
    if any(t.isupper() for t in texts):
        raise ValueError("cannot read shouting")
    return PIPE.predict_proba(list(texts))[:, 1]
"""


def run_cases(ctx: RunContext, ids: list[str] = IDS) -> dict[str, TestCaseResult]:
    specs = [spec for spec in all_tests("nlp") if spec.test_id in ids]
    batches, _ = run_batches(ctx, specs, ctx.config, quiet)
    out = {}
    for batch in batches:
        assert len(batch.cases) == 1, batch
        out[batch.test_id] = batch.cases[0]
    return out


def test_every_transformation_is_registered_for_nlp_only() -> None:
    nlp = {spec.test_id: spec for spec in all_tests("nlp")}
    tabular = {spec.test_id for spec in all_tests("tabular")}
    for test_id in IDS:
        assert test_id in nlp and test_id not in tabular
        assert nlp[test_id].category == "Transformations"
        assert nlp[test_id].needs_model
    assert len(IDS) == 15


@pytest.mark.parametrize(("seed", "classes"), CLEAN_SPLITS)
def test_a_healthy_pipeline_on_clean_splits_is_at_most_low(
    tmp_path: Path, seed: int, classes: tuple[str, ...]
) -> None:
    ctx = clean_split(tmp_path, seed, classes)
    calls = ctx.model.n_calls if ctx.model else 0
    cases = run_cases(ctx)
    assert all(c.severity.rank <= Severity.LOW.rank for c in cases.values()), {
        k: (c.severity, c.description) for k, c in cases.items() if c.severity.rank > 1
    }
    # ASCII text: folding to ASCII changes nothing, a SKIP with the reason
    assert cases["transformations.text_unicode_to_ascii"].status is Status.SKIP
    # one call for the sample, then ONE call per test that changed texts
    ran = sum(1 for c in cases.values() if c.status is not Status.SKIP)
    assert ctx.model is not None and ctx.model.n_calls - calls == 1 + ran


def test_a_typo_fragile_model_is_high_when_eval_holds_30pct_typos(tmp_path: Path) -> None:
    ref, cur = make_texts(300, 0), with_typos(make_texts(300, 1), 0.3, 5)
    ctx = context(tmp_path, ref, cur, TYPO_FRAGILE)
    cases = run_cases(ctx)
    for test_id in CHARACTER_IDS:
        case = cases[test_id]
        assert case.severity is Severity.HIGH, (test_id, case.description)
        assert case.metrics["exposed"] is True
        assert case.metrics["eval_exposure"] == pytest.approx(0.3, abs=0.02)
        assert case.metrics["accuracy_drop"] > 0.3
        assert case.importance_score == case.metrics["share_turned_wrong"]
        examples = case.metrics["examples"]
        assert isinstance(examples, list) and 1 <= len(examples) <= 3
        for example in examples:
            assert isinstance(example, dict)
            assert example["original"] != example["perturbed"]
            assert example["prediction_before"] != example["prediction_after"]
    # the eval texts hold no OCR confusion, upper case or whitespace noise: what-ifs only
    ocr = cases["transformations.text_ocr_errors"]
    assert ocr.status is Status.FAIL and ocr.severity is Severity.MEDIUM
    assert "Capped at MEDIUM" in ocr.description and "OCR" in ocr.description
    # casing and spacing leave the model's tokens alone: no flip
    assert cases["transformations.text_upper_case"].status is Status.PASS
    assert cases["transformations.text_whitespace_noise"].status is Status.PASS


def test_a_typo_fragile_model_is_capped_at_medium_on_clean_eval(tmp_path: Path) -> None:
    ctx = context(tmp_path, make_texts(300, 0), make_texts(300, 1), TYPO_FRAGILE)
    cases = run_cases(ctx, CHARACTER_IDS)
    for case in cases.values():
        assert case.status is Status.FAIL
        assert case.metrics["statistic"] > 0.8
        assert case.severity is Severity.MEDIUM
        assert case.metrics["exposed"] is False
        assert "Capped at MEDIUM" in case.description and "typos" in case.description


def test_statistics_match_an_independent_computation(tmp_path: Path) -> None:
    ref, cur = make_texts(300, 0), with_typos(make_texts(300, 1), 0.3, 5)
    ctx = context(tmp_path, ref, cur, TYPO_FRAGILE)
    test_id = "transformations.text_character_deletion"
    case = run_cases(ctx, [test_id])[test_id]
    # redo the perturbation and predict with the pipeline directly
    sample = perturbation_sample(ctx, nt.SAMPLE_SIZE)
    originals = sample.inputs["text"].tolist()
    rng = ctx.rng("nlp_transformation:a letter deleted from some words")
    new = [tp.delete_characters(t, rng, tp.DEFAULT_RATE) for t in originals]
    rows = [i for i in range(len(new)) if new[i] != originals[i]]
    pipe = joblib.load(tmp_path / "model.joblib")
    vectorizer = pipe.steps[0][1]
    analyze = vectorizer.build_analyzer()

    def decide(texts: list[str]) -> np.ndarray:
        p = pipe.predict_proba(texts)[:, 1]
        unknown = np.array(
            [any(t not in vectorizer.vocabulary_ for t in analyze(x)) for x in texts]
        )
        decisions: np.ndarray = np.where(unknown, 1 - p, p) >= 0.5
        return decisions

    before = decide([originals[i] for i in rows])
    after = decide([new[i] for i in rows])
    flips = int((before != after).sum())
    assert case.metrics["texts_perturbed"] == len(rows)
    assert case.metrics["decisions_changed"] == flips
    labels = sample.labels.to_numpy()[rows] == 1 if sample.labels is not None else None
    assert labels is not None
    right_before, right_after = before == labels, after == labels
    assert case.metrics["accuracy_before"] == pytest.approx(right_before.mean())
    assert case.metrics["accuracy_after"] == pytest.approx(right_after.mean())
    worse = int((right_before & ~right_after).sum())
    better = int((~right_before & right_after).sum())
    assert (case.metrics["rows_worse"], case.metrics["rows_better"]) == (worse, better)
    # the impact is the share of perturbed texts turned wrong
    assert case.metrics["share_turned_wrong"] == pytest.approx(worse / len(rows))
    assert case.importance_score == pytest.approx(worse / len(rows))
    flip_p = stats.binomtest(flips, len(rows), THRESHOLDS[0], alternative="greater").pvalue
    mcnemar = stats.binomtest(worse, worse + better, 0.5, alternative="greater").pvalue
    assert case.metrics["flip_p_value"] == pytest.approx(flip_p)
    assert case.metrics["mcnemar_p_value"] == pytest.approx(mcnemar)
    assert case.metrics["p_value"] == pytest.approx(max(flip_p, mcnemar))


def test_flip_p_value_is_the_exact_binomial_tail() -> None:
    for flips, total, tolerance in ((0, 10, 0.05), (3, 10, 0.05), (10, 10, 0.3), (7, 40, 0.1)):
        tail = sum(stats.binom.pmf(k, total, tolerance) for k in range(flips, total + 1))
        assert flip_p_value(flips, total, tolerance) == pytest.approx(tail)
    assert flip_p_value(0, 0, 0.05) == 1.0


def test_a_model_that_crashes_on_the_transformation_fails_and_is_capped(tmp_path: Path) -> None:
    ctx = context(tmp_path, make_texts(200, 0), make_texts(200, 1), UPPER_CRASH)
    test_id = "transformations.text_upper_case"
    case = run_cases(ctx, [test_id])[test_id]
    assert case.status is Status.FAIL
    assert case.metrics["statistic"] == 1.0
    assert "cannot read shouting" in str(case.metrics["model_error"])
    assert case.severity is Severity.MEDIUM  # no upper-case eval text


def test_an_exposed_crash_is_high(tmp_path: Path) -> None:
    cur = make_texts(200, 1)
    cur.loc[:29, "text"] = cur.text[:30].str.upper()  # 15% of eval texts shout
    # the model serves a few upper-case texts per batch, not a batch of them
    model = UPPER_CRASH.replace(
        "any(t.isupper() for t in texts)", "sum(t.isupper() for t in texts) > 50"
    )
    ctx = context(tmp_path, make_texts(200, 0), cur, model)
    case = run_cases(ctx, ["transformations.text_upper_case"])["transformations.text_upper_case"]
    assert case.status is Status.FAIL and case.metrics["statistic"] == 1.0
    assert case.metrics["texts_perturbed"] == 170
    assert case.metrics["exposed"] is True
    assert case.severity is Severity.HIGH


def test_without_labels_the_flip_rate_is_the_impact(tmp_path: Path) -> None:
    run = write_text_run(tmp_path, make_texts(300, 0), with_typos(make_texts(300, 1), 0.3, 5))
    config = run.config()
    del config["data_info"]["label_col"]
    model = tmp_path / "model.py"
    model.write_text(TYPO_FRAGILE.format(path=str(run.model_path)), encoding="utf-8")
    config["model_info"] = {"path": str(model)}
    ctx, _ = load_context(validate_config(config), log=quiet)
    case = run_cases(ctx, ["transformations.text_character_swap"])[
        "transformations.text_character_swap"
    ]
    assert "accuracy_before" not in case.metrics
    assert case.metrics["p_value"] == case.metrics["flip_p_value"]
    assert case.severity is Severity.HIGH


def test_precomputed_predictions_only_skip(tmp_path: Path) -> None:
    ref, cur = make_texts(100, 0), make_texts(100, 1)
    ref["pred"], cur["pred"] = 0.5, 0.5
    run = write_text_run(tmp_path, ref, cur)
    config = run.config()
    del config["model_info"]
    config["data_info"]["pred_col"] = "pred"
    ctx, _ = load_context(validate_config(config), log=quiet)
    for case in run_cases(ctx).values():
        assert case.status is Status.SKIP
        assert "model" in case.description


def test_empty_eval_texts_skip_with_a_reason(tmp_path: Path) -> None:
    cur = make_texts(50, 1)
    cur["text"] = ""
    ctx = context(tmp_path, make_texts(100, 0), cur)
    for case in run_cases(ctx).values():
        assert case.status is Status.SKIP
        assert "change no sampled text" in case.description


# ------------------------------------------------------------------------------ exposure
def _damerau_one(a: str, b: str) -> bool:
    """Brute force: ``b`` is one insertion, deletion, substitution or adjacent swap from ``a``."""
    if a == b:
        return False
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def test_neighbours_match_brute_force() -> None:
    vocabulary = Counter(["player", "players", "team", "coach", "goal", "ab", "ba", "abc"])
    words = nt.ReferenceWords.of(vocabulary)
    rng = np.random.default_rng(0)
    probes = {"playr", "pleyer", "palyer", "tema", "tam", "coachh", "gaol", "ba", "b", "xyz"}
    for word in vocabulary:
        for _ in range(5):
            probes.add(tp.substitute_characters(word + "x", rng, 1.0)[:-1])
            probes.add(tp.swap_characters(word, rng, 1.0))
    for token in probes:
        expected = {w for w in vocabulary if _damerau_one(token, w)}
        assert words.neighbours(token) == expected, token


def test_typo_exposure_matches_a_brute_force_count(tmp_path: Path) -> None:
    ref, cur = make_texts(200, 0), with_typos(make_texts(200, 1), 0.2, 3)
    ctx = context(tmp_path, ref, cur)
    counts = Counter(t for text in ref.text for t in tokens(text))

    def typo(token: str) -> bool:
        return (
            len(token) >= nt.MIN_TYPO_LENGTH
            and token.isalpha()
            and counts[token] == 0
            and any(
                _damerau_one(token, w)
                and c >= nt.MIN_NEIGHBOUR_COUNT
                and not (w.startswith(token) or token.startswith(w))
                for w, c in counts.items()
            )
        )

    expected = sum(1 for text in cur.text if any(typo(t) for t in tokens(text))) / len(cur)
    measure = nt.measure_exposure(ctx, "typos")
    assert measure.share == pytest.approx(expected)
    assert measure.share == pytest.approx(0.2, abs=0.02)
    assert measure.baseline == 0.0 and measure.exposed


def test_a_random_split_is_not_exposed_to_typos(tmp_path: Path) -> None:
    # a Zipfian vocabulary of 2,000 short words: eval holds rare words one letter from common
    # ref words by chance, and so does each ref text read against the others
    rng = np.random.default_rng(0)
    stems = list(dict.fromkeys("".join(rng.choice(list("abcdefghij"), 4)) for _ in range(2000)))
    weights = 1 / np.arange(1, len(stems) + 1)
    weights /= weights.sum()

    def frame(seed: int) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        rows = [" ".join(r.choice(stems, 8, p=weights)) for _ in range(200)]
        return pd.DataFrame({"text": rows, "label": r.integers(0, 2, 200)})

    ctx = context(tmp_path, frame(1), frame(2))
    measure = nt.measure_exposure(ctx, "typos")
    assert measure.share > 0.05 and measure.baseline is not None and measure.baseline > 0.05
    assert not measure.exposed
    typos = with_typos(frame(2), 0.3, 0)
    exposed = nt.measure_exposure(context(tmp_path / "typos", frame(1), typos), "typos")
    assert exposed.exposed and exposed.share > measure.share + 0.1


@pytest.mark.parametrize(
    ("key", "make", "share", "exposed"),
    [
        ("upper_case", str.upper, 0.1, True),
        ("upper_case", str.upper, 0.02, False),
        ("lower_case", str.lower, 0.1, True),
        ("whitespace", lambda t: t.replace(" ", "  ", 1), 0.1, True),
        ("punctuation", lambda t: t.replace(".", "!!"), 0.1, True),
        ("special_characters", lambda t: t.replace(".", ""), 0.1, True),
        ("contractions", lambda t: "I don't know. " + t, 0.1, True),
        ("contractions", lambda t: "I don't know. " + t, 0.03, False),
    ],
)
def test_text_exposures_count_eval_texts(
    tmp_path: Path, key: str, make: Any, share: float, exposed: bool
) -> None:
    cur = make_texts(200, 1)
    rows = np.arange(int(share * 200))
    cur.loc[rows, "text"] = [make(t) for t in cur.text[rows]]
    ctx = context(tmp_path, make_texts(200, 0), cur)
    measure = nt.measure_exposure(ctx, key)
    # make_texts itself holds "that is" in a few texts
    assert share <= measure.share <= share + 0.02
    assert measure.exposed is exposed


def test_vocabulary_exposures() -> None:
    words = nt.ReferenceWords.of(Counter({"modern": 5, "café": 3, "big": 2, "school": 4}))
    count = words.counts.__getitem__
    assert nt.is_ocr_error(words, "modem", count)  # rn read as m
    assert nt.is_ocr_error(words, "sch0ol", count)
    assert not nt.is_ocr_error(words, "modern", count)
    assert nt.is_folded_word(words, "cafe", count)
    assert not nt.is_folded_word(words, "cafes", count)
    assert nt.is_unseen_synonym(words, "large", count)
    assert not nt.is_unseen_synonym(words, "big", count)
    assert nt.is_misspelling(words, "recieve", count)  # listed
    assert nt.is_typo(words, "schol", count)
    assert not nt.is_typo(words, "moderns", count)  # an inflection, not a typo


def test_upper_and_lower_case_properties() -> None:
    assert nt.is_upper_case("GREAT PRODUCT!!") and not nt.is_upper_case("Great product")
    assert nt.is_upper_case("GREAT PRODUCt")  # 80% of cased letters
    assert not nt.is_upper_case("OK")  # too few letters to tell
    assert nt.is_lower_case("great product") and not nt.is_lower_case("Great product")
    assert nt.lacks_special_characters("no marks here") and not nt.lacks_special_characters("ok.")
    assert not nt.lacks_special_characters("")


def test_examples_are_cut_to_300_characters(tmp_path: Path) -> None:
    long_text = "word " * 200
    assert len(nt.shown_text(long_text)) == nt.EXAMPLE_CHARS
    assert nt.shown_text("short") == "short"
    assert list(itertools.islice(IDS, 1))  # ids are listed in report order
