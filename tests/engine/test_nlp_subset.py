"""Subset Performance tests of text classifiers (``pytest_rime.engine.tests.nlp_subset``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from engine_helpers import make_context, run_one, tabular_frame, x_model
from scipy import stats
from sklearn import metrics as skm
from text_data import make_texts, write_text_run

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.results import Severity, Status, TestCaseResult
from pytest_rime.engine.run import load_context, run_batches
from pytest_rime.engine.tests.nlp_subset import NEGATION
from pytest_rime.engine.text import tokens
from pytest_rime.engine.validation import validate_config

CATEGORY = "Subset Performance"


def _quiet(_line: str) -> None:
    pass


def _run(
    folder: Path, ref: pd.DataFrame, cur: pd.DataFrame, *, model: str | None = None, **extra: Any
) -> dict[str, list[TestCaseResult]]:
    """The Subset Performance cases of an nlp run (evidence applied), by test id."""
    run = write_text_run(folder, ref, cur)
    if model is not None:
        path = folder / "model.py"
        path.write_text(f"import joblib\nPIPE = joblib.load({str(run.model_path)!r})\n{model}")
        extra["model_info"] = {"path": str(path)}
    config = validate_config(run.config(**extra))
    ctx, _ = load_context(config, log=_quiet)
    specs = [s for s in all_tests("nlp") if s.category == CATEGORY]
    batches, _ = run_batches(ctx, specs, config, _quiet)
    return {b.test_id: list(b.cases) for b in batches}


def _batches_cases(batches: dict[str, list[TestCaseResult]]) -> list[TestCaseResult]:
    return [case for cases in batches.values() for case in cases]


def _questions(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = frame.copy()
    chosen = rng.random(len(out)) < share
    out.loc[chosen, "text"] = out.loc[chosen, "text"].str.rstrip(".") + "?"
    return out


QUESTION_BLIND = """
import numpy as np
def predict_batch(texts):
    p = PIPE.predict_proba(texts)[:, 1]
    question = np.array([t.rstrip().endswith("?") for t in texts])
    return np.where(question, 1 - p, p)
"""
MAIL_BLIND = """
import numpy as np
def predict_df(df):
    p = PIPE.predict_proba(df["text"])[:, 1]
    return np.where((df["source"] == "mail").to_numpy(), 1 - p, p)
"""


def test_every_family_has_a_gap_and_a_degradation_test_for_nlp_only() -> None:
    ids = {s.test_id for s in all_tests("nlp") if s.category == CATEGORY}
    families = ("length", "negation", "number", "question", "label_class", "metadata")
    assert ids == {
        f"subset_performance.text_{f}_{kind}"
        for f in families
        for kind in ("subsets", "degradation")
    }
    assert not ids & {s.test_id for s in all_tests("tabular")}


@pytest.mark.parametrize(
    ("seed", "classes"),
    [(0, ("sport", "money")), (2, ("sport", "money")), (4, ("sport", "money", "health"))],
)
def test_healthy_pipeline_on_clean_splits_has_no_medium_or_high(
    tmp_path: Path, seed: int, classes: tuple[str, ...]
) -> None:
    ref, cur = make_texts(400, seed, classes), make_texts(400, seed + 1, classes)
    cases = _batches_cases(_run(tmp_path, ref, cur))
    assert cases
    assert all(c.severity.rank <= Severity.LOW.rank for c in cases), [
        (c.test_id, c.severity, c.description) for c in cases if c.severity.rank > 1
    ]
    assert all(c.status is not Status.ERROR for c in cases)


def test_healthy_pipeline_with_questions_negations_and_numbers_has_no_medium_or_high(
    tmp_path: Path,
) -> None:
    def varied(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        out = _questions(frame, 0.3, seed)
        negated = rng.random(len(out)) < 0.3
        out.loc[negated, "text"] = "Not " + out.loc[negated, "text"].str.lower()
        numbered = rng.random(len(out)) < 0.3
        out.loc[numbered, "text"] = out.loc[numbered, "text"] + " 42"
        return out

    cases = _batches_cases(
        _run(tmp_path, varied(make_texts(400, 5), 5), varied(make_texts(400, 6), 6))
    )
    by_test = {c.test_id: c for c in cases}
    for family in ("negation", "number", "question"):
        case = by_test[f"subset_performance.text_{family}_subsets"]
        assert case.status is not Status.SKIP, case.description
        assert case.severity.rank <= Severity.LOW.rank, case.description


def test_model_failing_on_questions_is_high_and_names_the_subset(tmp_path: Path) -> None:
    ref, cur = _questions(make_texts(400, 0), 0.3, 0), _questions(make_texts(400, 1), 0.3, 1)
    batches = _run(tmp_path, ref, cur, model=QUESTION_BLIND)
    (case,) = batches["subset_performance.text_question_subsets"]
    assert (case.status, case.severity) == (Status.FAIL, Severity.HIGH), case.description
    assert case.features == ("text",)
    assert case.metrics["worst_subset"] == "question"
    assert "'question'" in case.description
    # the numbers, recomputed with sklearn on the same model
    pipeline = _pipeline(tmp_path)
    p = pipeline.predict_proba(cur["text"])[:, 1]
    question = cur["text"].str.endswith("?").to_numpy()
    predicted = np.where(question, 1 - p, p) >= 0.5
    expected_q = skm.accuracy_score(cur["label"][question], predicted[question])
    expected_all = skm.accuracy_score(cur["label"], predicted)
    assert case.metrics["worst_subset_metric"] == pytest.approx(expected_q)
    assert case.metrics["overall_metric"] == pytest.approx(expected_all)
    assert case.metrics["statistic"] == pytest.approx(expected_all - expected_q)
    assert case.metrics["worst_subset_size"] == int(question.sum())
    assert case.metrics["p_value_adjusted"] < 0.05
    # the other families do not blame the fault on themselves
    assert batches["subset_performance.text_metadata_subsets"][0].severity.rank < 3


def _pipeline(folder: Path) -> Any:
    import joblib

    return joblib.load(folder / "model.joblib")


def test_model_failing_on_one_metadata_value_is_high_on_that_column(tmp_path: Path) -> None:
    batches = _run(tmp_path, make_texts(400, 0), make_texts(400, 1), model=MAIL_BLIND)
    (case,) = batches["subset_performance.text_metadata_subsets"]
    assert (case.status, case.severity) == (Status.FAIL, Severity.HIGH), case.description
    assert case.features == ("source",)
    assert case.metrics["worst_subset"] == "mail"
    assert "'mail'" in case.description and "'source'" in case.description


def test_subset_that_degrades_from_ref_to_eval_is_high_in_degradation(tmp_path: Path) -> None:
    ref, cur = make_texts(400, 0), make_texts(400, 1)
    rng = np.random.default_rng(3)
    mail = (cur["source"] == "mail").to_numpy() & (rng.random(len(cur)) < 0.5)
    cur.loc[mail, "label"] = 1 - cur.loc[mail, "label"]  # half the mail labels are wrong now
    batches = _run(tmp_path, ref, cur)
    (case,) = batches["subset_performance.text_metadata_degradation"]
    assert (case.status, case.severity) == (Status.FAIL, Severity.HIGH), case.description
    assert case.metrics["worst_subset"] == "mail"
    pipeline = _pipeline(tmp_path)
    in_ref = (ref["source"] == "mail").to_numpy()
    in_eval = (cur["source"] == "mail").to_numpy()
    before = skm.accuracy_score(ref["label"][in_ref], pipeline.predict(ref["text"][in_ref]))
    after = skm.accuracy_score(cur["label"][in_eval], pipeline.predict(cur["text"][in_eval]))
    assert case.metrics["statistic"] == pytest.approx(before - after)


def test_length_bins_are_reference_quantiles_of_the_token_count(tmp_path: Path) -> None:
    ref, cur = make_texts(400, 0), make_texts(400, 1)
    (case,) = _run(tmp_path, ref, cur)["subset_performance.text_length_subsets"]
    lengths_ref = np.array([len(tokens(t)) for t in ref["text"]], dtype=float)
    lengths_eval = np.array([len(tokens(t)) for t in cur["text"]], dtype=float)
    edges = np.unique(np.quantile(lengths_ref, [0.2, 0.4, 0.6, 0.8]))
    expected = np.bincount(
        np.searchsorted(edges, lengths_eval, side="right"), minlength=edges.size + 1
    )
    sizes = [row["size"] for row in case.metrics["subsets"]]
    assert sizes == [int(n) for n in expected if n]
    assert case.metrics["subsets"][0]["subset"] == f"< {edges[0]:.4g} tokens"


def test_gap_p_values_match_the_exact_stratified_null(tmp_path: Path) -> None:
    """Accuracy of a random subset with the same label counts: a sum of hypergeometrics."""
    ref, cur = make_texts(400, 0, noise=0.35), make_texts(400, 1, noise=0.35)
    (case,) = _run(tmp_path, ref, cur)["subset_performance.text_length_subsets"]
    pipeline = _pipeline(tmp_path)
    correct = pipeline.predict(cur["text"]) == cur["label"].to_numpy()
    labels = cur["label"].to_numpy()
    lengths_ref = np.array([len(tokens(t)) for t in ref["text"]], dtype=float)
    edges = np.unique(np.quantile(lengths_ref, [0.2, 0.4, 0.6, 0.8]))
    codes = np.searchsorted(
        edges, np.array([len(tokens(t)) for t in cur["text"]], dtype=float), side="right"
    )
    compared = 0
    present = [c for c in range(edges.size + 1) if (codes == c).any()]
    for row, code in zip(case.metrics["subsets"], present, strict=True):
        rows = codes == code
        # errors of a random subset with the subset's label counts: per label a hypergeometric
        pmf = np.array([1.0])
        for label in (0, 1):
            pool = labels == label
            wrong, take = int((~correct & pool).sum()), int((rows & pool).sum())
            part = stats.hypergeom.pmf(np.arange(take + 1), int(pool.sum()), wrong, take)
            pmf = np.convolve(pmf, part)
        observed = int((~correct & rows).sum())
        exact = float(pmf[observed:].sum())
        if 0.05 < exact < 0.95:
            compared += 1
            assert row["p_value"] == pytest.approx(exact, abs=0.1), (row, exact)
    assert compared >= 2


def test_label_classes_are_subsets_of_the_label_column(tmp_path: Path) -> None:
    classes = ("sport", "money", "health")
    ref, cur = make_texts(400, 0, classes), make_texts(400, 1, classes)
    (case,) = _run(tmp_path, ref, cur)["subset_performance.text_label_class_subsets"]
    assert case.features == ("label",)
    counts = cur["label"].value_counts()
    assert {row["subset"]: row["size"] for row in case.metrics["subsets"]} == {
        str(k): int(v) for k, v in counts.items()
    }


def test_family_without_enough_texts_is_skipped_with_the_sizes(tmp_path: Path) -> None:
    ref, cur = make_texts(300, 0), _questions(make_texts(300, 1), 0.05, 1)
    batches = _run(tmp_path, ref, cur)
    for test_id in (
        "subset_performance.text_question_subsets",
        "subset_performance.text_question_degradation",
    ):
        (case,) = batches[test_id]
        assert case.status is Status.SKIP
        assert "min_subset_size=50" in case.description and "'question'" in case.description


def test_metadata_tests_skip_without_metadata_columns(tmp_path: Path) -> None:
    ref, cur = make_texts(300, 0).drop(columns="source"), make_texts(300, 1).drop(columns="source")
    batches = _run(tmp_path, ref, cur)
    for kind in ("subsets", "degradation"):
        (case,) = batches[f"subset_performance.text_metadata_{kind}"]
        assert case.status is Status.SKIP and "no metadata column" in case.description


def test_chosen_metric_is_used_and_log_loss_is_relative(tmp_path: Path) -> None:
    ref, cur = _questions(make_texts(400, 0), 0.3, 0), _questions(make_texts(400, 1), 0.3, 1)
    config = {"tests_config": {"subset_performance.text_question_subsets": {"metric": "Log Loss"}}}
    batches = _run(tmp_path, ref, cur, model=QUESTION_BLIND, **config)
    (case,) = batches["subset_performance.text_question_subsets"]
    assert case.metrics["metric"] == "Log Loss" and case.metrics["gap_kind"] == "relative"
    assert case.metrics["worst_subset"] == "question"


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("I don't like it", True),
        ("I DON\u2019T like it", True),
        ("Nothing works", True),
        ("no way", True),
        ("a notable result", False),
        ("another knot", False),
        ("I cannot", True),
    ],
)
def test_negation_words(text: str, negated: bool) -> None:
    assert bool(NEGATION.search(text)) is negated


def test_on_data_without_the_text_column_the_tests_skip() -> None:
    """A tabular context (a test helper calling every registered test) gets a SKIP, not an error."""
    ctx = make_context(tabular_frame(200, 0), tabular_frame(200, 1), model=x_model)
    for test_id in ("subset_performance.text_length_subsets", "bias_and_fairness.text_gender_swap"):
        (case,) = run_one(ctx, test_id)
        assert case.status is Status.SKIP and "no text column 'text'" in case.description
