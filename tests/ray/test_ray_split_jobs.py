"""Firewall jobs split by time bin into Ray tasks, end to end through the server's executor.

The SDK's firewall-run tests, imported unchanged, on a shared server whose ``split_rows`` is 1:
every time bin of every incremental run becomes a Ray task of its own, started by the job's
worker (itself a Ray task) and merged back into the job's result, and the same assertions
(bins, per-bin runs, progress and log, planted drift's events, a resent day) hold.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_sdk_firewall_runs import (
    daily,
    reference_run,
    resent,
    test_batch_job_status_progress_and_log,
    test_daily_bins_are_the_utc_days_of_the_data,
    test_each_bin_is_its_own_test_run,
    test_planted_drift_raises_events_for_that_day_only,
    test_resending_a_day_replaces_its_results,
)

pytestmark = pytest.mark.ray

__all__ = [
    "daily",
    "reference_run",
    "resent",
    "test_batch_job_status_progress_and_log",
    "test_daily_bins_are_the_utc_days_of_the_data",
    "test_each_bin_is_its_own_test_run",
    "test_planted_drift_raises_events_for_that_day_only",
    "test_resending_a_day_replaces_its_results",
]


@pytest.fixture(scope="module")
def module_server_settings(ray_driver: str) -> dict[str, Any]:
    """Jobs on the Ray cluster, and firewall jobs split into one task per bin."""
    return {"executor": "ray", "ray_address": ray_driver, "split_rows": 1}


def test_the_job_was_split_into_one_ray_task_per_bin(daily: dict[str, Any]) -> None:
    log = daily["job"].get_logs()
    assert f"bins into {len(daily['bins'])} Ray tasks of at most 1 rows" in log, log
