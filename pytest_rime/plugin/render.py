"""Text of a failing case: what was measured, against which threshold, and why it matters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_rime.plugin.bins import MONITORING_TEST_ID
from pytest_rime.plugin.cases import CaseRecord


def format_value(value: Any) -> str:
    """Numbers with 4 significant digits, also inside lists and mappings."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


CHART_METRICS = ("distribution",)
"""Metrics that only feed a case's chart (the HTML report draws them): left out of the text."""


def split_metrics(metrics: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(measured, thresholds)``: metrics whose name mentions a threshold go to the second.

    Chart data (:data:`CHART_METRICS`) is in neither.
    """
    shown = {k: v for k, v in metrics.items() if k not in CHART_METRICS}
    measured = {k: v for k, v in shown.items() if "threshold" not in k.lower()}
    thresholds = {k: v for k, v in shown.items() if "threshold" in k.lower()}
    return measured, thresholds


def _pairs(values: Mapping[str, Any], indent: int) -> str:
    """``k=v, ...`` on one line, or one ``k = v`` per line when there are many or long ones."""
    pairs = [f"{k}={format_value(v)}" for k, v in values.items()]
    if len(pairs) <= 3 and sum(map(len, pairs)) <= 80:
        return ", ".join(pairs) or "-"
    return "".join(f"\n{' ' * indent}{pair}" for pair in pairs)


_INDENT = 4


def _events_text(case: CaseRecord, fail_on: str, link: str) -> str:
    """The failure report of a firewall bin's monitored metrics: one line per event."""
    events = case.metrics.get("events", [])
    lines = [
        f"{case.full_name}: a firewall event of severity {case.severity} reached the gate "
        f"fail_on={fail_on}",
        "  events:",
    ]
    lines += [
        f"    {e['severity']:<6} {e['metric']} = {format_value(e['value'])} "
        f"(threshold {format_value(e['threshold'])}): {e['description']}"
        for e in events
    ]
    lines.append(f"  link: {link or '-'}")
    return "\n".join(lines)


def failure_text(case: CaseRecord, fail_on: str, link: str) -> str:
    """The failure report of ``case`` under the gate ``fail_on``."""
    if case.test_id == MONITORING_TEST_ID:
        return _events_text(case, fail_on, link)
    measured, thresholds = split_metrics(case.metrics)
    test = case.test_batch_type + (f" ({case.test_id})" if case.test_id else "")
    rows = [
        ("test", test),
        ("features", ", ".join(case.features) or "(whole dataset)"),
        ("status", case.status),
        ("severity", f"{case.severity} (fails at fail_on={fail_on} and above)"),
        ("measured", _pairs(measured, _INDENT)),
        ("threshold", _pairs(thresholds, _INDENT)),
        ("importance", f"{case.importance_score:.3g}"),
        ("description", case.description or "-"),
        ("link", link or "-"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{case.full_name}: severity {case.severity} reached the gate fail_on={fail_on}"]
    for name, value in rows:
        label = f"  {name + ':':<{width + 1}}"
        lines.append(label.rstrip() + value if value.startswith("\n") else f"{label} {value}")
    return "\n".join(lines)


def finding(case: CaseRecord) -> str:
    """The first sentence of the case's description (the whole one is in --rime-report)."""
    first = " ".join(case.description.split()).split(". ", 1)[0].rstrip(".")
    return f"{first}." if first else f"{case.test_batch_type}."


ENGINE_ERROR_PREFIX = "Engine error: the test raised "
"""Start of the description of an ERROR case (set by the engine)."""


def engine_error_text(case: CaseRecord, where: str, link: str) -> str:
    """The report of an ERROR case: the test's own code raised (it fails every gate)."""
    error = str(case.metrics.get("error") or "")
    if not error:
        error = case.description.removeprefix(ENGINE_ERROR_PREFIX).split(". The traceback")[0]
    lines = [
        f"{case.full_name}: engine error: the test itself raised {error or 'an exception'}",
        "  This case was not tested, so it fails the gate whatever fail_on says; the",
        "  traceback is in the job's log. Report it if the data and model look right.",
        f"  where: {where}",
        f"  link:  {link or '-'}",
    ]
    return "\n".join(lines)


def generic_reason(reason: str, features: tuple[str, ...]) -> str:
    """``reason`` with the case's own feature name replaced by ``<feature>``.

    So the skips of one test on several features read as one reason when grouped.
    """
    for feature in features:
        reason = reason.replace(f"'{feature}'", "'<feature>'")
    return reason


def group_reasons(
    skips: list[tuple[str, str, tuple[str, ...]]],
) -> list[tuple[str, str, int]]:
    """``(category, reason, count)`` of ``(category, reason, features)`` skips.

    Identical reasons (up to the feature named in them) are one group, whose reason ends
    with the features it covers; groups keep the order of their first skip.
    """
    groups: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    for category, reason, features in skips:
        groups.setdefault((category, generic_reason(reason, features)), []).append(features)
    out = []
    for (category, reason), feature_lists in groups.items():
        named = list(dict.fromkeys(f for features in feature_lists for f in features))
        if "'<feature>'" in reason and len(named) == 1:  # one feature: the reason as it was
            reason = reason.replace("'<feature>'", f"'{named[0]}'")
        elif "'<feature>'" in reason:
            reason = f"{reason} (features: {', '.join(named)})"
        out.append((category, reason, len(feature_lists)))
    return out
