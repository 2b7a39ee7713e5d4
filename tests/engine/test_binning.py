from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pytest_rime.engine.binning import DAILY, HOURLY, bin_size_seconds, split_into_bins


def _starts(binning):
    return [b.start_secs for b in binning.bins]


def test_daily_bins_from_date_strings_are_utc_days_in_order():
    values = pd.Series(["2024-05-02 13:00:00", "2024-05-01", "2024-05-01 23:59:59", "2024-05-02"])
    binning = split_into_bins(values, DAILY)
    day1 = int(dt.datetime(2024, 5, 1, tzinfo=dt.UTC).timestamp())
    assert _starts(binning) == [day1, day1 + DAILY]
    assert [sorted(b.rows.tolist()) for b in binning.bins] == [[1, 2], [0, 3]]
    assert [b.label for b in binning.bins] == ["2024-05-01", "2024-05-02"]
    assert binning.bins[0].end_secs - binning.bins[0].start_secs == DAILY


def test_hourly_bins_from_epoch_seconds_match_integer_division():
    rng = np.random.default_rng(0)
    seconds = rng.integers(1_700_000_000, 1_700_000_000 + 5 * DAILY, size=500)
    binning = split_into_bins(pd.Series(seconds), HOURLY)
    expected = np.unique(seconds // HOURLY * HOURLY).tolist()
    assert _starts(binning) == expected
    assert sum(len(b.rows) for b in binning.bins) == 500
    for b in binning.bins:
        assert np.all(seconds[b.rows] // HOURLY * HOURLY == b.start_secs)
    assert binning.bins[0].label.endswith(":00")


def test_datetime_columns_naive_and_aware_give_the_same_bins():
    naive = pd.Series(pd.to_datetime(["2024-01-01 05:00", "2024-01-02 01:00"]))
    aware = naive.dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    assert _starts(split_into_bins(naive, DAILY)) == _starts(split_into_bins(aware, DAILY))


def test_unparseable_timestamps_are_reported_not_dropped():
    values = pd.Series(["2024-01-01", "not a date", None, "2024-01-01 10:00:00", ""])
    binning = split_into_bins(values, DAILY)
    assert binning.unparsed_rows.tolist() == [1, 2, 4]
    assert "not a date" in binning.unparsed_examples
    assert sum(len(b.rows) for b in binning.bins) == 2


def test_numeric_strings_are_epoch_seconds():
    binning = split_into_bins(pd.Series(["0", "86399", "86400"]), DAILY)
    assert _starts(binning) == [0, DAILY]


def test_empty_column_gives_no_bins():
    binning = split_into_bins(pd.Series([], dtype="object"), DAILY)
    assert binning.bins == ()
    assert binning.unparsed_rows.size == 0


@pytest.mark.parametrize("value", [60, 7200, "week", "", True])
def test_bad_bin_size_is_a_value_error_naming_the_choices(value):
    with pytest.raises(ValueError, match="'hour' or 'day'"):
        bin_size_seconds(value)


def test_bin_size_names():
    assert bin_size_seconds("day") == DAILY
    assert bin_size_seconds("Hour") == HOURLY
    assert bin_size_seconds(3600) == HOURLY
