"""Attacks tests: worst-case single-feature changes, checked against a direct search.

Single-Feature Changes is capped at ``max_severity`` (default MEDIUM): a decisive feature is
HIGH only when tests_config asks for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_helpers import case_for, make_context, run_one, tabular_frame, x_model
from robustness_helpers import assert_capped_at_medium, titanic_model, titanic_split

from pytest_rime.engine.catalog import get_test
from pytest_rime.engine.model import ModelAdapter
from pytest_rime.engine.results import Severity, Status
from pytest_rime.engine.robustness import Edit, perturbation_sample, predict_edits
from pytest_rime.engine.run import settings_for
from pytest_rime.engine.tests.attacks import observed_values

SINGLE = "attacks.single_feature_changes"
BOUNDED = "attacks.bounded_single_feature_changes"
WHOLE = {SINGLE: {"sample_size": 10_000}, BOUNDED: {"sample_size": 10_000}}
UNCAPPED = {SINGLE: {"max_severity": "HIGH"}}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-4.0 * x))


def k_sensitive(frame: pd.DataFrame) -> np.ndarray:
    """x_model, inverted for the 'south' rows: region k decides the side of the boundary."""
    p = x_model(frame)
    return np.where(frame["k"].to_numpy() == "south", 1 - p, p)


@pytest.fixture
def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    return tabular_frame(300, 0), tabular_frame(150, 1)


@pytest.mark.parametrize("test_id", [SINGLE, BOUNDED])
def test_features_the_model_ignores_pass_with_no_severity(small, test_id) -> None:
    cases = run_one(make_context(*small, model=x_model), test_id)
    ignored = [c for c in cases if c.features != ("x",)]
    assert ignored
    for case in ignored:
        assert case.status is Status.PASS and case.severity is Severity.NONE, case
        assert case.metrics["statistic"] == 0.0 and case.importance_score == 0.0


def test_single_feature_changes_cover_numeric_and_categorical_features(small) -> None:
    cases = run_one(make_context(*small, model=x_model), SINGLE)
    assert [c.features for c in cases] == [("x",), ("z",), ("i",), ("c",), ("k",)]
    bounded = run_one(make_context(*small, model=x_model), BOUNDED)
    assert [c.features for c in bounded] == [("x",), ("z",), ("i",)]


def test_single_feature_statistic_matches_a_direct_search_of_the_quantile_grid(small) -> None:
    ref, cur = small
    case = case_for(run_one(make_context(ref, cur, model=x_model, tests_config=WHOLE), SINGLE), "x")
    grid = np.unique(np.quantile(ref["x"], np.linspace(0, 1, 21)))
    base = sigmoid(cur["x"].to_numpy())
    changes = np.abs(sigmoid(grid)[None, :] - base[:, None])
    assert case.metrics["statistic"] == pytest.approx(changes.max(axis=1).mean())
    assert case.metrics["candidates_per_row"] == grid.size
    flips = ((sigmoid(grid)[None, :] >= 0.5) != (base[:, None] >= 0.5)).any(axis=1)
    assert case.metrics["attack_success_rate"] == pytest.approx(flips.mean())
    assert case.metrics["statistic"] >= get_test(SINGLE).thresholds[2]  # at the HIGH level...
    assert_capped_at_medium(case)  # ...but capped by the default max_severity
    assert "max_severity" in case.description
    worst = case.metrics["worst_case"]
    row, col = np.unravel_index(np.argmax(changes), changes.shape)
    assert worst["row"] == row
    assert worst["original_value"] == pytest.approx(cur["x"].iloc[row])
    assert worst["new_value"] == pytest.approx(grid[col])
    assert worst["prediction_before"] == pytest.approx(base[row])
    assert worst["prediction_after"] == pytest.approx(sigmoid(grid[col]))


def test_bounded_statistic_matches_a_direct_search_near_each_value(small) -> None:
    ref, cur = small
    case = case_for(
        run_one(make_context(ref, cur, model=x_model, tests_config=WHOLE), BOUNDED), "x"
    )
    q01, q99 = np.quantile(ref["x"], [0.01, 0.99])
    x = cur["x"].to_numpy()
    candidates = x[:, None] + np.linspace(-1, 1, 10)[None, :] * 0.05 * (q99 - q01)
    low = np.minimum(x, ref["x"].min())[:, None]
    high = np.maximum(x, ref["x"].max())[:, None]
    candidates = np.clip(candidates, low, high)
    changes = np.abs(sigmoid(candidates) - sigmoid(x)[:, None])
    assert case.metrics["statistic"] == pytest.approx(changes.max(axis=1).mean())
    single = case_for(
        run_one(make_context(ref, cur, model=x_model, tests_config=WHOLE), SINGLE), "x"
    )
    assert case.metrics["statistic"] < single.metrics["statistic"]  # a smaller search space


def test_a_feature_that_decides_the_prediction_fails_by_name_capped_at_medium(small) -> None:
    cases = run_one(make_context(*small, model=k_sensitive), SINGLE)
    brittle = case_for(cases, "k")
    assert_capped_at_medium(brittle)
    assert "'k'" in brittle.description and "max_severity" in brittle.description
    assert brittle.metrics["worst_case"]["new_value"] in {"north", "south"}
    assert case_for(cases, "c").severity is Severity.NONE


def test_max_severity_high_lets_a_decisive_feature_be_high(small) -> None:
    ctx = make_context(*small, model=k_sensitive, tests_config=UNCAPPED)
    cases = run_one(ctx, SINGLE)
    brittle = case_for(cases, "k")
    assert brittle.status is Status.FAIL and brittle.severity is Severity.HIGH
    assert "Capped" not in brittle.description
    assert case_for(cases, "c").severity is Severity.NONE  # the cap lifts no ignored feature
    low = {SINGLE: {"max_severity": "LOW"}}
    capped = case_for(
        run_one(make_context(*small, model=k_sensitive, tests_config=low), SINGLE), "k"
    )
    assert capped.severity is Severity.LOW and "Capped at LOW (max_severity)" in capped.description


def test_an_unknown_max_severity_is_a_config_error_naming_the_key(small) -> None:
    from pytest_rime.engine.errors import ConfigError

    with pytest.raises(ConfigError, match=r"single_feature_changes\.max_severity.*CRITICAL"):
        make_context(*small, model=k_sensitive, tests_config={SINGLE: {"max_severity": "CRITICAL"}})


def test_a_model_crash_on_candidates_fails_capped_unless_max_severity_is_high(small) -> None:
    ref, cur = small
    ref = ref.assign(w=np.linspace(0, 10, len(ref)))
    cur = cur.assign(w=np.linspace(0, 5, len(cur)))

    def refuses_large_w(frame: pd.DataFrame) -> np.ndarray:
        if (frame["w"] > 8).any():
            raise ValueError("w must be at most 8")
        return x_model(frame)

    ctx = make_context(ref, cur, model=refuses_large_w)
    cases = run_one(ctx, SINGLE)
    crashed = case_for(cases, "w")
    assert_capped_at_medium(crashed)
    assert "ValueError: w must be at most 8" in crashed.description
    uncapped = make_context(ref, cur, model=refuses_large_w, tests_config=UNCAPPED)
    assert case_for(run_one(uncapped, SINGLE), "w").severity is Severity.HIGH
    assert case_for(cases, "z").status is Status.PASS
    assert case_for(run_one(ctx, BOUNDED), "w").status is Status.PASS  # stays near 0..5


def test_each_test_predicts_all_candidates_in_one_call(small) -> None:
    ctx = make_context(*small, model=x_model)
    assert isinstance(ctx.model, ModelAdapter)
    run_one(ctx, SINGLE)
    assert ctx.model.n_calls == 2  # the sample, then 5 features x 150 rows x ~21 values
    run_one(ctx, BOUNDED)
    assert ctx.model.n_calls == 3


def test_batches_are_split_beyond_the_row_limit(small) -> None:
    ctx = make_context(*small, model=x_model)
    assert isinstance(ctx.model, ModelAdapter)
    sample = perturbation_sample(ctx, 100)
    calls = ctx.model.n_calls
    rows = np.arange(100)
    edits = [Edit.of(name, rows, np.zeros(100)) for name in ("x", "z", "i")]
    outputs = predict_edits(ctx, sample, edits, max_rows=250)
    assert ctx.model.n_calls == calls + 2  # 300 rows in chunks of whole edits <= 250 rows
    np.testing.assert_allclose(outputs[0], 0.5)  # x = 0
    np.testing.assert_allclose(outputs[1], sample.base)  # z is ignored


def three_x(frame: pd.DataFrame) -> np.ndarray:
    return 3.0 * frame["x"].to_numpy(dtype=float) + 1.0


def test_regression_without_labels_moves_in_units_of_the_spread_capped_at_medium(small) -> None:
    ref, cur = (frame.drop(columns="y") for frame in small)
    ctx = make_context(
        ref, cur, model=three_x, model_task="Regression", tests_config=WHOLE, label_col=None
    )
    case = case_for(run_one(ctx, SINGLE), "x")
    grid = np.unique(np.quantile(ref["x"], np.linspace(0, 1, 21)))
    base = three_x(cur)
    worst = np.abs(3.0 * grid[None, :] + 1.0 - base[:, None]).max(axis=1) / base.std()
    assert case.metrics["statistic"] == pytest.approx(worst.mean())
    bounded = case_for(run_one(ctx, BOUNDED), "x")
    assert bounded.severity.rank <= Severity.MEDIUM.rank and "p_value" not in bounded.metrics


def regression_frame(seed: int, n: int) -> pd.DataFrame:
    """A regression frame: y = 3 x + 1 + noise, and z is noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    return pd.DataFrame({"x": x, "z": rng.normal(0, 1, n), "y": 3 * x + 1 + rng.normal(0, 1, n)})


def test_regression_attacks_are_judged_by_the_error_at_each_rows_worst_move() -> None:
    ref, cur = regression_frame(0, 300), regression_frame(1, 150)
    ctx = make_context(ref, cur, model=three_x, model_task="Regression", tests_config=WHOLE)
    case = case_for(run_one(ctx, SINGLE), "x")
    # Expected independently: each row takes the grid value farthest from its x.
    grid = np.unique(np.quantile(ref["x"], np.linspace(0, 1, 21)))
    x, y = cur["x"].to_numpy(), cur["y"].to_numpy()
    moved = grid[np.argmax(np.abs(grid[None, :] - x[:, None]), axis=1)]
    before, after = np.abs(y - three_x(cur)), np.abs(y - (3.0 * moved + 1.0))
    baseline = np.abs(ref["y"] - ref["y"].median()).mean()  # a constant predictor's error
    expected = (after.mean() - before.mean()) / baseline
    assert case.metrics["statistic"] == pytest.approx(expected)
    assert case.metrics["rows_worse"] == int(np.sum(after > before))
    assert case.metrics["p_value"] < 1e-6
    assert "mean absolute error" in case.description


def test_a_smooth_regression_model_is_no_bounded_finding_a_jumpy_one_is() -> None:
    ref, cur = regression_frame(0, 600), regression_frame(1, 200)
    smooth = make_context(ref, cur, model=three_x, model_task="Regression")
    case = case_for(run_one(smooth, BOUNDED), "x")
    # The worst small move shifts each prediction (the old measure: the HIGH level) ...
    assert case.metrics["mean_worst_prediction_change"] >= get_test(BOUNDED).thresholds[2]
    # ... but the error grows by a small share of a constant predictor's error: at most LOW.
    assert case.metrics["statistic"] < get_test(BOUNDED).thresholds[1]
    assert case.severity.rank <= Severity.LOW.rank

    def jumpy(frame: pd.DataFrame) -> np.ndarray:
        """three_x with spikes of +5 on a fifth of every 0.1-wide step of x."""
        x = frame["x"].to_numpy(dtype=float)
        return three_x(frame) + 5.0 * (np.mod(x * 10, 1) > 0.8)

    brittle = make_context(ref, cur, model=jumpy, model_task="Regression")
    case = case_for(run_one(brittle, BOUNDED), "x")
    assert case.status is Status.FAIL and case.severity is Severity.HIGH
    assert case.metrics["p_value"] < 1e-6


def test_classification_attacks_carry_a_paired_p_value(small) -> None:
    ref, cur = small
    north = cur.assign(k="north")  # where k_sensitive is right; "south" inverts it
    cases = run_one(make_context(ref, north, model=k_sensitive, tests_config=WHOLE), SINGLE)
    brittle, ignored = case_for(cases, "k"), case_for(cases, "c")
    assert brittle.metrics["rows_worse"] > brittle.metrics["rows_better"]
    assert brittle.metrics["p_value"] < 1e-6
    assert ignored.metrics["p_value"] == 1.0 and ignored.metrics["rows_worse"] == 0


def test_multiclass_changes_are_half_the_l1_change_of_the_probabilities(small) -> None:
    ref, cur = (frame.assign(y=frame["c"]) for frame in small)
    classes = np.array(["blue", "green", "red"])

    def colour_model(frame: pd.DataFrame) -> np.ndarray:
        onehot = (frame["c"].to_numpy()[:, None] == classes[None, :]).astype(float)
        return 0.7 * onehot + 0.1

    model = ModelAdapter(colour_model, source="colours", classes=classes)
    ctx = make_context(ref, cur, model=model, tests_config=WHOLE)
    assert ctx.model_task == "Multi-class Classification"
    case = case_for(run_one(ctx, SINGLE), "c")
    assert case.metrics["statistic"] == pytest.approx(0.7)  # every row can change colour
    assert case.metrics["attack_success_rate"] == 1.0
    before = case.metrics["worst_case"]["prediction_before"]
    assert sorted(before) == pytest.approx([0.1, 0.1, 0.8])


def test_precomputed_predictions_only_skip_both_tests(small) -> None:
    ref, cur = small
    ctx = make_context(ref, cur, ref_predictions=x_model(ref), eval_predictions=x_model(cur))
    for test_id in (SINGLE, BOUNDED):
        assert [c.status for c in run_one(ctx, test_id)] == [Status.SKIP]


def test_empty_evaluation_data_is_a_skip(small) -> None:
    ref, cur = small
    cases = run_one(make_context(ref, cur.iloc[:0], model=x_model), SINGLE)
    assert [c.status for c in cases] == [Status.SKIP] and "no rows" in cases[0].description


def test_constant_and_all_null_columns(small) -> None:
    ref, cur = (frame.assign(flat=5.0, gap=np.nan) for frame in small)
    ctx = make_context(ref, cur, model=x_model)
    single = run_one(ctx, SINGLE)
    flat = case_for(single, "flat")
    assert flat.status is Status.PASS and flat.metrics["candidates_per_row"] == 1
    assert all(c.features != ("gap",) for c in single)  # no observed value to try
    assert case_for(run_one(ctx, BOUNDED), "flat").status is Status.PASS


def test_no_attackable_feature_gives_one_skip_case() -> None:
    text = " ".join(["a long free text value that is clearly not a category"] * 2)
    ref = pd.DataFrame({"note": [text + str(i) for i in range(50)], "y": [0, 1] * 25})
    ctx = make_context(ref, ref.copy(), model=lambda frame: np.full(len(frame), 0.3))
    cases = run_one(ctx, SINGLE)
    assert [(c.status, c.features) for c in cases] == [(Status.SKIP, ())]


def test_titanic_attacks_find_the_decisive_features_and_no_small_move_brittleness() -> None:
    ref, cur = titanic_split()
    model = titanic_model()
    adapter = ModelAdapter(model.predict_proba, source="titanic", classes=model.classes_)
    ctx = make_context(ref, cur, model=adapter, label_col="survived")
    single = {c.features[0]: c for c in run_one(ctx, SINGLE)}
    # gender, age and class legitimately decide survival; the rest barely matter.
    ranked = sorted(single, key=lambda name: single[name].importance_score, reverse=True)
    assert set(ranked[:3]) == {"gender", "age", "class"}
    for name in ("embarked", "fare", "sibsp", "parch"):
        assert single[name].severity.rank <= Severity.LOW.rank, single[name]
    # Moving a number by 5% of its usual range changes little: no HIGH.
    bounded = run_one(ctx, BOUNDED)
    assert {c.features[0] for c in bounded} == {"age", "fare", "sibsp", "parch"}
    assert all(c.severity.rank < Severity.HIGH.rank for c in bounded), bounded
    assert isinstance(ctx.model, ModelAdapter) and ctx.model.n_calls == 3


def test_single_class_labels_do_not_hide_a_decisive_feature(small) -> None:
    ref, cur = (frame.assign(y=0) for frame in small)
    cases = run_one(make_context(ref, cur, model=k_sensitive, tests_config=UNCAPPED), SINGLE)
    assert case_for(cases, "k").severity is Severity.HIGH


def test_categories_of_mixed_types_are_tried_as_they_are(small) -> None:
    ref, cur = (frame.assign(m=[v if v == "north" else 7 for v in frame["k"]]) for frame in small)
    ctx = make_context(ref, cur, model=x_model)
    settings = settings_for(ctx.config, get_test(SINGLE))
    found = observed_values(ctx, "m", cur["m"], settings)
    assert found is not None
    rows, values = found
    assert rows.tolist() == list(range(len(cur)))
    assert sorted(map(repr, values[0])) == ["'north'", "7"]


def test_bounded_moves_of_integer_codes_are_capped_at_medium() -> None:
    rng = np.random.default_rng(3)

    def frame(n: int) -> pd.DataFrame:
        return pd.DataFrame({"tier": rng.integers(1, 4, n), "amount": rng.integers(0, 1000, n)})

    def tier_decides(df: pd.DataFrame) -> np.ndarray:
        return np.where(df["tier"].to_numpy() == 2, 0.9, 0.1)

    ref, cur = frame(300), frame(150)
    cases = run_one(make_context(ref, cur, model=tier_decides), BOUNDED)
    tier, amount = case_for(cases, "tier"), case_for(cases, "amount")
    assert tier.status is Status.FAIL and tier.severity is Severity.MEDIUM
    assert "distinct integer values" in tier.description
    assert amount.severity is Severity.NONE
