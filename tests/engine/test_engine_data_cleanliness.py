"""Data Cleanliness tests: pass, fail and edge cases, statistics checked with scipy/sklearn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_helpers import case_for, make_context, run_one, statuses, tabular_frame, x_model
from scipy import stats as scipy_stats
from sklearn.metrics import mutual_info_score

from pytest_rime.engine.results import Severity, Status
from pytest_rime.engine.stats import discretize


def test_required_features_pass_and_fail(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = frames
    ok = run_one(make_context(ref, cur), "data_cleanliness.required_features")
    assert statuses(ok) == {Status.PASS}
    ctx = make_context(
        ref, cur.drop(columns=["x", "k"]), model=x_model, features_not_in_model=["k"]
    )
    cases = run_one(ctx, "data_cleanliness.required_features")
    x_case, k_case = case_for(cases, "x"), case_for(cases, "k")
    assert x_case.status is Status.FAIL and x_case.severity is Severity.HIGH
    assert k_case.status is Status.FAIL and k_case.severity is Severity.LOW


def test_duplicate_rows(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = frames
    [ok] = run_one(make_context(ref, cur), "data_cleanliness.duplicate_rows")
    assert ok.status is Status.PASS and ok.metrics["num_duplicate_rows"] == 0
    doubled = pd.concat([cur, cur.iloc[:120]], ignore_index=True)
    [bad] = run_one(make_context(ref, doubled), "data_cleanliness.duplicate_rows")
    assert bad.metrics["num_duplicate_rows"] == 120
    assert bad.metrics["statistic"] == pytest.approx(120 / 720)
    assert bad.severity is Severity.HIGH
    [empty] = run_one(make_context(ref, cur.iloc[:0]), "data_cleanliness.duplicate_rows")
    assert empty.status is Status.SKIP


def test_label_imbalance() -> None:
    balanced = pd.DataFrame({"x": np.arange(100.0), "y": [0, 1] * 50})
    [ok] = run_one(make_context(balanced, balanced), "data_cleanliness.label_imbalance")
    assert ok.status is Status.PASS and ok.metrics["statistic"] == 1.0
    skewed = pd.DataFrame({"x": np.arange(100.0), "y": [1] * 4 + [0] * 96})
    [bad] = run_one(make_context(skewed, skewed), "data_cleanliness.label_imbalance")
    assert bad.metrics["statistic"] == 24.0 and bad.severity is Severity.HIGH
    single = pd.DataFrame({"x": np.arange(10.0), "y": [1] * 10})
    [one] = run_one(make_context(single, single), "data_cleanliness.label_imbalance")
    assert one.status is Status.FAIL and "single class" in one.description
    regression = pd.DataFrame({"x": np.arange(10.0), "y": np.linspace(0, 1, 10) ** 2})
    [skip] = run_one(make_context(regression, regression), "data_cleanliness.label_imbalance")
    assert skip.status is Status.SKIP


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_high_feature_correlation(method: str) -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(size=300)
    ref = pd.DataFrame(
        {
            "a": a,
            "b": np.exp(a) + rng.normal(0, 0.01, 300),
            "c": rng.normal(size=300),
            "const": 1.0,
            "y": (a > 0).astype(int),
        }
    )
    ctx = make_context(
        ref, ref, tests_config={"data_cleanliness.high_feature_correlation": {"method": method}}
    )
    cases = run_one(ctx, "data_cleanliness.high_feature_correlation")
    pair = case_for(cases, "a", "b")
    expected = (scipy_stats.pearsonr if method == "pearson" else scipy_stats.spearmanr)(a, ref["b"])
    assert pair.metrics["correlation"] == pytest.approx(expected.statistic)
    if method == "spearman":
        assert pair.severity is Severity.HIGH
    assert all("const" not in c.features for c in cases)
    [ok] = run_one(
        make_context(ref.drop(columns="b"), ref), "data_cleanliness.high_feature_correlation"
    )
    assert ok.status is Status.PASS and ok.features == ()


def test_high_mutual_information_flags_a_leak_and_matches_sklearn(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    ref, cur = frames
    ref = ref.assign(
        leak=ref["y"].map({0: "no", 1: "yes"}), ident=[f"id{i}" for i in range(len(ref))]
    )
    cases = run_one(make_context(ref, cur), "data_cleanliness.high_mutual_information")
    leak = case_for(cases, "leak")
    assert leak.status is Status.FAIL and leak.severity is Severity.HIGH
    assert leak.metrics["statistic"] == pytest.approx(1.0)
    x_case = case_for(cases, "x")
    codes, y = discretize(ref["x"]), ref["y"].to_numpy()
    expected = mutual_info_score(codes, y) / scipy_stats.entropy(np.bincount(y))
    assert x_case.metrics["statistic"] == pytest.approx(expected)
    assert case_for(cases, "z").status is Status.PASS
    assert case_for(cases, "ident").status is Status.SKIP


def test_mutual_information_edge_cases(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = frames
    single = ref.assign(y=1)
    [skip] = run_one(make_context(single, cur), "data_cleanliness.high_mutual_information")
    assert skip.status is Status.SKIP
    nulls = ref.assign(x=np.nan, z=5.0)
    cases = run_one(make_context(nulls, cur), "data_cleanliness.high_mutual_information")
    assert case_for(cases, "x").metrics["statistic"] == 0.0
    assert case_for(cases, "z").metrics["statistic"] == 0.0
    no_label = run_one(
        make_context(ref.drop(columns="y"), cur), "data_cleanliness.high_mutual_information"
    )
    assert statuses(no_label) == {Status.SKIP}


def test_empty_frames_do_not_crash() -> None:
    empty = tabular_frame(10, 0).iloc[:0]
    for test_id in (
        "data_cleanliness.required_features",
        "data_cleanliness.high_feature_correlation",
        "data_cleanliness.label_imbalance",
    ):
        cases = run_one(make_context(empty, empty, model_task="Binary Classification"), test_id)
        assert cases and all("raised" not in c.description for c in cases), test_id
