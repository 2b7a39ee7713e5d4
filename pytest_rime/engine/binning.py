"""Split timestamped rows into UTC time bins for firewall runs.

Timestamps may be strings ``"YYYY-MM-DD"`` or ``"YYYY-MM-DD HH:MM:SS"`` (an ISO ``T`` separator
and a UTC offset are accepted too), numbers of seconds since the epoch, or datetime values
(naive ones are taken as UTC). Rows whose timestamp cannot be parsed are reported, never
silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pytest_rime.vocabulary import BIN_SIZES as BIN_SIZES  # re-exported
from pytest_rime.vocabulary import BIN_SIZES_SECONDS
from pytest_rime.vocabulary import DAILY as DAILY  # re-exported
from pytest_rime.vocabulary import HOURLY as HOURLY  # re-exported

_EPOCH = pd.Timestamp(0, tz="UTC")


@dataclass(frozen=True)
class TimeBin:
    """One bin: its UTC start and end (seconds since the epoch) and the positions of its rows."""

    start_secs: int
    end_secs: int
    rows: np.ndarray

    @property
    def label(self) -> str:
        """The bin start as ``YYYY-MM-DD`` (daily bins) or ``YYYY-MM-DD HH:00`` (shorter bins)."""
        start = pd.Timestamp(self.start_secs, unit="s", tz="UTC")
        if self.end_secs - self.start_secs >= DAILY:
            return start.strftime("%Y-%m-%d")
        return start.strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Binning:
    """The bins of a dataset, in time order, and the rows that fit none."""

    bins: tuple[TimeBin, ...]
    unparsed_rows: np.ndarray
    """Positions of rows whose timestamp is missing or could not be parsed."""
    unparsed_examples: tuple[str, ...]
    """Up to five of the raw values that could not be parsed, for error messages."""


def bin_size_seconds(value: str | int) -> int:
    """Return the bin size in seconds for ``"hour"``, ``"day"``, 3600 or 86400.

    Raises:
        ValueError: For any other value, naming the accepted ones.
    """
    if isinstance(value, str) and value.lower() in BIN_SIZES:
        return BIN_SIZES[value.lower()]
    if isinstance(value, int) and not isinstance(value, bool) and value in BIN_SIZES_SECONDS:
        return value
    raise ValueError(
        f"bin size {value!r} is not supported: use 'hour' or 'day' (3600 or 86400 seconds)"
    )


def to_epoch_seconds(values: pd.Series) -> pd.Series:
    """Parse timestamps to float seconds since the epoch (UTC); NaN where unparseable."""
    if pd.api.types.is_bool_dtype(values):
        return pd.Series(np.nan, index=values.index)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.tz_localize("UTC")
    else:
        text = values.astype("string").str.strip()
        numeric = pd.to_numeric(text, errors="coerce")
        parsed = pd.to_datetime(
            text.where(numeric.isna()), errors="coerce", utc=True, format="mixed"
        )
        seconds = _datetime_seconds(parsed)
        return seconds.where(numeric.isna(), numeric.astype("float64"))
    return _datetime_seconds(parsed)


def _datetime_seconds(parsed: pd.Series) -> pd.Series:
    """Seconds since the epoch of tz-aware datetimes, whatever their resolution; NaN for NaT."""
    out = pd.Series(np.nan, index=parsed.index, dtype="float64")
    ok = parsed.notna()
    if ok.any():
        out[ok] = (parsed[ok] - _EPOCH) / pd.Timedelta(seconds=1)
    return out


def split_into_bins(values: pd.Series, bin_size: int) -> Binning:
    """Group the positions of ``values`` into UTC bins of ``bin_size`` seconds.

    Args:
        values: The timestamp column.
        bin_size: 3600 or 86400.

    Returns:
        The non-empty bins in time order, and the rows that could not be placed.
    """
    size = bin_size_seconds(bin_size)
    seconds = to_epoch_seconds(values).to_numpy(dtype="float64")
    bad = ~np.isfinite(seconds)
    starts = np.full(len(seconds), -1, dtype="int64")
    starts[~bad] = (np.floor(seconds[~bad] / size) * size).astype("int64")
    good_rows = np.flatnonzero(~bad)
    order = np.argsort(starts[good_rows], kind="stable")
    sorted_rows = good_rows[order]
    unique_starts, first = np.unique(starts[sorted_rows], return_index=True)
    groups = np.split(sorted_rows, first[1:]) if len(sorted_rows) else []
    bins = tuple(
        TimeBin(int(start), int(start) + size, rows)
        for start, rows in zip(unique_starts, groups, strict=True)
    )
    unparsed = np.flatnonzero(bad)
    examples = tuple(str(v) for v in values.iloc[unparsed[:5]].tolist())
    return Binning(bins=bins, unparsed_rows=unparsed, unparsed_examples=examples)
