"""Firewall jobs on Ray, whole and split by time bin, end to end through the server's executor.

The SDK's firewall-run tests, imported unchanged, twice on a shared server with jobs on the
cluster: with ``split_rows`` 0 each firewall job runs in its one Ray task; with ``split_rows``
1 every time bin of every incremental run becomes a Ray task of its own, started by the job's
worker (itself a Ray task) and merged back into the job's result. The same assertions (bins,
per-bin runs, progress and log, planted drift's events, a resent day) hold both ways.
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


@pytest.fixture(scope="module", params=[0, 1], ids=["whole", "split"])
def module_server_settings(ray_driver: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Jobs on the Ray cluster; with ``split_rows`` 1, firewall jobs as one task per bin."""
    return {"executor": "ray", "ray_address": ray_driver, "split_rows": request.param}


def test_the_job_is_split_into_one_ray_task_per_bin_only_when_asked(
    daily: dict[str, Any], module_server_settings: dict[str, Any]
) -> None:
    log = daily["job"].get_logs()
    split = f"bins into {len(daily['bins'])} Ray tasks of at most 1 rows" in log
    assert split == bool(module_server_settings["split_rows"]), log
