"""A firewall split by time bin into groups and merged back equals the single-process run."""

from __future__ import annotations

from typing import Any

import pytest
from firewall_split_data import DAY_ROWS, DRIFT_DAY, comparable, write_split_data

from pytest_rime.engine.errors import DataError
from pytest_rime.engine.firewall import FirewallRunResult, run_firewall
from pytest_rime.engine.firewall_split import (
    BinPlan,
    group_bins,
    merge_firewall_results,
    plan_bins,
)


def _quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="module")
def arguments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The firewall arguments of the multi-day data set."""
    return write_split_data(tmp_path_factory.mktemp("split"))


@pytest.fixture(scope="module")
def single(arguments: dict[str, Any]) -> FirewallRunResult:
    """The single-process run over every bin."""
    return run_firewall(**arguments, log=_quiet)


@pytest.fixture(scope="module")
def plan(arguments: dict[str, Any]) -> BinPlan:
    return plan_bins(
        arguments["eval_path"], arguments["timestamp_col"], arguments["bin_size_seconds"]
    )


def _split_run(arguments: dict[str, Any], plan: BinPlan, groups: list[range]) -> FirewallRunResult:
    parts = [
        run_firewall(**arguments, log=_quiet, bin_starts={plan.starts[i] for i in group})
        for group in reversed(groups)  # the merge orders bins by time, whatever the parts' order
    ]
    return merge_firewall_results(parts)


def test_the_plan_lists_the_bins_of_the_run(single, plan):
    assert plan.starts == tuple(b.summary.bin_start_secs for b in single.bins)
    assert plan.rows == tuple(b.summary.num_rows for b in single.bins)
    assert plan.num_rows == single.num_rows == sum(DAY_ROWS)
    # The data set exercises what a merge must carry: unparsed rows and a drift day's events.
    assert single.num_unparsed_rows == 2
    assert {e.bin_start_secs for e in single.events} == {plan.starts[DRIFT_DAY]}


@pytest.mark.parametrize("split_rows", [1, 150, 300, 10_000])
def test_split_then_merge_equals_the_single_run(arguments, single, plan, split_rows):
    groups = group_bins(plan.rows, split_rows)
    assert len(groups) > 1 or split_rows == 10_000
    merged = _split_run(arguments, plan, groups)
    assert comparable(merged.to_dict()) == comparable(single.to_dict())
    assert merged.events == single.events
    assert merged.num_unparsed_rows == single.num_unparsed_rows
    assert merged.unparsed_examples == single.unparsed_examples


def test_a_partial_run_reports_progress_and_logs_over_its_own_bins(arguments, plan):
    lines: list[str] = []
    calls: list[tuple[int, int]] = []
    part = run_firewall(
        **arguments,
        log=lines.append,
        progress=lambda done, total: calls.append((done, total)),
        bin_starts={plan.starts[1], plan.starts[DRIFT_DAY]},
    )
    assert [b.summary.bin_start_secs for b in part.bins] == [plan.starts[1], plan.starts[DRIFT_DAY]]
    assert calls == [(0, 2), (1, 2), (2, 2)]
    bin_lines = [line.split(":")[0] for line in lines if " bin 2024-" in line]
    assert bin_lines == ["[1/2] bin 2024-03-02", "[2/2] bin 2024-03-04"]
    # The header is the whole run's: all rows of the file, all unparsed rows.
    assert part.num_rows == sum(DAY_ROWS)
    assert part.num_unparsed_rows == 2


def test_merge_rejects_overlapping_bins_and_parts_of_different_runs(arguments, plan):
    first = run_firewall(**arguments, log=_quiet, bin_starts={plan.starts[0]})
    again = run_firewall(**arguments, log=_quiet, bin_starts={plan.starts[0], plan.starts[1]})
    with pytest.raises(ValueError, match="bin 2024-03-01 is in two"):
        merge_firewall_results([first, again])
    quiet = run_firewall(**arguments, log=_quiet, bin_starts={plan.starts[1]}, enable_events=False)
    with pytest.raises(ValueError, match="events_enabled differs"):
        merge_firewall_results([first, quiet])
    with pytest.raises(ValueError, match="no firewall results"):
        merge_firewall_results([])
    assert merge_firewall_results([first], duration_millis=42).duration_millis == 42


def test_plan_names_a_missing_timestamp_column(arguments):
    with pytest.raises(DataError, match=r"timestamp_col: .*eval\.csv has no column 'when'"):
        plan_bins(arguments["eval_path"], "when", "day")


@pytest.mark.parametrize(
    ("rows", "split_rows", "expected"),
    [
        ([], 10, []),
        ([5], 10, [range(1)]),
        ([5, 5, 5], 10, [range(2), range(2, 3)]),
        ([5, 5, 5], 15, [range(3)]),
        ([3, 20, 3, 3], 10, [range(1), range(1, 2), range(2, 4)]),  # a big bin stands alone
        ([20, 20], 10, [range(1), range(1, 2)]),
        ([0, 0, 4], 1, [range(2), range(2, 3)]),
        ([7, 7, 7], 1, [range(1), range(1, 2), range(2, 3)]),
    ],
)
def test_group_bins_cuts_contiguous_groups_of_at_most_split_rows(rows, split_rows, expected):
    groups = group_bins(rows, split_rows)
    assert groups == expected
    assert [i for group in groups for i in group] == list(range(len(rows)))


@pytest.mark.parametrize(("rows", "split_rows"), [([1], 0), ([1], -5), ([1, -1], 10)])
def test_group_bins_rejects_bad_input(rows, split_rows):
    with pytest.raises(ValueError, match=r"split_rows|negative"):
        group_bins(rows, split_rows)


def test_group_of_the_real_bins_covers_every_row(plan: BinPlan):
    groups = group_bins(plan.rows, 250)
    sizes = [sum(plan.rows[i] for i in group) for group in groups]
    assert sum(sizes) == sum(plan.rows)
    assert all(size <= 250 or len(group) == 1 for size, group in zip(sizes, groups, strict=True))
