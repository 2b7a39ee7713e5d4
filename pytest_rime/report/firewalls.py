"""The view of a firewall: a timeline per monitored metric, its bins and its events."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pytest_rime.report.fields import View, text_of, worst
from pytest_rime.report.formatting import (
    bin_size_text,
    finite,
    iso_text,
    number_text,
    rounded,
    utc_text,
)
from pytest_rime.vocabulary import DAILY, SEVERITIES

EVIDENCE_SUFFIXES = (".p_value", ".p_value_adjusted")
"""Bin metrics that are a monitored metric's evidence, not a metric of their own: no timeline."""


def _levels(value: Any) -> View | None:
    """Thresholds ``[low, medium, high]`` or ``{low, medium, high}`` as a view, else ``None``."""
    if isinstance(value, Mapping):
        value = [value.get("low"), value.get("medium"), value.get("high")]
    if not isinstance(value, list | tuple) or len(value) != 3:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    sign = "≥" if value[0] <= value[2] else "≤"
    return {
        "text": f"{sign} " + " / ".join(number_text(v) for v in value),
        "low": rounded(float(value[0])),
        "medium": rounded(float(value[1])),
        "high": rounded(float(value[2])),
        "higher_is_worse": value[0] <= value[2],
    }


def _timeline(
    metric: str,
    bins: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    thresholds: View | None,
    minutes: bool,
    links: Sequence[str],
) -> View:
    x = [iso_text(int(b.get("bin_start") or 0)) for b in bins]
    raw = [(b.get("metrics") or {}).get(metric) for b in bins]
    y = [finite(v) for v in raw]
    index = {int(b.get("bin_start") or 0): i for i, b in enumerate(bins)}
    marks = [
        {
            "index": index[int(e.get("bin_start") or 0)],
            "value": finite(e.get("value")),
            "severity": text_of(e, "severity", "NONE").upper(),
            "label": text_of(e, "description"),
        }
        for e in events
        if e.get("metric") == metric and int(e.get("bin_start") or 0) in index
    ]
    lines = (
        [{"label": level, "value": thresholds[level]} for level in ("low", "medium", "high")]
        if thresholds
        else []
    )
    chart = {
        "type": "line",
        "title": metric,
        "labels": [utc_text(int(b.get("bin_start") or 0), minutes=minutes)[:16] for b in bins],
        "datasets": [{"label": metric, "data": y}],
        "lines": lines,
        "events": marks,
        "links": list(links),
    }
    return {
        "metric": metric,
        "x": x,
        "y": y,
        "thresholds": thresholds,
        "events": marks,
        "chart": chart,
        "points": sum(v is not None for v in y),
    }


def firewall_view(
    firewall: Mapping[str, Any],
    bins: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    *,
    run_link: Callable[[str], str] | None = None,
) -> View:
    """The view of a firewall: a timeline per monitored metric, its bins and events.

    Args:
        firewall: ``name``, ``firewall_id`` (or ``id``), ``project_id`` (``project_name``),
            ``bin_size_seconds``, ``stress_test_run_id``, ``thresholds`` (``{metric: [low,
            medium, high]}`` or ``{metric: {low, medium, high}}``) when known.
        bins: ``bin_start``, ``bin_end`` (epoch seconds), ``num_rows``, ``severity``,
            ``metrics`` (``{metric: float | None}``), ``test_run_id``.
        events: ``bin_start``, ``metric``, ``value``, ``threshold``, ``severity``,
            ``description`` (optionally ``test_run_id``).
        run_link: Where a test run is seen, by its id (bins and the reference run link
            nowhere without it).
    """
    ordered = sorted(bins, key=lambda b: int(b.get("bin_start") or 0))
    thresholds = firewall.get("thresholds") or {}
    metrics = list(
        dict.fromkeys(
            m
            for b in ordered
            for m in (b.get("metrics") or {})
            if not m.endswith(EVIDENCE_SUFFIXES)
        )
    )
    metrics += [
        m for m in thresholds if m not in metrics and any(e.get("metric") == m for e in events)
    ]
    bin_size = firewall.get("bin_size_seconds")
    minutes = not (isinstance(bin_size, int) and bin_size >= DAILY)

    def link(test_run_id: str) -> str:
        return run_link(test_run_id) if run_link and test_run_id else ""

    event_rows = [
        {
            "bin": utc_text(e.get("bin_start"), minutes=minutes),
            "metric": text_of(e, "metric"),
            "value": number_text(e.get("value")),
            "threshold": number_text(e.get("threshold")),
            "severity": text_of(e, "severity", "NONE").upper(),
            "description": text_of(e, "description"),
            "link": link(text_of(e, "test_run_id")),
        }
        for e in sorted(events, key=lambda e: (int(e.get("bin_start") or 0), str(e.get("metric"))))
    ]
    bin_rows = [
        {
            "start": utc_text(b.get("bin_start"), minutes=minutes),
            "end": utc_text(b.get("bin_end"), minutes=minutes),
            "num_rows": b.get("num_rows"),
            "severity": text_of(b, "severity", "NONE").upper(),
            "cells": [number_text((b.get("metrics") or {}).get(m)) for m in metrics],
            "test_run_id": text_of(b, "test_run_id"),
            "link": link(text_of(b, "test_run_id")),
        }
        for b in ordered
    ]
    severities = [str(r["severity"]) for r in bin_rows]
    links = [str(r["link"]) for r in bin_rows]
    reference = text_of(firewall, "stress_test_run_id")
    return {
        "kind": "firewall",
        "name": text_of(firewall, "name", "firewall"),
        "firewall_id": text_of(firewall, "firewall_id") or text_of(firewall, "id"),
        "project_id": text_of(firewall, "project_id"),
        "project_name": text_of(firewall, "project_name") or text_of(firewall, "project_id"),
        "bin_size": bin_size_text(bin_size) if isinstance(bin_size, int) else "",
        "reference": {"test_run_id": reference, "link": link(reference)},
        "counts": {
            "bins": len(bin_rows),
            "events": len(event_rows),
            **{s: sum(r["severity"] == s for r in event_rows) for s in SEVERITIES[1:]},
            "bad_bins": sum(s != "NONE" for s in severities),
        },
        "worst": worst(severities),
        "metrics": metrics,
        "timeline": [
            _timeline(m, ordered, events, _levels(thresholds.get(m)), minutes, links)
            for m in metrics
        ],
        "bins": bin_rows,
        "events": event_rows,
    }
