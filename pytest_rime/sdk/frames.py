"""Results as pandas DataFrames: test cases, test run summary, test batches, firewall bins."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import pandas as pd

from pytest_rime.proto.v1 import firewall_pb2, results_pb2
from pytest_rime.sdk.convert import (
    case_status_label,
    data_type_label,
    flatten,
    parse_json_object,
    severity_label,
)

TEST_CASE_COLUMNS = (
    "test_run_id",
    "test_batch_type",
    "test_id",
    "category",
    "features",
    "status",
    "severity",
    "importance_score",
    "metrics",
    "description",
)
"""Columns of ``get_test_cases_result()``, in order."""

TEST_BATCH_COLUMNS = (
    "test_run_id",
    "test_id",
    "test_batch_type",
    "category",
    "description",
    "severity",
    "duration_millis",
    "summary_counts.total",
    "summary_counts.pass",
    "summary_counts.warning",
    "summary_counts.fail",
    "summary_counts.skip",
    "summary_counts.error",
)
"""Columns of ``get_test_batches_result()``, in order."""

FIREWALL_EVENT_COLUMNS = (
    "id",
    "firewall_id",
    "bin_start_secs",
    "bin_end_secs",
    "metric",
    "value",
    "threshold",
    "severity",
    "description",
    "test_run_id",
)
"""Columns of ``RIMEFirewall.get_events()``, in order."""

FIREWALL_BIN_COLUMNS = (
    "firewall_id",
    "bin_start_secs",
    "bin_end_secs",
    "test_run_id",
    "num_rows",
    "severity",
    "job_id",
)
"""Leading columns of ``RIMEFirewall.get_bins()``; one ``metrics.<name>`` column follows per
monitored metric."""

_SUMMARY_KEYS = ("total", "pass", "warning", "fail", "skip", "error")
_SEVERITY_KEYS = ("none", "low", "medium", "high")


def _frame(rows: list[dict[str, Any]], columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def _row(message: Any, columns: Iterable[str], **converted: Any) -> dict[str, Any]:
    """``message`` as a row of ``columns``.

    Each column is the field of that (dotted) name as it is, or the value ``converted`` gives
    for it (labels for enums, lists for repeated fields, parsed JSON).
    """
    return {
        column: converted[column]
        if column in converted
        else functools.reduce(getattr, column.split("."), message)
        for column in columns
    }


def cases_frame(cases: Iterable[results_pb2.TestCase]) -> pd.DataFrame:
    """One row per test case with the columns of :data:`TEST_CASE_COLUMNS`.

    Raises:
        ValueError: A case's metrics are not a JSON object.
    """
    rows = [
        _row(
            case,
            TEST_CASE_COLUMNS,
            features=list(case.features),
            status=case_status_label(case.status),
            severity=severity_label(case.severity),
            metrics=parse_json_object(case.metrics_json, f"the metrics of {case.test_id}"),
        )
        for case in cases
    ]
    return _frame(rows, TEST_CASE_COLUMNS)


def run_summary_frame(run: results_pb2.TestRun) -> pd.DataFrame:
    """The seed's one-row summary of a test run (DESIGN.md 3.3).

    Columns: ``metadata.*`` (ids, run name, model task, data type, times, then every key of
    the engine's metadata flattened with dots), ``metrics.num_inputs``,
    ``metrics.num_failing_inputs``, ``metrics.duration_millis``,
    ``metrics.summary_counts.{total,pass,warning,fail,skip}``,
    ``metrics.severity_counts.{none,low,medium,high}`` and
    ``metrics.model_perf.<Metric>.{ref_metric,eval_metric}``.

    Raises:
        ValueError: The run's metadata is not a JSON object.
    """
    row: dict[str, Any] = {
        "metadata.test_run_id": run.test_run_id,
        "metadata.project_id": run.project_id,
        "metadata.run_name": run.run_name,
        "metadata.model_task": run.model_task,
        "metadata.data_type": data_type_label(run.data_type),
        "metadata.job_id": run.job_id,
        "metadata.start_time_secs": run.start_time_secs,
        "metadata.end_time_secs": run.end_time_secs,
    }
    if run.firewall_id:
        row["metadata.firewall_id"] = run.firewall_id
        row["metadata.bin_start_secs"] = run.bin_start_secs
        row["metadata.bin_end_secs"] = run.bin_end_secs
    extra: dict[str, Any] = {}
    metadata = parse_json_object(run.metadata_json, f"the metadata of test run {run.test_run_id}")
    for key, value in metadata.items():
        flatten(f"metadata.{key}", value, extra)
    row.update({key: value for key, value in extra.items() if key not in row})
    row["metrics.num_inputs"] = run.num_inputs
    row["metrics.num_failing_inputs"] = run.num_failing_inputs
    row["metrics.duration_millis"] = run.duration_millis
    for key in _SUMMARY_KEYS:
        row[f"metrics.summary_counts.{key}"] = getattr(run.summary_counts, key)
    for key in _SEVERITY_KEYS:
        row[f"metrics.severity_counts.{key}"] = getattr(run.severity_counts, key)
    for perf in run.model_perf:
        row[f"metrics.model_perf.{perf.name}.ref_metric"] = perf.ref_metric
        row[f"metrics.model_perf.{perf.name}.eval_metric"] = perf.eval_metric
    return pd.DataFrame([row])


def batches_frame(batches: Iterable[results_pb2.TestBatch]) -> pd.DataFrame:
    """One row per test batch (one engine test) with the columns of :data:`TEST_BATCH_COLUMNS`."""
    rows = [
        _row(batch, TEST_BATCH_COLUMNS, severity=severity_label(batch.severity))
        for batch in batches
    ]
    return _frame(rows, TEST_BATCH_COLUMNS)


def firewall_events_frame(events: Iterable[firewall_pb2.FirewallEvent]) -> pd.DataFrame:
    """One row per firewall event with the columns of :data:`FIREWALL_EVENT_COLUMNS`."""
    rows = [
        _row(event, FIREWALL_EVENT_COLUMNS, severity=severity_label(event.severity))
        for event in events
    ]
    return _frame(rows, FIREWALL_EVENT_COLUMNS)


def firewall_bins_frame(bins: Iterable[firewall_pb2.FirewallBin]) -> pd.DataFrame:
    """One row per firewall bin: :data:`FIREWALL_BIN_COLUMNS` then ``metrics.<name>`` columns.

    Raises:
        ValueError: A bin's metrics are not a JSON object.
    """
    rows: list[dict[str, Any]] = []
    metric_columns: dict[str, None] = {}
    for time_bin in bins:
        metrics = parse_json_object(
            time_bin.metrics_json, f"the metrics of the bin at {time_bin.bin_start_secs}"
        )
        row = _row(time_bin, FIREWALL_BIN_COLUMNS, severity=severity_label(time_bin.severity))
        flattened: dict[str, Any] = {}
        for name, value in metrics.items():
            flatten(f"metrics.{name}", value, flattened)
        metric_columns.update(dict.fromkeys(flattened))
        rows.append(row | flattened)
    return _frame(rows, [*FIREWALL_BIN_COLUMNS, *metric_columns])
