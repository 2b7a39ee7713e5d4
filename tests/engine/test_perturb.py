"""The pure value generators of the Transformations and Attacks tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pytest_rime.engine import perturb
from pytest_rime.engine.data import infer_feature_types
from pytest_rime.engine.profile import FeatureProfile, compute_profile


def profile_of(ref: pd.Series, categorical_features: tuple[str, ...] = ()) -> FeatureProfile:
    frame = ref.rename("f").to_frame()
    info = infer_feature_types(frame, exclude=(), categorical_features=categorical_features)["f"]
    return compute_profile(info, frame, frame)


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


NUMBERS = pd.Series(np.random.default_rng(1).normal(10.0, 3.0, 400))
INTEGERS = pd.Series(np.random.default_rng(2).integers(0, 30, 400))
COLORS = pd.Series(["red"] * 5 + ["green"] * 3 + ["BLUE"] * 2)


def test_nulls_keep_the_dtype_family_a_data_file_would_give() -> None:
    floats = perturb.nulls(NUMBERS, profile_of(NUMBERS), rng())
    assert floats.dtype == float and floats.isna().all()
    ints = perturb.nulls(INTEGERS, profile_of(INTEGERS), rng())
    assert ints.dtype == float and ints.isna().all()  # pandas reads ints with gaps as floats
    strings = perturb.nulls(COLORS, profile_of(COLORS), rng())
    assert strings.dtype == COLORS.dtype and strings.isna().all()  # object, or "str" on pandas 3
    typed = COLORS.astype("string")
    assert perturb.nulls(typed, profile_of(COLORS), rng()).dtype == typed.dtype
    flags = pd.Series([True, False, True])
    assert perturb.nulls(flags, profile_of(flags), rng()).isna().all()
    assert list(floats.index) == list(NUMBERS.index)


def test_out_of_range_values_lie_just_beyond_the_reference_range() -> None:
    values = perturb.out_of_range(NUMBERS, profile_of(NUMBERS), rng())
    assert values is not None
    span = NUMBERS.max() - NUMBERS.min()
    expected = {NUMBERS.min() - 0.1 * span, NUMBERS.max() + 0.1 * span}
    assert set(np.round(values, 9)) == set(np.round(list(expected), 9))  # both sides drawn


def test_out_of_range_of_integers_are_whole_numbers_outside_the_range() -> None:
    values = perturb.out_of_range(INTEGERS, profile_of(INTEGERS), rng())
    assert values is not None and values.dtype == np.int64
    assert ((values < INTEGERS.min()) | (values > INTEGERS.max())).all()


def test_out_of_range_of_a_constant_column_still_leaves_the_range() -> None:
    constant = pd.Series([5.0] * 20)
    values = perturb.out_of_range(constant, profile_of(constant), rng())
    assert values is not None
    assert set(values) == {4.5, 5.5}  # margin 10% of max(|5|, 1)


def test_numeric_outliers_are_ten_robust_spreads_from_the_median() -> None:
    values = perturb.numeric_outliers(NUMBERS, profile_of(NUMBERS), rng())
    assert values is not None
    q01, q50, q99 = np.quantile(NUMBERS, [0.01, 0.5, 0.99])
    distance = np.abs(values.to_numpy() - q50)
    np.testing.assert_allclose(distance, 10 * (q99 - q01))


def test_numeric_substitutions_do_not_apply_to_categories_or_bools() -> None:
    flags = pd.Series([True, False] * 5)
    for substitute in (perturb.out_of_range, perturb.numeric_outliers):
        assert substitute(COLORS, profile_of(COLORS), rng()) is None
        assert substitute(flags, profile_of(flags), rng()) is None


def test_substitutions_are_reproducible_with_the_same_seed() -> None:
    profile = profile_of(NUMBERS)
    first = perturb.out_of_range(NUMBERS, profile, np.random.default_rng(7))
    again = perturb.out_of_range(NUMBERS, profile, np.random.default_rng(7))
    assert first is not None and again is not None
    pd.testing.assert_series_equal(first, again)


def test_unseen_category_is_absent_from_the_reference() -> None:
    values = perturb.unseen_category(COLORS, profile_of(COLORS), rng())
    assert values is not None
    assert set(values) == {perturb.UNSEEN_CATEGORY}
    taken = pd.Series([perturb.UNSEEN_CATEGORY, "a", "b"])
    other = perturb.unseen_category(taken, profile_of(taken), rng())
    assert other is not None and not set(other) & set(taken)


def test_unseen_category_of_numeric_codes_is_a_new_number() -> None:
    codes = pd.Series([1, 2, 2, 7])
    values = perturb.unseen_category(codes, profile_of(codes, categorical_features=("f",)), rng())
    assert values is not None and set(values) == {8}
    assert perturb.unseen_category(NUMBERS, profile_of(NUMBERS), rng()) is None


def test_empty_strings_apply_to_string_features_only() -> None:
    values = perturb.empty_strings(COLORS, profile_of(COLORS), rng())
    assert values is not None and set(values) == {""}
    assert perturb.empty_strings(NUMBERS, profile_of(NUMBERS), rng()) is None


def test_type_change_turns_numbers_into_text_and_keeps_nulls() -> None:
    column = pd.Series([1.5, np.nan, 3.0])
    values = perturb.type_change(column, profile_of(column), rng())
    assert values is not None
    assert values.iloc[0] == "1.5" and values.iloc[2] == "3.0" and pd.isna(values.iloc[1])


def test_type_change_turns_strings_into_frequency_codes() -> None:
    values = perturb.type_change(COLORS, profile_of(COLORS), rng())
    assert values is not None
    assert values.dtype == np.int64
    expected = COLORS.map({"red": 0, "green": 1, "BLUE": 2})  # by reference frequency
    assert values.tolist() == expected.tolist()


def test_type_change_skips_datetime_features() -> None:
    dates = pd.Series(["2024-01-01", "2024-01-02"])
    assert perturb.type_change(dates, profile_of(dates), rng()) is None


def test_capitalization_upper_cases_or_lower_cases_upper_case_values() -> None:
    values = perturb.capitalization(COLORS, profile_of(COLORS), rng())
    assert values is not None
    assert set(values) == {"RED", "GREEN", "blue"}
    assert perturb.capitalization(NUMBERS, profile_of(NUMBERS), rng()) is None


def test_changed_rows_compare_value_and_type_with_nulls_equal() -> None:
    before = pd.Series([1.0, np.nan, "a", 3, "x"], dtype=object)
    after = pd.Series([1, np.nan, "A", "3", "x"], dtype=object)
    assert perturb.changed_rows(before, after).tolist() == [False, False, True, True, False]


def test_numeric_grid_is_the_distinct_reference_quantiles() -> None:
    grid = perturb.numeric_grid(NUMBERS, 11, integer=False)
    np.testing.assert_allclose(grid, np.quantile(NUMBERS, np.linspace(0, 1, 11)))
    whole = perturb.numeric_grid(INTEGERS, 50, integer=True)
    assert np.all(whole == np.round(whole)) and len(whole) == len(set(whole))
    assert perturb.numeric_grid(pd.Series([np.nan, np.nan]), 5, integer=False).size == 0


def test_category_candidates_are_the_most_frequent_reference_categories() -> None:
    assert perturb.category_candidates(profile_of(COLORS), 2) == ["red", "green"]
    assert perturb.category_candidates(profile_of(NUMBERS), 5) == []


def test_bounded_grid_stays_within_a_fraction_of_the_robust_range() -> None:
    profile = profile_of(NUMBERS)
    original = NUMBERS.to_numpy()[:50]
    grid = perturb.bounded_grid(original, profile, 0.05, 10)
    q01, q99 = np.quantile(NUMBERS, [0.01, 0.99])
    bound = 0.05 * (q99 - q01)
    assert grid.shape == (50, 10)
    assert np.all(np.abs(grid - original[:, None]) <= bound + 1e-9)
    assert np.all(grid >= NUMBERS.min()) and np.all(grid <= NUMBERS.max())
    assert np.all(grid != original[:, None])  # an even number of steps excludes zero


@pytest.mark.parametrize("fraction", [0.0001, 0.2])
def test_bounded_grid_of_integers_moves_at_least_one_unit(fraction: float) -> None:
    original = np.array([10.0, np.nan])
    grid = perturb.bounded_grid(original, profile_of(INTEGERS), fraction, 4)
    assert np.all(grid[0] == np.round(grid[0]))
    assert np.abs(grid[0] - 10).max() >= 1
    assert np.isnan(grid[1]).all()
