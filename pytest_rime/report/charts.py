"""The chart of a test case, derived from its metrics (``None`` when there is nothing to draw).

A chart is a JSON-ready dict the pages draw with Chart.js::

    {
        "type": "bar",
        "title": str,
        "labels": [str, ...],
        "datasets": [{"label": str, "data": [number | None, ...]}, ...],
        "lines": [{"label": str, "value": number}, ...],
    }

``lines`` are horizontal reference lines (an overall value, thresholds); an optional
``highlight`` lists the indices of labels drawn in the alarm colour (the worst subset). A
firewall's timeline is ``"type": "line"`` with ``events`` (``[{index, value, severity,
label}]``, drawn as markers) and ``links`` (the page of each bin's run, opened on a click;
empty strings for none). The first shape of
``metrics`` that matches wins:

1. ``distribution`` ``{"labels", "ref", "eval"}`` (drift): grouped bars of the reference and
   evaluation shares per bin or category;
2. ``subsets`` (subset performance): a bar per subset (``metric``) with a line at
   ``overall_metric``, or reference and evaluation bars per subset (``ref_metric`` /
   ``eval_metric``: degradation per subset);
3. ``metric_changes`` ``{metric: {"before", "after"}}`` (transformations): before / after bars;
4. ``ref_metric`` and ``eval_metric`` (model performance): two bars;
5. ``statistic`` with ``thresholds`` ``[low, medium, high]``: one bar against threshold lines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pytest_rime.report.formatting import finite, number_text

Chart = dict[str, Any]
"""A chart as described in the module docstring."""


def _chart(
    title: str,
    labels: Sequence[str],
    datasets: Sequence[tuple[str, Sequence[Any]]],
    lines: Sequence[tuple[str, Any]] = (),
) -> Chart | None:
    data = [{"label": label, "data": [finite(v) for v in values]} for label, values in datasets]
    if not labels or all(v is None for d in data for v in d["data"]):
        return None
    return {
        "type": "bar",
        "title": title,
        "labels": [str(label) for label in labels],
        "datasets": data,
        "lines": [
            {"label": label, "value": number}
            for label, value in lines
            if (number := finite(value)) is not None
        ],
    }


def points_of(chart: Chart | None) -> int:
    """Data points a chart draws (non-null bar values): what the page's canvas reports."""
    if chart is None:
        return 0
    return sum(v is not None for d in chart["datasets"] for v in d["data"])


def _distribution(metrics: Mapping[str, Any]) -> Chart | None:
    dist = metrics.get("distribution")
    if not isinstance(dist, Mapping) or not isinstance(dist.get("labels"), list):
        return None
    ref, evl = dist.get("ref"), dist.get("eval")
    if not isinstance(ref, list) or not isinstance(evl, list):
        return None
    return _chart(
        "Share of rows: reference vs evaluation",
        dist["labels"],
        [("reference", ref), ("evaluation", evl)],
    )


def _subset_label(subset: Mapping[str, Any]) -> str:
    size = subset.get("size", subset.get("eval_size"))
    name = str(subset.get("subset", "?"))
    return f"{name} (n={size})" if isinstance(size, int) else name


def _subsets(metrics: Mapping[str, Any]) -> Chart | None:
    subsets = metrics.get("subsets")
    if not isinstance(subsets, list) or not all(isinstance(s, Mapping) for s in subsets):
        return None
    labels = [_subset_label(s) for s in subsets]
    metric = str(metrics.get("metric", "metric"))
    if any("metric" in s for s in subsets):
        chart = _chart(
            f"{metric} per subset",
            labels,
            [(metric, [s.get("metric") for s in subsets])],
            [("overall", metrics.get("overall_metric"))],
        )
        worst = metrics.get("worst_subset")
        if chart is not None and worst is not None:
            chart["highlight"] = [i for i, s in enumerate(subsets) if s.get("subset") == worst]
        return chart
    return _chart(
        f"{metric} per subset: reference vs evaluation",
        labels,
        [
            ("reference", [s.get("ref_metric") for s in subsets]),
            ("evaluation", [s.get("eval_metric") for s in subsets]),
        ],
    )


def _metric_changes(metrics: Mapping[str, Any]) -> Chart | None:
    changes = metrics.get("metric_changes")
    if not isinstance(changes, Mapping):
        return None
    rows = {str(k): v for k, v in changes.items() if isinstance(v, Mapping)}
    return _chart(
        "Model metrics before and after the change",
        list(rows),
        [
            ("before", [v.get("before") for v in rows.values()]),
            ("after", [v.get("after") for v in rows.values()]),
        ],
    )


def _ref_eval(metrics: Mapping[str, Any]) -> Chart | None:
    if "ref_metric" not in metrics or "eval_metric" not in metrics:
        return None
    metric = str(metrics.get("metric", "metric"))
    return _chart(
        f"{metric}: reference vs evaluation",
        ["reference", "evaluation"],
        [(metric, [metrics["ref_metric"], metrics["eval_metric"]])],
    )


_NOT_THE_STATISTIC = frozenset(
    {"statistic", "threshold", "significance_level", "p_value", "p_value_adjusted"}
)


def statistic_name(metrics: Mapping[str, Any]) -> str:
    """``statistic_name``, else the one metric the statistic equals (``gap``, ``psi``, ...).

    When several metrics hold the statistic's value (``0`` and ``1`` often do), none can be
    told to be it, and the name is ``statistic``.
    """
    if metrics.get("statistic_name"):
        return str(metrics["statistic_name"])
    statistic = finite(metrics.get("statistic"))
    equal = [
        str(name)
        for name, value in metrics.items()
        if name not in _NOT_THE_STATISTIC and statistic is not None and finite(value) == statistic
    ]
    return equal[0] if len(equal) == 1 else "statistic"


def _statistic(metrics: Mapping[str, Any]) -> Chart | None:
    thresholds = metrics.get("thresholds")
    if not isinstance(thresholds, list) or len(thresholds) != 3:
        return None
    name = statistic_name(metrics)
    value = metrics.get("statistic")
    return _chart(
        f"{name} {number_text(value)} against its thresholds",
        [name],
        [(name, [value])],
        list(zip(("low", "medium", "high"), thresholds, strict=True)),
    )


_SHAPES: tuple[Callable[[Mapping[str, Any]], Chart | None], ...] = (
    _distribution,
    _subsets,
    _metric_changes,
    _ref_eval,
    _statistic,
)


def chart_of(metrics: Mapping[str, Any]) -> Chart | None:
    """The chart of a case's ``metrics`` (first matching shape, see the module), or ``None``."""
    for shape in _SHAPES:
        chart = shape(metrics)
        if chart is not None:
            return chart
    return None
