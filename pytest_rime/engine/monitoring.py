"""Monitored metrics of one firewall bin, their thresholds, and the events they raise.

Every bin of a firewall run is a full :class:`~pytest_rime.engine.results.RunResult`; this
module reduces it to a few numbers a person watches over time:

=========================  ================================================================
metric                     value
=========================  ================================================================
``abnormality_rate``       ``num_failing_inputs / num_inputs`` (rows flagged by a WARNING or
                           FAIL case of an Abnormal Inputs test)
``test_pass_rate``         PASS cases / non-skipped cases
``average_severity``       mean severity rank (NONE=0, LOW=1, MEDIUM=2, HIGH=3) over the
                           non-skipped cases
``num_drifting_features``  features whose ``Feature Drift`` case is WARNING or FAIL
``model_perf.<Metric>``    the model metric on the bin (only when the bin has labels)
=========================  ================================================================

Thresholds are ``[low, medium, high]`` triples in the metric's bad direction
(:class:`MetricThreshold`); a bin whose value reaches ``low`` raises a :class:`FirewallEvent`
whose severity is the highest level reached (LOW, MEDIUM or HIGH) -- the same rule as test
case severities (:mod:`pytest_rime.engine.severity`). Defaults (:data:`DEFAULT_THRESHOLDS`):

- ``abnormality_rate`` >= 0.05 / 0.10 / 0.20;
- ``test_pass_rate`` <= 0.70 / 0.60 / 0.50;
- ``average_severity`` >= 0.50 / 0.75 / 1.00;
- ``num_drifting_features`` >= 1 / 2 / 3;
- model metrics, as a degradation from the metric's reference value in its bad direction
  (direction and scale from :mod:`pytest_rime.engine.metrics`): ``model_perf`` for the metrics
  compared by absolute difference (metrics in 0..1 and R2): 0.10 / 0.20 / 0.30;
  ``model_perf_relative`` for those compared relative to the reference (log loss, MAE, MSE,
  RMSE, MAPE): 25% / 50% / 100%. ``model_perf.<Metric>`` (e.g. ``model_perf.AUC``) overrides
  one metric. The event's ``value`` is the bin's metric and its ``threshold`` the metric value
  at the reached level, e.g. ``ref - 0.20`` for a MEDIUM drop of the accuracy. A model metric
  raises no event in a bin where it averages over fewer than :data:`MIN_METRIC_SUPPORT` rows
  (its support: all rows for Accuracy, the positives for Recall, the negatives for FPR, ...):
  on a handful of rows a metric is noise.

The pass rate and the average severity are loose by default: a bin is small, and some cases
fail on every bin of a sound model (a subset near the decision boundary is always less
accurate), so these two move with the test suite more than with the data. Tighten them once the
usual level of a model's bins is known.

Overrides (:func:`resolve_thresholds`) replace whole triples, e.g.
``{"abnormality_rate": [0.1, 0.2, 0.3], "model_perf.AUC": [0.02, 0.05, 0.1]}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pytest_rime.engine.config import ConfigError
from pytest_rime.engine.metrics import Metric, all_metrics
from pytest_rime.engine.results import JSONValue, RunResult, Severity, Status, json_safe

ABNORMALITY_RATE = "abnormality_rate"
TEST_PASS_RATE = "test_pass_rate"
AVERAGE_SEVERITY = "average_severity"
NUM_DRIFTING_FEATURES = "num_drifting_features"
MODEL_PERF = "model_perf"
"""Prefix of model metrics; threshold key of the metrics compared by absolute difference."""
MODEL_PERF_RELATIVE = "model_perf_relative"
"""Threshold key of the model metrics compared relative to the reference (losses, errors)."""

FEATURE_DRIFT_TEST_ID = "drift.feature_drift"
MIN_METRIC_SUPPORT = 30
"""A model metric over fewer rows of a bin than this raises no event."""
_METRICS: Mapping[str, Metric] = MappingProxyType({m.name: m for m in all_metrics()})
_LEVELS = (Severity.LOW, Severity.MEDIUM, Severity.HIGH)


@dataclass(frozen=True)
class MetricThreshold:
    """Three levels of one monitored metric, in its bad direction.

    Attributes:
        low: Value from which the bin raises a LOW event.
        medium: Value from which the event is MEDIUM.
        high: Value from which the event is HIGH.
        higher_is_worse: True when larger values are worse (``low <= medium <= high``);
            False when smaller values are worse (``low >= medium >= high``).
    """

    low: float
    medium: float
    high: float
    higher_is_worse: bool = True

    def level(self, value: float | None) -> tuple[Severity, float | None]:
        """The highest level ``value`` reaches and that level's bound (NONE, None below low)."""
        if value is None or math.isnan(value):
            return Severity.NONE, None
        reached: tuple[Severity, float | None] = (Severity.NONE, None)
        for severity, bound in zip(_LEVELS, (self.low, self.medium, self.high), strict=True):
            if (value >= bound) if self.higher_is_worse else (value <= bound):
                reached = severity, bound
        return reached

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready form."""
        return {
            "low": self.low,
            "medium": self.medium,
            "high": self.high,
            "higher_is_worse": self.higher_is_worse,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, JSONValue]) -> MetricThreshold:
        """Inverse of :meth:`to_dict`."""
        return cls(
            float(data["low"]),
            float(data["medium"]),
            float(data["high"]),
            bool(data["higher_is_worse"]),
        )


DEFAULT_THRESHOLDS: Mapping[str, MetricThreshold] = MappingProxyType(
    {
        ABNORMALITY_RATE: MetricThreshold(0.05, 0.10, 0.20),
        TEST_PASS_RATE: MetricThreshold(0.70, 0.60, 0.50, higher_is_worse=False),
        AVERAGE_SEVERITY: MetricThreshold(0.50, 0.75, 1.00),
        NUM_DRIFTING_FEATURES: MetricThreshold(1.0, 2.0, 3.0),
        MODEL_PERF: MetricThreshold(0.10, 0.20, 0.30),
        MODEL_PERF_RELATIVE: MetricThreshold(0.25, 0.50, 1.00),
    }
)
"""Default thresholds; the model perf ones are allowed degradations from the reference."""


def resolve_thresholds(
    overrides: Mapping[str, Any] | None, *, key: str = "thresholds"
) -> dict[str, MetricThreshold]:
    """Defaults merged with ``overrides`` (``{metric: [low, medium, high]}``).

    Args:
        overrides: Metric name (:data:`DEFAULT_THRESHOLDS` keys or ``model_perf.<Metric>``) to
            a list of three numbers in the metric's bad direction, or a
            :class:`MetricThreshold`.
        key: Dotted path of ``overrides`` in error messages, e.g.
            ``monitoring_info.thresholds``.

    Returns:
        Metric name -> threshold (every default, plus each ``model_perf.<Metric>`` given).

    Raises:
        ConfigError: Unknown metric, or not three finite numbers in the metric's bad
            direction; ``.key`` names the offending entry.
    """
    thresholds = dict(DEFAULT_THRESHOLDS)
    for name, raw in (overrides or {}).items():
        path = f"{key}.{name}"
        base = thresholds.get(name)
        if base is None and name.startswith(MODEL_PERF + "."):
            base = DEFAULT_THRESHOLDS[MODEL_PERF]
        if base is None:
            known = ", ".join([*DEFAULT_THRESHOLDS, MODEL_PERF + ".<Metric>"])
            raise ConfigError(path, f"unknown monitored metric (expected one of {known})")
        thresholds[name] = _parse_threshold(raw, base.higher_is_worse, path)
    return thresholds


def _parse_threshold(raw: Any, higher_is_worse: bool, path: str) -> MetricThreshold:
    if isinstance(raw, MetricThreshold):
        values: Sequence[Any] = (raw.low, raw.medium, raw.high)
    elif isinstance(raw, list | tuple) and len(raw) == 3:
        values = raw
    else:
        raise ConfigError(path, f"expected a list [low, medium, high] of 3 numbers, got {raw!r}")
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise ConfigError(path, f"expected finite numbers, got {item!r}")
    low, medium, high = (float(v) for v in values)
    ordered = low <= medium <= high if higher_is_worse else low >= medium >= high
    if not ordered:
        direction = "ascending" if higher_is_worse else "descending (lower values are worse)"
        raise ConfigError(path, f"thresholds must be {direction}, got {list(values)!r}")
    return MetricThreshold(low, medium, high, higher_is_worse)


@dataclass(frozen=True)
class FirewallEvent:
    """A monitored metric of one bin crossed its threshold.

    The engine has no firewall: the server gives each event its id when it stores it.

    Attributes:
        bin_start_secs: Bin start, seconds since the epoch (UTC).
        bin_end_secs: Bin end (exclusive).
        metric: Monitored metric name, e.g. ``num_drifting_features`` or ``model_perf.AUC``.
        value: The bin's value of the metric.
        threshold: The bound of the level reached, in the metric's unit.
        severity: LOW, MEDIUM or HIGH: the highest level reached.
        description: One sentence naming the bin, the value, the threshold (and features).
        features: Features the event is about (the drifting ones), else empty.
    """

    bin_start_secs: int
    bin_end_secs: int
    metric: str
    value: float
    threshold: float
    severity: Severity
    description: str
    features: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready form."""
        return {
            "bin_start_secs": self.bin_start_secs,
            "bin_end_secs": self.bin_end_secs,
            "metric": self.metric,
            "value": json_safe(float(self.value)),
            "threshold": json_safe(float(self.threshold)),
            "severity": self.severity.value,
            "description": self.description,
            "features": list(self.features),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, JSONValue]) -> FirewallEvent:
        """Inverse of :meth:`to_dict`."""
        return cls(
            bin_start_secs=int(data["bin_start_secs"]),
            bin_end_secs=int(data["bin_end_secs"]),
            metric=data["metric"],
            value=_float(data["value"]),
            threshold=_float(data["threshold"]),
            severity=Severity(data["severity"]),
            description=data["description"],
            features=tuple(data["features"]),
        )


def _float(value: JSONValue) -> float:
    return float("nan") if value is None else float(value)


@dataclass(frozen=True)
class BinMetrics:
    """The monitored metrics of one bin (see the module docstring)."""

    abnormality_rate: float | None
    test_pass_rate: float | None
    average_severity: float | None
    drifting_features: tuple[str, ...]
    model_metrics: Mapping[str, tuple[float | None, float | None]]
    """Metric name -> (reference value, bin value)."""
    model_supports: Mapping[str, int] | None = None
    """Metric name -> rows of the bin the metric averages over (``None``: unknown)."""

    def monitored(self, metric_name: str) -> bool:
        """Whether the bin's value of a model metric rests on enough rows to raise events."""
        if self.model_supports is None:
            return True
        return self.model_supports.get(metric_name, 0) >= MIN_METRIC_SUPPORT

    def values(self) -> dict[str, float | None]:
        """Flat ``{metric: value}``: the four rates and counts, then ``model_perf.<Metric>``."""
        flat: dict[str, float | None] = {
            ABNORMALITY_RATE: self.abnormality_rate,
            TEST_PASS_RATE: self.test_pass_rate,
            AVERAGE_SEVERITY: self.average_severity,
            NUM_DRIFTING_FEATURES: float(len(self.drifting_features)),
        }
        for name, (_, bin_value) in self.model_metrics.items():
            flat[f"{MODEL_PERF}.{name}"] = bin_value
        return flat


def measure_bin(result: RunResult, model_supports: Mapping[str, int] | None = None) -> BinMetrics:
    """Monitored metrics of one bin's run result.

    Args:
        result: The bin's run.
        model_supports: Rows each model metric of the bin averages over, when known.
    """
    scored = [case for case in result.test_cases if case.status is not Status.SKIP]
    passed = sum(case.status is Status.PASS for case in scored)
    drifting: list[str] = []
    for case in result.test_cases:
        if case.test_id == FEATURE_DRIFT_TEST_ID and case.status in (Status.WARNING, Status.FAIL):
            drifting.extend(name for name in case.features if name not in drifting)
    return BinMetrics(
        abnormality_rate=(
            result.num_failing_inputs / result.num_inputs if result.num_inputs else None
        ),
        test_pass_rate=passed / len(scored) if scored else None,
        average_severity=(
            sum(case.severity.rank for case in scored) / len(scored) if scored else None
        ),
        drifting_features=tuple(drifting),
        model_metrics={p.name: (p.ref_metric, p.eval_metric) for p in result.model_perf},
        model_supports=model_supports,
    )


def _model_threshold(
    name: str, reference: float, thresholds: Mapping[str, MetricThreshold]
) -> MetricThreshold:
    """The model metric's allowed degradations turned into values of the metric."""
    metric = _METRICS.get(name)
    higher_is_better = metric.higher_is_better if metric is not None else True
    relative = metric.relative if metric is not None else False
    shared = thresholds[MODEL_PERF_RELATIVE if relative else MODEL_PERF]
    degradations = thresholds.get(f"{MODEL_PERF}.{name}", shared)
    scale = abs(reference) if relative else 1.0
    sign = -1.0 if higher_is_better else 1.0
    low, medium, high = (
        reference + sign * scale * d
        for d in (degradations.low, degradations.medium, degradations.high)
    )
    return MetricThreshold(low, medium, high, higher_is_worse=not higher_is_better)


def _describe(
    label: str, metric: str, value: float, bound: float, metrics: BinMetrics, result: RunResult
) -> str:
    if metric == NUM_DRIFTING_FEATURES:
        notes = ", ".join(
            f"{case.features[0]!r} ({case.metrics.get('statistic_name', 'statistic')} "
            f"{_float(case.metrics.get('statistic')):.3f}, {case.status.value})"
            for case in result.test_cases
            if case.test_id == FEATURE_DRIFT_TEST_ID
            and case.features
            and case.features[0] in metrics.drifting_features
        )
        noun = "feature drifts" if int(value) == 1 else "features drift"
        return f"{int(value)} {noun} in bin {label} (threshold {bound:g}): {notes}."
    if metric.startswith(MODEL_PERF + "."):
        name = metric.removeprefix(MODEL_PERF + ".")
        reference = metrics.model_metrics[name][0]
        return (
            f"{name} is {value:.4g} in bin {label} against {reference:.4g} on the reference "
            f"(threshold {bound:.4g})."
        )
    if metric == ABNORMALITY_RATE:
        return (
            f"{value:.1%} of the rows of bin {label} are abnormal inputs "
            f"({result.num_failing_inputs} of {result.num_inputs}; threshold {bound:.1%})."
        )
    if metric == TEST_PASS_RATE:
        return f"Only {value:.1%} of the test cases of bin {label} pass (threshold {bound:.1%})."
    return f"Average test severity of bin {label} is {value:.2f} (threshold {bound:g})."


def bin_events(
    result: RunResult,
    metrics: BinMetrics,
    thresholds: Mapping[str, MetricThreshold],
    *,
    bin_start_secs: int,
    bin_end_secs: int,
    label: str,
) -> list[FirewallEvent]:
    """Events of one bin: one per monitored metric that reached its ``low`` threshold."""
    checks: list[tuple[str, float | None, MetricThreshold]] = [
        (name, value, thresholds[name])
        for name, value in metrics.values().items()
        if not name.startswith(MODEL_PERF + ".")
    ]
    for name, (reference, value) in metrics.model_metrics.items():
        if (
            reference is not None
            and value is not None
            and math.isfinite(reference)
            and metrics.monitored(name)
        ):
            checks.append(
                (f"{MODEL_PERF}.{name}", value, _model_threshold(name, reference, thresholds))
            )
    events = []
    for name, value, threshold in checks:
        severity, bound = threshold.level(value)
        if value is None or bound is None:
            continue
        events.append(
            FirewallEvent(
                bin_start_secs=bin_start_secs,
                bin_end_secs=bin_end_secs,
                metric=name,
                value=value,
                threshold=bound,
                severity=severity,
                description=_describe(label, name, value, bound, metrics, result),
                features=metrics.drifting_features if name == NUM_DRIFTING_FEATURES else (),
            )
        )
    return events


def worst_severity(events: Iterable[FirewallEvent]) -> Severity:
    """The highest severity of ``events`` (NONE when there are none)."""
    return Severity.worst(event.severity for event in events)
