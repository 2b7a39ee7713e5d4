"""Split a firewall run by time bin into groups of bins, and merge the groups' results.

A bin's outcome depends only on the reference, its own rows and the run's header (see
:mod:`pytest_rime.engine.firewall`), so the bins can run in separate processes or machines:
:func:`plan_bins` reads the timestamp column of the evaluation data and lists the bins,
:func:`group_bins` cuts them into contiguous groups of about ``split_rows`` rows, each group runs
as ``run_firewall(..., bin_starts=group)``, and :func:`merge_firewall_results` joins the groups'
results into exactly the result of one :func:`~pytest_rime.engine.firewall.run_firewall` over
all bins (only ``duration_millis`` differs). No statistic is merged: each bin is computed whole
in one group.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_rime.engine.binning import bin_size_seconds, split_into_bins
from pytest_rime.engine.data import Resolver, read_table
from pytest_rime.engine.firewall import FirewallRunResult, check_timestamp_column


@dataclass(frozen=True)
class BinPlan:
    """The bins of an evaluation file before any test runs.

    Attributes:
        num_rows: Rows of the file.
        starts: Each non-empty bin's start (epoch seconds), in time order.
        rows: Each bin's row count, aligned with ``starts``.
    """

    num_rows: int
    starts: tuple[int, ...]
    rows: tuple[int, ...]


def plan_bins(
    eval_path: str, timestamp_col: str, bin_size: int | str, resolver: Resolver | None = None
) -> BinPlan:
    """Read ``eval_path`` and count its rows per bin of ``timestamp_col``.

    The bins are those of the full file; a config's ``nrows`` sampling can only empty some of
    them (a group whose bins are all empty then returns no bin).

    Raises:
        DataError: The file cannot be read or has no column ``timestamp_col``.
        ValueError: The bin size is neither an hour nor a day.
    """
    size = bin_size_seconds(bin_size)
    frame = read_table(eval_path, resolver)
    check_timestamp_column(frame, eval_path, timestamp_col)
    binning = split_into_bins(frame[timestamp_col], size)
    return BinPlan(
        num_rows=len(frame),
        starts=tuple(time_bin.start_secs for time_bin in binning.bins),
        rows=tuple(len(time_bin.rows) for time_bin in binning.bins),
    )


def group_bins(rows: Sequence[int], split_rows: int) -> list[range]:
    """Cut bins into contiguous groups of at most ``split_rows`` rows each.

    A group takes the next bins while they fit; a bin larger than ``split_rows`` is a group of
    its own (a bin is never split). Every bin is in exactly one group, in order.

    Args:
        rows: Row count of each bin, in time order.
        split_rows: Most rows per group (> 0).

    Returns:
        The groups as ranges of bin indices.

    Raises:
        ValueError: ``split_rows`` is not positive or a row count is negative.
    """
    if split_rows <= 0:
        raise ValueError(f"split_rows must be a positive number of rows, got {split_rows}")
    if any(count < 0 for count in rows):
        raise ValueError(f"bin row counts must not be negative, got {list(rows)}")
    groups: list[range] = []
    first, held = 0, 0
    for index, count in enumerate(rows):
        if index > first and held + count > split_rows:
            groups.append(range(first, index))
            first, held = index, 0
        held += count
    if len(rows) > first:
        groups.append(range(first, len(rows)))
    return groups


_HEADER = (
    "run_name",
    "eval_path",
    "timestamp_col",
    "bin_size_seconds",
    "num_rows",
    "num_unparsed_rows",
    "unparsed_examples",
    "events_enabled",
    "thresholds",
    "metadata",
)


def merge_firewall_results(
    parts: Sequence[FirewallRunResult], duration_millis: int | None = None
) -> FirewallRunResult:
    """The result of one run over the bins of ``parts`` (runs of disjoint bins of one firewall).

    Args:
        parts: Results of ``run_firewall(..., bin_starts=...)`` with the same arguments and
            disjoint ``bin_starts``, in any order.
        duration_millis: Wall time of the whole split run (default: the longest part's).

    Returns:
        The parts' header and all their bins in time order.

    Raises:
        ValueError: No parts, parts of different runs (the message names the field), or a bin
            in two parts.
    """
    if not parts:
        raise ValueError("no firewall results to merge")
    first = parts[0]
    for part in parts[1:]:
        for name in _HEADER:
            if getattr(part, name) != getattr(first, name):
                raise ValueError(
                    f"cannot merge firewall results of different runs: {name} differs "
                    f"({getattr(first, name)!r} vs {getattr(part, name)!r})"
                )
    bins = sorted((b for part in parts for b in part.bins), key=lambda b: b.summary.bin_start_secs)
    for before, after in itertools.pairwise(bins):
        if before.summary.bin_start_secs == after.summary.bin_start_secs:
            raise ValueError(f"bin {after.summary.label} is in two of the merged firewall results")
    duration = max(p.duration_millis for p in parts) if duration_millis is None else duration_millis
    return dataclasses.replace(first, bins=tuple(bins), duration_millis=duration)
