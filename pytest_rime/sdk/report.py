"""Standalone HTML pages of a test run or a firewall, from what the SDK fetches over gRPC.

A pytest-rime addition (the reference SDK has no such call): ``RIMETestRun.write_report``,
``RIMEStressTestJob.write_report`` and ``RIMEFirewall.write_report`` turn the run, its test
cases, or the firewall with its bins, events and the bins' runs into plain mappings, and
:func:`pytest_rime.report.pages.render_report` makes one self-contained file of them (CSS,
scripts and data inline), which opens anywhere, offline. Sections of the page are anchored
``#run-<test_run_id>`` and ``#firewall-<firewall_id>``; a firewall's bins link to their runs'
sections on the same page. The page links to no server.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pytest_rime.proto.v1 import firewall_pb2, results_pb2
from pytest_rime.report.fields import firewall_anchor, run_anchor
from pytest_rime.sdk.convert import (
    case_status_label,
    data_type_label,
    parse_json_object,
    severity_label,
)

RunData = tuple[results_pb2.TestRun, Sequence[results_pb2.TestCase]]
"""A test run and its test cases as the server sends them."""


def run_mapping(run: results_pb2.TestRun) -> dict[str, Any]:
    """The run as :func:`pytest_rime.report.views.run_view` reads it.

    Raises:
        ValueError: The run's metadata is not a JSON object.
    """
    metadata = parse_json_object(run.metadata_json, f"the metadata of test run {run.test_run_id}")
    mapping: dict[str, Any] = {
        "run_name": run.run_name,
        "test_run_id": run.test_run_id,
        "project_id": run.project_id,
        "model_task": run.model_task,
        "data_type": data_type_label(run.data_type),
        "num_inputs": run.num_inputs,
        "duration_millis": run.duration_millis,
        "model_perf": [
            {"name": p.name, "ref_metric": p.ref_metric, "eval_metric": p.eval_metric}
            for p in run.model_perf
        ],
        "feature_importance": metadata.get("feature_importance") or {},
    }
    if run.firewall_id:
        mapping.update(
            firewall_id=run.firewall_id,
            firewall_link=f"#{firewall_anchor(run.firewall_id)}",
            bin_start=run.bin_start_secs,
        )
    return mapping


def case_mapping(case: results_pb2.TestCase) -> dict[str, Any]:
    """A test case with the results schema's keys (its gate is the default ``fail_on``'s).

    Raises:
        ValueError: The case's metrics are not a JSON object.
    """
    return {
        "test_id": case.test_id,
        "test_batch_type": case.test_batch_type,
        "category": case.category,
        "features": list(case.features),
        "status": case_status_label(case.status),
        "severity": severity_label(case.severity),
        "importance_score": case.importance_score,
        "metrics": parse_json_object(case.metrics_json, f"the metrics of {case.test_id}"),
        "description": case.description,
    }


def run_view_of(data: RunData) -> dict[str, Any]:
    """The view of a run and its cases.

    Raises:
        ValueError: The run's metadata or a case's metrics are not a JSON object.
    """
    from pytest_rime.report.views import run_view

    run, cases = data
    return run_view(run_mapping(run), [case_mapping(case) for case in cases])


def firewall_view_of(
    firewall: firewall_pb2.Firewall,
    bins: Iterable[firewall_pb2.FirewallBin],
    events: Iterable[firewall_pb2.FirewallEvent],
) -> dict[str, Any]:
    """The view of a firewall, its bins and events; bins link to their runs on the page.

    Thresholds are not sent over gRPC; the page shows each event's own threshold.

    Raises:
        ValueError: A bin's metrics are not a JSON object.
    """
    from pytest_rime.report.views import firewall_view

    bin_rows = [
        {
            "bin_start": b.bin_start_secs,
            "bin_end": b.bin_end_secs,
            "num_rows": b.num_rows,
            "severity": severity_label(b.severity),
            "metrics": parse_json_object(
                b.metrics_json, f"the metrics of the bin at {b.bin_start_secs}"
            ),
            "test_run_id": b.test_run_id,
        }
        for b in bins
    ]
    event_rows = [
        {
            "bin_start": e.bin_start_secs,
            "metric": e.metric,
            "value": e.value,
            "threshold": e.threshold,
            "severity": severity_label(e.severity),
            "description": e.description,
            "test_run_id": e.test_run_id,
        }
        for e in events
    ]
    info = {
        "name": firewall.name,
        "firewall_id": firewall.id,
        "project_id": firewall.project_id,
        "bin_size_seconds": firewall.bin_size_seconds,
        "stress_test_run_id": firewall.stress_test_run_id,
    }
    return firewall_view(info, bin_rows, event_rows, run_link=lambda rid: f"#{run_anchor(rid)}")


def write_page(
    path: str | os.PathLike[str],
    runs: Sequence[dict[str, Any]],
    firewalls: Sequence[dict[str, Any]],
    title: str,
) -> Path:
    """Write the standalone page of ``runs`` and ``firewalls`` (views) to ``path``.

    Returns:
        The path written (folders are created).

    Raises:
        OSError: The file cannot be written.
    """
    from pytest_rime.report.pages import render_report

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report(runs, firewalls, title=title), encoding="utf-8")
    return target
