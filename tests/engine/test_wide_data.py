"""Wide data: pairwise statistics in blocks, grouped importance, a 10k-column run in 4,000 MB."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from engine_helpers import make_context
from wide_data import PLANTED_CORRELATED, PLANTED_INCONSISTENT, run_in_worker, write_wide_inputs

from pytest_rime.engine import context, importance
from pytest_rime.engine.importance import _group_importance
from pytest_rime.engine.pairwise import CategoryCodes, strong_correlations, unseen_pairs
from pytest_rime.engine.robustness import MIN_PERTURBED_ROWS, perturbed_rows
from pytest_rime.engine.tests.abnormal_inputs import _codes


def _upper_pairs(matrix: np.ndarray, threshold: float) -> dict[tuple[int, int], float]:
    i, j = np.triu_indices_from(matrix, 1)
    keep = np.abs(matrix[i, j]) >= threshold
    values = matrix[i, j][keep]
    return {(int(a), int(b)): float(r) for a, b, r in zip(i[keep], j[keep], values, strict=True)}


def test_blocked_pearson_finds_a_planted_pair_among_many_columns() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(200, 700))
    values[:, 613] = values[:, 41] * -3 + rng.normal(0, 0.05, 200)  # r about -0.9999
    values[:, 650] = values[:, 7] + rng.normal(0, 0.6, 200)  # r about 0.86
    frame = pd.DataFrame(values)
    exact = np.corrcoef(values, rowvar=False)

    strong = strong_correlations(frame, "pearson", 0.8, block=64)

    found = {(i, j): r for i, j, r in strong.pairs}
    assert found.keys() == _upper_pairs(exact, 0.8).keys() == {(41, 613), (7, 650)}
    for (i, j), r in found.items():
        assert r == pytest.approx(exact[i, j], abs=1e-12)
    assert strong.total == 2
    assert strong.top == pytest.approx(np.abs(exact[np.triu_indices_from(exact, 1)]).max())


def test_one_block_is_numpy_corrcoef_itself() -> None:
    values = np.random.default_rng(1).normal(size=(50, 30))
    values[:, 3] = values[:, 2] * 2.0
    strong = strong_correlations(pd.DataFrame(values), "pearson", -1.0)
    exact = np.corrcoef(values, rowvar=False)
    assert [r for _, _, r in strong.pairs] == exact[np.triu_indices_from(exact, 1)].tolist()


def test_only_the_strongest_pairs_are_kept_and_all_are_counted() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(size=200)
    noise = np.linspace(0.05, 0.4, 40)
    values = np.column_stack([base + rng.normal(0, s, 200) for s in noise])  # all correlated
    exact = _upper_pairs(np.corrcoef(values, rowvar=False), 0.8)

    strong = strong_correlations(pd.DataFrame(values), "pearson", 0.8, block=7, max_pairs=25)

    strongest = sorted(exact, key=lambda pair: (-abs(exact[pair]), pair))[:25]
    assert [(i, j) for i, j, _ in strong.pairs] == sorted(strongest)
    assert strong.total == len(exact) > 25


def test_blocked_spearman_with_missing_values_equals_pandas() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(120, 45)))
    frame[44] = np.exp(frame[3]) + rng.normal(0, 0.01, 120)  # monotone: Spearman about 1
    frame = frame.mask(rng.random(frame.shape) < 0.1)
    exact = frame.corr(method="spearman").to_numpy()

    strong = strong_correlations(frame, "spearman", 0.0, block=8)

    expected = _upper_pairs(exact, 0.0)
    assert {(i, j) for i, j, _ in strong.pairs} == expected.keys()
    for i, j, r in strong.pairs:
        assert r == pytest.approx(expected[i, j], abs=1e-12)
    assert (3, 44) in expected and expected[3, 44] > 0.95


def _unseen_by_brute_force(
    codes: list[CategoryCodes], min_expected: float
) -> dict[tuple[int, int], np.ndarray]:
    """The per-pair loop of the Inconsistencies test before it was blocked."""
    n_ref = len(codes[0].ref)
    out = {}
    for a, b in combinations(range(len(codes)), 2):
        first, second = codes[a], codes[b]
        width = second.freq.size
        both = (first.ref >= 0) & (second.ref >= 0)
        seen = np.zeros(first.freq.size * width, dtype=bool)
        seen[first.ref[both] * width + second.ref[both]] = True
        known = (first.eval >= 0) & (second.eval >= 0)
        keys = np.where(known, first.eval * width + second.eval, 0)
        expected = (
            n_ref * first.freq[np.maximum(first.eval, 0)] * second.freq[np.maximum(second.eval, 0)]
        )
        mask = known & ~seen[keys] & (expected >= min_expected)
        if mask.any():
            out[a, b] = mask
    return out


def _categorical_frames(columns: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random categories and six planted pairs (``c<t>``, ``d<t>``).

    Ref pairs ``a`` with ``p`` and every other value with ``q``; eval crosses them in its first
    ``10 * (t + 1)`` rows.
    """
    rng = np.random.default_rng(seed)

    def frame(rows: int) -> pd.DataFrame:
        return pd.DataFrame(
            {f"c{i}": rng.choice(["a", "b", "c", None][: 2 + i % 3], rows) for i in range(columns)}
        )

    ref, cur = frame(150), frame(90)
    for t in range(6):
        ref[f"d{t}"] = np.where(ref[f"c{t}"] == "a", "p", "q")
        crossed = np.where(cur[f"c{t}"] == "a", "q", "p")
        cur[f"d{t}"] = np.where(
            np.arange(90) < 10 * (t + 1), crossed, np.where(crossed == "p", "q", "p")
        )
    return ref, cur


def test_unseen_pairs_equal_the_pairwise_loop_and_find_the_planted_pair() -> None:
    ref, cur = _categorical_frames(60, 4)
    codes = [_codes(ref[name], cur[name]) for name in ref.columns]
    expected = _unseen_by_brute_force(codes, 5.0)

    unseen = unseen_pairs(codes, 5.0, block=16)

    assert {(a, b) for a, b, _ in unseen.pairs} == expected.keys()
    for a, b, mask in unseen.pairs:
        np.testing.assert_array_equal(mask, expected[a, b])
    assert unseen.total == len(expected)
    planted = (5, list(cur.columns).index("d5"))
    assert planted in expected
    crossed = (np.arange(len(cur)) < 60) & cur["c5"].notna().to_numpy()
    np.testing.assert_array_equal(expected[planted], crossed)


def test_unseen_pairs_keep_the_pairs_with_most_flagged_rows() -> None:
    ref, cur = _categorical_frames(60, 5)
    codes = [_codes(ref[name], cur[name]) for name in ref.columns]
    expected = _unseen_by_brute_force(codes, 5.0)
    assert len(expected) >= 6

    unseen = unseen_pairs(codes, 5.0, block=9, max_pairs=3)

    top = sorted(expected, key=lambda pair: (-int(expected[pair].sum()), pair))[:3]
    assert [(a, b) for a, b, _ in unseen.pairs] == sorted(top)
    assert unseen.total == len(expected)


def test_grouped_importance_finds_the_few_features_the_model_uses() -> None:
    rng = np.random.default_rng(6)
    ref = pd.DataFrame(rng.normal(size=(200, 900)), columns=[f"f{i}" for i in range(900)])
    ref["y"] = (ref["f10"] + ref["f500"] > 0).astype(int)
    used = {"f10": 2.0, "f500": 1.0, "f899": 0.2}

    def model(frame: pd.DataFrame) -> np.ndarray:
        score = sum(weight * frame[name].to_numpy() for name, weight in used.items())
        return np.asarray(1 / (1 + np.exp(-score)))

    ctx = make_context(ref, ref.copy(), model=model, model_task="Binary Classification")
    raw = _group_importance(ctx, ctx.model_input(ctx.ref), ctx.rng("importance"))

    assert raw.keys() == set(ctx.model_features)
    assert {name for name, score in raw.items() if score > 0} == set(used)
    assert raw["f10"] > raw["f500"] > raw["f899"] > 0


def test_grouped_importance_out_of_budget_gives_each_feature_its_group_score(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(9)
    ref = pd.DataFrame(rng.normal(size=(50, 64)), columns=[f"f{i}" for i in range(64)])
    ctx = make_context(ref, ref.copy(), model=_sum_model, label_col=None)
    lines: list[str] = []
    ctx.log = lines.append
    monkeypatch.setattr(importance, "MAX_SHUFFLED_CELLS", 50 * 64 * 12)  # 12 copies

    raw = _group_importance(ctx, ctx.model_input(ctx.ref), ctx.rng("importance"))

    # 6 groups (half the budget) of up to 11, each changing the sum; 12 halves do not fit
    assert len(set(raw.values())) == 6 and all(score > 0 for score in raw.values())
    assert raw["f0"] == raw["f10"] != raw["f11"]
    assert lines and "64 features in 6 groups score their group's change" in lines[0]


def _sum_model(frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-frame.sum(axis=1).to_numpy() / 10)))


def test_stacked_frames_are_predicted_in_calls_of_bounded_cells(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(7)
    ref = pd.DataFrame(rng.normal(size=(40, 50)), columns=[f"f{i}" for i in range(50)])
    ctx = make_context(ref, ref.copy(), model=_sum_model, label_col=None)
    frames = [ref.iloc[i : i + 10] for i in range(0, 40, 10)]
    whole = _sum_model(pd.concat(frames))
    assert ctx.model is not None
    calls = ctx.model.n_calls

    assert np.array_equal(ctx.predict_batches(frames), whole)
    assert ctx.model.n_calls == calls + 1  # normal width: one call

    monkeypatch.setattr(context, "MAX_BATCH_CELLS", 25 * 50)  # 25 rows of 50 columns a call
    assert np.array_equal(ctx.predict_batches(iter(frames)), whole)
    assert ctx.model.n_calls == calls + 1 + 2  # 10 + 10 + 10 rows exceed 25: two calls


def test_perturbation_tests_sample_fewer_rows_only_for_wide_data() -> None:
    rng = np.random.default_rng(8)

    def frame(columns: int) -> pd.DataFrame:
        return pd.DataFrame(
            rng.normal(size=(5, columns)), columns=[f"f{i}" for i in range(columns)]
        )

    narrow = make_context(frame(25), frame(25), model=_sum_model, label_col=None)
    wide = make_context(frame(4000), frame(4000), model=_sum_model, label_col=None)
    assert perturbed_rows(narrow, 500) == 500
    assert perturbed_rows(wide, 500) == 2**30 // (4000 * 4000) == 67
    assert perturbed_rows(wide, 20) == 20
    huge = make_context(frame(20_000), frame(20_000), model=_sum_model, label_col=None)
    assert perturbed_rows(huge, 500) == MIN_PERTURBED_ROWS


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 5 minutes alone on 2 cores; slower beside other jobs
def test_ten_thousand_columns_run_within_4000_mb(tmp_path: Path) -> None:
    config = write_wide_inputs(tmp_path, 10_000)

    run = run_in_worker(config, tmp_path / "job", ram_request_megabytes=2000)

    assert "address space 4000 MB" in run.log
    assert run.exit_code == 0, run.log[-3000:]
    assert run.result is not None
    cases = {batch["test_id"]: batch["cases"] for batch in run.result["batches"]}
    correlated = [c["features"] for c in cases["data_cleanliness.high_feature_correlation"]]
    assert list(PLANTED_CORRELATED) in correlated
    inconsistent = [c["features"] for c in cases["abnormal_inputs.inconsistencies"]]
    assert list(PLANTED_INCONSISTENT) in inconsistent
    for test_id in ("data_cleanliness.high_mutual_information", "drift.correlation_drift"):
        assert cases[test_id] and all(c["status"] != "ERROR" for c in cases[test_id])
