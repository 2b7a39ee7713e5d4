"""View dicts of runs, firewalls, projects and jobs: JSON-ready, built from plain mappings.

Each function takes plain mappings (store records turned into dicts, gRPC results, pytest
outcomes) and returns a dict of dicts, lists, str, float, int, bool and ``None`` only, which
the templates of :mod:`pytest_rime.report.pages` render (and which serialises as JSON as is).
Numbers meant to be read come with a ``*_text`` form (4 significant digits, p-values 2).

This module builds the run view and is the one place callers import views from: the case
view is built in :mod:`pytest_rime.report.cases`, the firewall view in
:mod:`pytest_rime.report.firewalls`, the views of the server's projects, project and job
pages and the server paths (:func:`project_path`, :func:`run_path`, :func:`firewall_path`,
:func:`job_path`) in :mod:`pytest_rime.report.server_views`; all are re-exported here.

Run view (:func:`run_view`)
    ``kind`` ``"run"``, ``run_name``, ``test_run_id``, ``project_id``, ``model_task``,
    ``data_type``, ``num_inputs``, ``duration``, ``created``, ``link``, ``fail_on``,
    ``context`` (firewall / bin / project crumbs, may be empty), ``counts`` (per gate and
    ``total``), ``verdict`` (``failed`` or ``passed``), ``failing_features`` and
    ``warned_features`` (``[{feature, worst, count, tests, cases}]``, ``cases`` being case
    ids), ``categories`` (``[{name, slug, counts, worst, cases}]``), ``cases`` (by id),
    ``filters`` (``categories``, ``severities``, ``features``, ``gates`` present),
    ``model_perf`` and ``feature_importance`` rows.

Case view (in ``cases``)
    ``id``, ``name``, ``test_id``, ``test_batch_type``, ``category``, ``features``,
    ``status``, ``severity``, ``gate``, ``fail_on``, ``skip_reason``, ``importance_score``,
    ``importance``, ``description``, ``headline``, ``metric_rows`` (``[{name, value}]``),
    ``metric_tables`` (``[{name, columns, rows}]``), ``thresholds`` (or ``None``),
    ``evidence`` (or ``None``), ``examples`` (see
    :func:`pytest_rime.report.examples.example_rows`), ``chart`` (see
    :mod:`pytest_rime.report.charts`, or ``None``) and ``points`` (its data points).

Firewall view (:func:`firewall_view`)
    ``kind`` ``"firewall"``, ``name``, ``firewall_id``, ``project_id``, ``project_name``,
    ``bin_size``,
    ``reference`` (``{test_run_id, link}``), ``counts`` (``bins``, ``events``, per severity),
    ``worst``, ``metrics`` (monitored metric names), ``timeline`` (per metric: ``metric``,
    ``x`` ISO bin starts, ``y`` values, ``thresholds``, ``events``, ``chart``), ``bins``
    (rows with ``start``, ``end``, ``num_rows``, ``severity``, ``cells`` (a value text per metric),
    ``test_run_id``, ``link``) and ``events`` (rows).

Projects view (:func:`projects_view`), project view (:func:`project_view`), job view
(:func:`job_view`): see their docstrings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_rime.report.cases import case_view
from pytest_rime.report.fields import View, text_of, worst
from pytest_rime.report.firewalls import firewall_view
from pytest_rime.report.formatting import duration_text, finite, number_text, rounded, utc_text
from pytest_rime.report.gating import GATES, severity_rank
from pytest_rime.report.server_views import (
    firewall_path,
    job_path,
    job_view,
    project_path,
    project_view,
    projects_view,
    run_path,
)
from pytest_rime.vocabulary import DEFAULT_FAIL_ON, REPORT_CATEGORIES, SEVERITIES

__all__ = [
    "DATASET",
    "View",
    "case_view",
    "firewall_path",
    "firewall_view",
    "job_path",
    "job_view",
    "project_path",
    "project_view",
    "projects_view",
    "run_path",
    "run_view",
]

DATASET = "(whole dataset)"
"""Feature group of dataset-level cases (no feature): listed last, a consequence not a cause."""


def _counts(cases: Sequence[View]) -> dict[str, int]:
    counts = {gate: sum(c["gate"] == gate for c in cases) for gate in GATES}
    counts["total"] = len(cases)
    return counts


def _feature_groups(cases: Sequence[View], gate: str) -> list[View]:
    """Cases of ``gate`` by feature: worst severity first, then most cases; dataset last."""
    groups: dict[str, list[View]] = {}
    for case in cases:
        if case["gate"] == gate:
            for feature in case["features"] or (DATASET,):
                groups.setdefault(feature, []).append(case)
    ordered = sorted(
        groups.items(),
        key=lambda item: (
            item[0] == DATASET,
            -severity_rank(worst(c["severity"] for c in item[1])),
            -len(item[1]),
            item[0],
        ),
    )
    return [
        {
            "feature": feature,
            "dataset": feature == DATASET,
            "worst": worst(c["severity"] for c in group),
            "count": len(group),
            "tests": ", ".join(dict.fromkeys(c["test_batch_type"] for c in group)),
            "cases": [c["id"] for c in sorted(group, key=lambda c: -severity_rank(c["severity"]))],
        }
        for feature, group in ordered
    ]


def _slug(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "-", name.lower()).strip("-") or "other"


def _case_order(case: View) -> tuple[int, int, float, int]:
    importance = case["importance_score"]
    return (
        GATES.index(case["gate"]) if case["gate"] in GATES else len(GATES),
        -severity_rank(case["severity"]),
        -(importance if isinstance(importance, int | float) else 0.0),
        case["id"],
    )


def _categories(cases: Sequence[View]) -> list[View]:
    groups: dict[str, list[View]] = {}
    for case in cases:
        groups.setdefault(case["category"], []).append(case)
    order = {name: i for i, name in enumerate(REPORT_CATEGORIES)}
    return [
        {
            "name": name,
            "slug": _slug(name),
            "counts": _counts(group),
            "worst": worst(c["severity"] for c in group if c["gate"] != "skipped"),
            "cases": [c["id"] for c in sorted(group, key=_case_order)],
        }
        for name, group in sorted(
            groups.items(), key=lambda item: (order.get(item[0], len(order)), item[0])
        )
    ]


def _model_perf(rows: Any) -> list[View]:
    if not isinstance(rows, list | tuple):
        return []
    out = []
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        ref, evl = row.get("ref_metric"), row.get("eval_metric")
        ref_value, eval_value = finite(ref), finite(evl)
        out.append(
            {
                "name": text_of(row, "name"),
                "ref": number_text(ref),
                "eval": number_text(evl),
                "change": (
                    number_text(eval_value - ref_value)
                    if ref_value is not None and eval_value is not None
                    else ""
                ),
            }
        )
    return out


def _feature_importance(importance: Any) -> list[View]:
    if not isinstance(importance, Mapping):
        return []
    values = {
        str(k): float(v)
        for k, v in importance.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    top = max((abs(v) for v in values.values()), default=0.0) or 1.0
    return [
        {"feature": k, "value": number_text(v), "share": rounded(abs(v) / top, 3)}
        for k, v in sorted(values.items(), key=lambda item: -item[1])
    ]


def _run_context(run: Mapping[str, Any]) -> View:
    """Where a run belongs: its project and, for a firewall bin's run, the firewall and bin."""
    bin_start = run.get("bin_start")
    return {
        "project_name": text_of(run, "project_name"),
        "project_link": text_of(run, "project_link"),
        "firewall_name": text_of(run, "firewall_name") or text_of(run, "firewall_id"),
        "firewall_link": text_of(run, "firewall_link"),
        "bin": utc_text(bin_start) if isinstance(bin_start, int | float) else "",
    }


def run_view(
    run: Mapping[str, Any],
    cases: Sequence[Mapping[str, Any]],
    *,
    link: str = "",
    fail_on: str = DEFAULT_FAIL_ON,
) -> View:
    """The view of a test run and its cases (see the module docstring).

    Args:
        run: ``run_name`` and optionally ``test_run_id``, ``project_id``, ``model_task``,
            ``data_type``, ``num_inputs``, ``duration_millis``, ``model_perf`` (``[{name,
            ref_metric, eval_metric}]``), ``feature_importance`` (``{feature: float}``),
            ``created`` (text); for context: ``project_name``, ``project_link``,
            ``firewall_id``, ``firewall_name``, ``firewall_link``, ``bin_start`` (epoch s).
        cases: The run's test cases (see :func:`case_view`), in the engine's order.
        link: Where the run is seen (``get_link()``), shown as its permanent address.
        fail_on: The gate of cases that carry neither ``gate`` nor ``fail_on``.
    """
    views = [case_view(case, i, fail_on) for i, case in enumerate(cases)]
    counts = _counts(views)
    duration = run.get("duration_millis")
    num_inputs = run.get("num_inputs")
    present = {c["category"] for c in views}
    order = {name: i for i, name in enumerate(REPORT_CATEGORIES)}
    return {
        "kind": "run",
        "run_name": text_of(run, "run_name", "test run"),
        "test_run_id": text_of(run, "test_run_id"),
        "project_id": text_of(run, "project_id"),
        "model_task": text_of(run, "model_task"),
        "data_type": text_of(run, "data_type"),
        "num_inputs": num_inputs if isinstance(num_inputs, int) else None,
        "duration": duration_text(duration / 1000) if isinstance(duration, int | float) else "",
        "created": text_of(run, "created"),
        "link": link,
        "fail_on": fail_on,
        "context": _run_context(run),
        "counts": counts,
        "verdict": "failed" if counts["failed"] or counts["error"] else "passed",
        "failing_features": _feature_groups(views, "failed"),
        "warned_features": _feature_groups(views, "warned"),
        "errors": [c["id"] for c in views if c["gate"] == "error"],
        "categories": _categories(views),
        "cases": views,
        "filters": {
            "categories": sorted(present, key=lambda c: (order.get(c, len(order)), c)),
            "severities": [
                s for s in reversed(SEVERITIES) if any(c["severity"] == s for c in views)
            ],
            "features": sorted({f for c in views for f in c["features"]}, key=str.casefold),
            "gates": [g for g in GATES if counts[g]],
        },
        "model_perf": _model_perf(run.get("model_perf")),
        "feature_importance": _feature_importance(run.get("feature_importance")),
    }
