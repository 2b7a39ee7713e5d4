"""Drift tests of texts: clean splits stay quiet, shifts are HIGH, statistics checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_helpers import decile_shares, distribution_frame
from scipy import stats
from text_data import make_texts
from text_models import memory_context, single_cases

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.distribution import MAX_LABELS, OTHER
from pytest_rime.engine.model import ModelAdapter
from pytest_rime.engine.results import Severity, Status, TestCaseResult
from pytest_rime.engine.stats import psi
from pytest_rime.engine.text import leave_one_out_oov_rates, oov_rates, tokens
from pytest_rime.engine.text_representation import (
    hashed_features,
    median_bandwidth,
    mmd_squared,
    mmd_test,
    rbf_kernel,
    squared_distances,
    text_features,
    truncated_svd,
)

DRIFT_TESTS = (
    "drift.text_length_drift",
    "drift.token_drift",
    "drift.oov_rate_drift",
    "drift.embedding_drift",
)


def run_tests(ctx: RunContext, ids: tuple[str, ...] = DRIFT_TESTS) -> dict[str, TestCaseResult]:
    """The single case of each test, with the evidence of the run applied."""
    return single_cases(ctx, ids)


@pytest.mark.parametrize(("rows", "seed"), [(200, 0), (300, 1), (400, 2), (600, 3), (250, 4)])
def test_clean_splits_have_no_medium_or_high(rows: int, seed: int) -> None:
    cases = run_tests(memory_context(make_texts(rows, seed), make_texts(rows, seed + 50)))
    for test_id, case in cases.items():
        assert case.severity.rank <= Severity.LOW.rank, (test_id, case.description)
        assert case.metrics.get("p_value") is not None, test_id


def test_a_topic_shift_is_high_in_token_oov_and_embedding_drift() -> None:
    ref = make_texts(300, 0)
    cur = make_texts(300, 1, classes=("health", "travel"))
    cases = run_tests(memory_context(ref, cur))
    for test_id in ("drift.token_drift", "drift.oov_rate_drift", "drift.embedding_drift"):
        assert cases[test_id].severity == Severity.HIGH, cases[test_id].description
        assert cases[test_id].metrics["p_value_adjusted"] < 1e-6
        assert cases[test_id].features == ("text",)
    moved = {m["token"] for m in cases["drift.token_drift"].metrics["moved_tokens"]}
    assert moved & {"doctor", "flight", "hotel", "clinic", "fever", "patient", "nurse", "tour"}


def test_longer_texts_are_high_in_length_drift() -> None:
    ref = make_texts(300, 0)
    cur = make_texts(300, 1)
    cur["text"] = cur["text"] + " " + make_texts(300, 2)["text"]
    case = run_tests(memory_context(ref, cur), ("drift.text_length_drift",))[
        "drift.text_length_drift"
    ]
    assert case.severity == Severity.HIGH
    assert case.metrics["eval_median_length"] > 1.5 * case.metrics["ref_median_length"]
    shares = distribution_frame(case)
    _, ref_expected, eval_expected = decile_shares(ref["text"].str.len(), cur["text"].str.len())
    assert shares["ref"].to_numpy() == pytest.approx(ref_expected, abs=1e-6)
    assert shares["eval"].to_numpy() == pytest.approx(eval_expected, abs=1e-6)


def test_drift_of_texts_a_model_ignores_is_at_most_low() -> None:
    ref = make_texts(300, 0)
    cur = make_texts(300, 1, classes=("health", "travel"))
    ctx = memory_context(ref, cur, model=None)
    ctx.model = ModelAdapter(
        lambda frame: np.where(frame["source"] == "web", 0.8, 0.3), source="metadata only"
    )
    cases = run_tests(ctx, ("drift.token_drift", "drift.embedding_drift"))
    assert ctx.importance.of("text") == 0.0
    for case in cases.values():
        assert case.status == Status.FAIL
        assert case.severity == Severity.LOW, case.description


def test_ks_length_drift_matches_scipy() -> None:
    ref, cur = make_texts(300, 0), make_texts(300, 1)
    cur["text"] = cur["text"] + " extra words here"
    ctx = memory_context(
        ref, cur, tests_config={"drift.text_length_drift": {"numeric_statistic": "ks"}}
    )
    case = run_tests(ctx, ("drift.text_length_drift",))["drift.text_length_drift"]
    expected = stats.ks_2samp(ref["text"].str.len(), cur["text"].str.len(), method="asymp")
    assert case.metrics["ks"] == pytest.approx(expected.statistic)
    assert case.metrics["p_value"] == pytest.approx(expected.pvalue, rel=0.05)


def test_token_psi_matches_a_direct_count() -> None:
    ref = make_texts(200, 0)
    cur = make_texts(200, 1, classes=("sport", "health"))
    case = run_tests(memory_context(ref, cur), ("drift.token_drift",))["drift.token_drift"]
    ref_counts = pd.Series([t for text in ref["text"] for t in tokens(text)]).value_counts()
    eval_counts = pd.Series([t for text in cur["text"] for t in tokens(text)]).value_counts()
    both = ref_counts.add(eval_counts, fill_value=0)  # fewer tokens than top_tokens: all kept
    aligned = pd.concat([ref_counts, eval_counts], axis=1).reindex(both.index).fillna(0)
    expected = psi(aligned.iloc[:, 0].to_numpy(), aligned.iloc[:, 1].to_numpy())
    assert case.metrics["psi"] == pytest.approx(expected)
    assert case.metrics["psi_excess"] == pytest.approx(
        max(0.0, expected - case.metrics["psi_random_split_mean"])
    )
    shares = distribution_frame(case)  # the most frequent tokens, the rest as "(other)"
    expected_shares = aligned / aligned.sum()
    pooled = expected_shares.sum(axis=1).sort_values(ascending=False)
    assert len(shares) == MAX_LABELS and shares.index[-1] == OTHER
    kept = list(shares.index[:-1])
    assert pooled[kept].min() >= pooled.iloc[MAX_LABELS - 1]  # none left out is more frequent
    assert shares["ref"].iloc[:-1].to_numpy() == pytest.approx(
        expected_shares.iloc[:, 0][kept].to_numpy(), abs=1e-6
    )


def test_oov_rates_match_brute_force() -> None:
    docs = [["a", "b", "c"], ["a", "d"], ["e"], [], ["b", "b", "f"]]
    loo = leave_one_out_oov_rates(docs)
    for i, words in enumerate(docs):
        others = {w for j, d in enumerate(docs) if j != i for w in d}
        if words:
            assert loo[i] == pytest.approx(sum(w not in others for w in words) / len(words))
        else:
            assert np.isnan(loo[i])
    rates = oov_rates(docs, frozenset({"a", "b"}))
    assert rates[0] == pytest.approx(1 / 3) and rates[4] == pytest.approx(1 / 3)


def test_oov_drift_p_value_matches_a_permutation_test() -> None:
    ref = make_texts(150, 0)
    cur = make_texts(150, 1)
    cur.loc[:14, "text"] = cur.loc[:14, "text"] + " zyxw qwerty"
    case = run_tests(memory_context(ref, cur), ("drift.oov_rate_drift",))["drift.oov_rate_drift"]
    ref_rates = leave_one_out_oov_rates([tokens(t) for t in ref["text"]])
    vocabulary = frozenset(t for text in ref["text"] for t in tokens(text))
    eval_rates = oov_rates([tokens(t) for t in cur["text"]], vocabulary)
    result = stats.permutation_test(
        (eval_rates, ref_rates),
        lambda x, y: np.mean(x) - np.mean(y),
        alternative="greater",
        n_resamples=20000,
        random_state=0,
    )
    assert case.metrics["difference"] == pytest.approx(result.statistic)
    # the normal approximation of the randomisation distribution vs the exact permutations
    assert case.metrics["p_value"] == pytest.approx(result.pvalue, abs=0.01)


def test_mmd_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)), rng.normal(0.5, 1.0, size=(9, 3))
    points = np.vstack([x, y])
    distances = squared_distances(points)
    bandwidth = median_bandwidth(distances)
    kernel = rbf_kernel(distances, bandwidth)

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.exp(-np.sum((a - b) ** 2) / (2 * bandwidth**2)))

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(a, b) for a in x for b in y) / (n * m)
    is_ref = np.arange(n + m) < n
    assert mmd_squared(kernel, is_ref) == pytest.approx(xx + yy - 2 * xy)
    pairwise = [np.sum((a - b) ** 2) for i, a in enumerate(points) for b in points[i + 1 :]]
    assert bandwidth == pytest.approx(np.sqrt(np.median(pairwise)))


def test_mmd_permutation_p_value_is_uniformish_under_the_null_and_tiny_under_a_shift() -> None:
    rng = np.random.default_rng(1)
    null_p = [
        mmd_test(rng.normal(size=(40, 2)), rng.normal(size=(40, 2)), rng, 100).p_value
        for _ in range(30)
    ]
    assert np.mean(np.array(null_p) < 0.05) <= 0.2
    shifted = mmd_test(rng.normal(size=(80, 2)), rng.normal(1.0, 1.0, size=(80, 2)), rng, 200)
    assert shifted.p_value < 1e-4


def test_truncated_svd_matches_numpy_svd() -> None:
    features = hashed_features(make_texts(300, 0)["text"])
    scores = truncated_svd(features, 5, np.random.default_rng(0))
    singular = np.linalg.svd(features - features.mean(axis=0), compute_uv=False)[:5]
    assert np.linalg.norm(scores, axis=0) == pytest.approx(singular, rel=0.02)
    gram = scores.T @ scores
    assert gram - np.diag(np.diag(gram)) == pytest.approx(np.zeros((5, 5)), abs=1e-6)


def test_hashed_features_are_stable_and_unit_length() -> None:
    features = hashed_features(["Goal match today", "", "goal MATCH today"])
    assert features.shape == (3, 1024)
    assert np.linalg.norm(features[0]) == pytest.approx(1.0)
    assert not features[1].any()
    assert features[0] == pytest.approx(features[2])  # lower-cased
    assert "c: go" in text_features("Goal") and "w:goal" in text_features("Goal")
    # CRC-32 buckets: the same in every process (Python's str hash is salted per process)
    assert np.flatnonzero(hashed_features(["goal"])[0]).tolist() == sorted(
        {__import__("zlib").crc32(f.encode()) % 1024 for f in text_features("goal")}
    )


def test_edge_cases_do_not_crash() -> None:
    ref = make_texts(100, 0)
    blank = make_texts(50, 1).assign(text="   ")
    cases = run_tests(memory_context(ref, blank))
    for test_id in ("drift.token_drift", "drift.oov_rate_drift"):
        assert cases[test_id].status == Status.SKIP, cases[test_id].description
    assert cases["drift.text_length_drift"].severity == Severity.HIGH
    assert cases["drift.embedding_drift"].status != Status.ERROR
    one = run_tests(memory_context(ref, make_texts(1, 2)))
    assert all(c.status != Status.ERROR for c in one.values()), [
        c.description for c in one.values()
    ]
    assert one["drift.embedding_drift"].status == Status.SKIP


def test_large_inputs_are_sampled() -> None:
    ctx = memory_context(
        make_texts(300, 0),
        make_texts(300, 1),
        tests_config={
            "drift.embedding_drift": {"max_rows": 120},
            "drift.token_drift": {"max_rows": 100},
        },
    )
    cases = run_tests(ctx, ("drift.embedding_drift", "drift.token_drift"))
    assert cases["drift.embedding_drift"].metrics["ref_rows_sampled"] == 120
    assert cases["drift.embedding_drift"].severity.rank <= Severity.LOW.rank
