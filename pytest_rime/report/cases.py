"""The view of one test case: its metrics as tables, thresholds, evidence, examples, chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_rime.report.charts import chart_of, points_of, statistic_name
from pytest_rime.report.examples import example_rows
from pytest_rime.report.fields import View, text_of
from pytest_rime.report.formatting import finite, number_text, p_value_text
from pytest_rime.report.gating import gate_of
from pytest_rime.vocabulary import DEFAULT_FAIL_ON

EVIDENCE_KEYS = ("p_value", "p_value_adjusted", "significance_level", "p_value_method")
"""Metrics that are the statistical evidence of a case (shown apart from the others)."""

_SHOWN_APART = frozenset(
    {
        *EVIDENCE_KEYS,
        "examples",
        "distribution",
        "statistic",
        "statistic_name",
        "threshold",
        "thresholds",
    }
)
"""Metrics shown in their own part of a case (not in its metrics table)."""

_MAX_TABLE_ROWS = 100


def _case_name(test_batch_type: str, features: Sequence[str]) -> str:
    return f"{test_batch_type}[{','.join(features)}]" if features else test_batch_type


def _flat_rows(name: str, value: Any) -> list[dict[str, str]]:
    """Rows of the metrics table for one metric (a mapping of scalars: one row per entry)."""
    if isinstance(value, Mapping):
        if any(isinstance(v, Mapping | list) for v in value.values()):
            return []
        return [{"name": f"{name}.{k}", "value": number_text(v)} for k, v in value.items()]
    if isinstance(value, list):
        if any(isinstance(v, Mapping | list) for v in value):
            return []
        return [{"name": name, "value": ", ".join(number_text(v) for v in value)}]
    return [{"name": name, "value": number_text(value)}]


def _table(name: str, value: Any) -> dict[str, Any] | None:
    """A metric that is a list of records or a mapping of records, as a small table."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        records: list[tuple[str | None, Mapping[str, Any]]] = [(None, v) for v in value]
    elif (
        isinstance(value, Mapping) and value and all(isinstance(v, Mapping) for v in value.values())
    ):
        records = [(str(k), v) for k, v in value.items()]
    else:
        return None
    columns = list(dict.fromkeys(k for _, record in records for k in record))
    keyed = records[0][0] is not None
    rows = [
        ([key] if keyed and key is not None else [])
        + [
            number_text(record.get(c)) if not isinstance(record.get(c), Mapping | list) else ""
            for c in columns
        ]
        for key, record in records[:_MAX_TABLE_ROWS]
    ]
    return {
        "name": name,
        "columns": ([""] if keyed else []) + [str(c) for c in columns],
        "rows": rows,
        "truncated": max(0, len(records) - _MAX_TABLE_ROWS),
    }


def _metric_parts(metrics: Mapping[str, Any]) -> tuple[list[dict[str, str]], list[Any]]:
    rows: list[dict[str, str]] = []
    tables: list[Any] = []
    for name, value in metrics.items():
        if name in _SHOWN_APART:
            continue
        table = _table(name, value)
        if table is not None:
            tables.append(table)
        else:
            rows += _flat_rows(name, value)
    return rows, tables


def _thresholds(metrics: Mapping[str, Any]) -> View | None:
    levels = metrics.get("thresholds")
    if not isinstance(levels, list) or len(levels) != 3:
        return None
    statistic = metrics.get("statistic")
    value, low, high = finite(statistic), finite(levels[0]), finite(levels[2])
    ascending = low is None or high is None or low <= high

    def reached(bound: Any) -> bool:
        number = finite(bound)
        if value is None or number is None:
            return False
        return value >= number if ascending else value <= number

    return {
        "statistic_name": statistic_name(metrics),
        "statistic": number_text(statistic),
        "higher_is_worse": ascending,
        "levels": [
            {"level": level, "value": number_text(bound), "reached": reached(bound)}
            for level, bound in zip(("low", "medium", "high"), levels, strict=True)
        ],
    }


def _evidence(metrics: Mapping[str, Any]) -> View | None:
    if not any(key in metrics for key in EVIDENCE_KEYS):
        return None
    adjusted = metrics.get("p_value_adjusted", metrics.get("p_value"))
    level = metrics.get("significance_level")
    significant = (
        bool(adjusted <= level)
        if isinstance(adjusted, int | float) and isinstance(level, int | float)
        else None
    )
    return {
        "p_value": p_value_text(metrics.get("p_value")) if "p_value" in metrics else "",
        "p_value_adjusted": (
            p_value_text(metrics["p_value_adjusted"]) if "p_value_adjusted" in metrics else ""
        ),
        "significance_level": number_text(level) if level is not None else "",
        "method": text_of(metrics, "p_value_method"),
        "significant": significant,
    }


def _headline(metrics: Mapping[str, Any]) -> str:
    """``PSI 0.5301 (high 0.4)``: the statistic and the threshold it was compared with."""
    if "statistic" not in metrics:
        return ""
    text = f"{statistic_name(metrics)} {number_text(metrics['statistic'])}"
    if metrics.get("threshold") is not None:
        text += f" (threshold {number_text(metrics['threshold'])})"
    return text


def case_view(case: Mapping[str, Any], case_id: int, fail_on: str = DEFAULT_FAIL_ON) -> View:
    """The view of one test case (see the module docstring); ``case_id`` is its stable id.

    ``case`` has the results schema's keys (``test_id``, ``test_batch_type``, ``category``,
    ``features``, ``status``, ``severity``, ``importance_score``, ``metrics``,
    ``description``) and optionally ``gate`` (else :func:`gate_of` under the case's own
    ``fail_on``, else ``fail_on``) and ``skip_reason``.
    """
    metrics: Mapping[str, Any] = case.get("metrics") or {}
    features = [str(f) for f in case.get("features") or ()]
    status = text_of(case, "status", "PASS").upper()
    severity = text_of(case, "severity", "NONE").upper()
    level = text_of(case, "fail_on") or fail_on
    test_batch_type = text_of(case, "test_batch_type", text_of(case, "test_id"))
    importance = case.get("importance_score")
    rows, tables = _metric_parts(metrics)
    chart = chart_of(metrics)
    return {
        "id": case_id,
        "name": _case_name(test_batch_type, features),
        "test_id": text_of(case, "test_id"),
        "test_batch_type": test_batch_type,
        "category": text_of(case, "category"),
        "features": features,
        "status": status,
        "severity": severity,
        "gate": text_of(case, "gate") or gate_of(status, severity, level),
        "fail_on": level,
        "skip_reason": text_of(case, "skip_reason"),
        "importance_score": finite(importance),
        "importance": number_text(importance) if importance is not None else "",
        "description": text_of(case, "description"),
        "headline": _headline(metrics),
        "metric_rows": rows,
        "metric_tables": tables,
        "thresholds": _thresholds(metrics),
        "evidence": _evidence(metrics),
        "examples": example_rows(metrics),
        "chart": chart,
        "points": points_of(chart),
    }
