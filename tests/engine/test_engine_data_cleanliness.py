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
from pytest_rime.engine.tests.data_cleanliness import improbable_duplicates


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
    # Without predictions the effect on the model is not measured: context, at most LOW.
    assert bad.metrics["statistic"] == 24.0 and bad.status is Status.FAIL
    assert bad.severity is Severity.LOW and bad.metrics["minority_recall"] is None
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
        assert pair.status is Status.FAIL
        assert pair.severity is Severity.LOW  # a property of the data: at most LOW
        assert "at most LOW" in pair.description
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
    # eval lacks the column and there is no model: not leakage the model uses, at most LOW
    assert leak.status is Status.FAIL and leak.severity is Severity.LOW
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


# ------------------------------------------------------------------ context vs material findings
def _leaky(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """``frame`` with ``leak``: the label, wrong on 0.3% of the rows."""
    flip = np.random.default_rng(seed).random(len(frame)) < 0.003
    return frame.assign(leak=np.where(flip, 1 - frame["y"], frame["y"]).astype(float))


def _leak_model(frame: pd.DataFrame) -> np.ndarray:
    """A model that learnt the leak: its probability follows ``leak`` almost entirely."""
    leak = pd.to_numeric(frame["leak"], errors="coerce").fillna(0.5).to_numpy()
    return 0.9 * leak + 0.1 * x_model(frame)


def test_planted_leakage_the_model_uses_is_high_and_named(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    ref, cur = (_leaky(frame, seed) for seed, frame in enumerate(frames))
    ctx = make_context(ref, cur, model=_leak_model)
    cases = run_one(ctx, "data_cleanliness.high_mutual_information")
    leak = case_for(cases, "leak")
    assert (leak.status, leak.severity) == (Status.FAIL, Severity.HIGH)
    assert "'leak'" in leak.description
    assert leak.metrics["importance"] == pytest.approx(1.0)
    y = discretize(cur["y"])
    expected = mutual_info_score(discretize(cur["leak"]), y) / scipy_stats.entropy(np.bincount(y))
    assert leak.metrics["eval_normalized_mutual_information"] == pytest.approx(expected)
    assert leak.metrics["statistic"] == pytest.approx(
        min(expected, leak.metrics["normalized_mutual_information"])
    )
    # x predicts y too, but the model barely reads it here: context only
    assert case_for(cases, "x").severity in (Severity.NONE, Severity.LOW)


def test_leakage_the_model_ignores_is_at_most_low(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    ref, cur = (_leaky(frame, seed) for seed, frame in enumerate(frames))
    leak = case_for(
        run_one(make_context(ref, cur, model=x_model), "data_cleanliness.high_mutual_information"),
        "leak",
    )
    assert leak.status is Status.FAIL and leak.severity is Severity.LOW
    assert leak.metrics["importance"] == 0.0
    assert "Not target leakage" in leak.description


def test_clean_data_with_a_sound_model_has_at_most_low_cleanliness_cases(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    ref, cur = frames
    ref = ref.assign(x2=ref["x"] * 2 + 0.01 * np.random.default_rng(0).normal(size=len(ref)))
    cur = cur.assign(x2=cur["x"] * 2 + 0.01 * np.random.default_rng(1).normal(size=len(cur)))
    ctx = make_context(ref, cur, model=x_model)
    test_ids = [
        "data_cleanliness.duplicate_rows",
        "data_cleanliness.label_imbalance",
        "data_cleanliness.high_feature_correlation",
        "data_cleanliness.high_mutual_information",
    ]
    cases = [case for test_id in test_ids for case in run_one(ctx, test_id)]
    assert case_for(cases, "x", "x2").status is Status.FAIL  # found, but context
    assert all(c.severity in (Severity.NONE, Severity.LOW) for c in cases), cases


def _discrete(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"q{i}": rng.integers(1, 4, n) for i in range(4)}).assign(
        y=lambda f: (f["q0"] + rng.integers(0, 2, n) > 2).astype(int)
    )


def test_duplicates_of_discrete_rows_are_context_but_copied_rows_are_not() -> None:
    ref, cur = _discrete(500, 0), _discrete(500, 1)
    [chance] = run_one(make_context(ref, cur), "data_cleanliness.duplicate_rows")
    expected = int(cur.duplicated().sum())
    assert chance.metrics["num_duplicate_rows"] == expected > 300  # 162 distinct rows at most
    assert chance.metrics["num_improbable_duplicates"] == 0
    assert chance.status is Status.FAIL and chance.severity is Severity.LOW
    # a row with a value found nowhere else in its column, copied: a pipeline fault
    odd = cur.iloc[:1].assign(q1=99)
    copied = pd.concat([cur] + [odd] * 40, ignore_index=True)
    [fault] = run_one(make_context(ref, copied), "data_cleanliness.duplicate_rows")
    assert fault.metrics["num_improbable_duplicates"] == 39
    assert fault.severity is Severity.HIGH


def test_improbable_duplicates_edge_cases() -> None:
    assert improbable_duplicates(pd.DataFrame()).size == 0
    frame = pd.DataFrame({"a": [1.5, 1.5, np.nan, np.nan, 2.0], "b": ["x", "x", "y", "y", "x"]})
    # rows 0/1 and 2/3 repeat; 1.5 and NaN occur only within their copies
    assert improbable_duplicates(frame).tolist() == [True, True, True, True, False]
    common = pd.DataFrame({"a": [1, 1, 1, 2], "b": [0, 0, 0, 0]})
    assert improbable_duplicates(common).tolist() == [True, True, True, False]


def test_label_imbalance_is_material_when_the_model_misses_the_rare_class(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    ref, cur = frames
    rare = [frame.assign(y=(frame["x"] > 1.6).astype(int)) for frame in (ref, cur)]
    counts = rare[0]["y"].value_counts()
    assert counts[0] / counts[1] >= 10
    ignores = run_one(
        make_context(*rare, model=lambda f: np.full(len(f), 0.2)),
        "data_cleanliness.label_imbalance",
    )[0]
    assert ignores.metrics["minority_recall"] == 0.0 and ignores.severity.rank >= 2
    sees = run_one(
        make_context(*rare, model=lambda f: (f["x"] > 1.6).astype(float).to_numpy()),
        "data_cleanliness.label_imbalance",
    )[0]
    assert sees.metrics["minority_recall"] == 1.0 and sees.severity is Severity.LOW
    # A third of a rare class recalled at the 0.5 cut-off is a healthy model of a rare label.
    third = np.zeros(len(rare[1]))
    third[np.flatnonzero(rare[1]["y"].to_numpy() == 1)[::3]] = 1.0
    partial = run_one(
        make_context(*rare, model=lambda f: third if len(f) == len(third) else np.zeros(len(f))),
        "data_cleanliness.label_imbalance",
    )[0]
    assert 0.3 <= partial.metrics["minority_recall"] <= 0.4 and partial.severity is Severity.LOW


def _improbable_by_brute_force(frame: pd.DataFrame) -> np.ndarray:
    rows = [
        tuple(frame.iloc[i].isna().tolist() + frame.iloc[i].fillna(0).tolist())
        for i in range(len(frame))
    ]
    out = []
    for i, row in enumerate(rows):
        copies = sum(other == row for other in rows)
        rarest = min(
            int(
                (
                    frame[c].isna() if pd.isna(frame[c].iloc[i]) else frame[c] == frame[c].iloc[i]
                ).sum()
            )
            for c in frame.columns
        )
        out.append(copies > 1 and rarest <= copies)
    return np.array(out, dtype=bool)


def test_improbable_duplicates_match_a_brute_force_count() -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(2, 30))
        frame = pd.DataFrame(
            {
                "a": rng.integers(0, 3, n).astype(float),
                "b": rng.choice(["x", "y", "z"], n),
                "c": rng.integers(0, int(rng.integers(1, 40)), n),
            }
        )
        frame.loc[rng.random(n) < 0.2, "a"] = np.nan
        frame = pd.concat([frame, frame.iloc[: int(rng.integers(0, 3))]], ignore_index=True)
        expected = _improbable_by_brute_force(frame)
        np.testing.assert_array_equal(improbable_duplicates(frame), expected)


def test_feature_correlation_fast_path_equals_pandas() -> None:
    from pytest_rime.engine.pairwise import strong_correlations
    from pytest_rime.engine.tests.data_cleanliness import _numeric_ref

    ref = tabular_frame(400, 0)
    ref["x2"] = ref["x"] * 2 + np.random.default_rng(1).normal(0, 0.1, 400)
    ref["const"] = 1.0
    ctx = make_context(ref, tabular_frame(400, 1).assign(x2=0.0, const=1.0), model=x_model)
    frame = _numeric_ref(ctx)
    fast = strong_correlations(frame, "pearson", -1.0)
    numbers = [n for n, info in ctx.features.items() if info.is_numeric and n != "const"]
    expected = ref[numbers].astype(float).corr().loc[frame.columns, frame.columns].to_numpy()
    assert "const" not in frame.columns
    assert [(i, j) for i, j, _ in fast.pairs] == [
        (i, j) for i in range(frame.shape[1]) for j in range(i + 1, frame.shape[1])
    ]
    np.testing.assert_allclose(
        [r for _, _, r in fast.pairs], expected[np.triu_indices_from(expected, 1)], atol=1e-12
    )
