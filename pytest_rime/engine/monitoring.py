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
``num_drifting_features``  features whose case of a column drift test (``Feature Drift`` for
                           tables; the text and image drift tests) is WARNING or FAIL *and*
                           whose drift is significant (see Evidence below)
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

Evidence (NannyML's idea: thresholds read against the reference's own spread). On a bin of
50 rows the PSI of most features exceeds its threshold by sampling noise alone, so a metric's
value beyond its threshold is not enough. Every monitored metric that can be recomputed on
reference rows is recomputed on many random chunks of the reference of the bin's size
(:func:`draw_chunks`, seeded per bin, shared by all metrics): each feature's drift statistic
between the chunk and the rest of the reference (the row-wise twin of each statistic in
:mod:`pytest_rime.engine.drift_statistics`), the
abnormality rate of the chunk (its rows flagged out of fold, see
:mod:`pytest_rime.engine.firewall`), each model metric on chunks of the labelled rows (with the
bin's own rows in the pool: a permutation test). A metric's p-value is the share of chunks at
least as bad, ``(1 + worse) / (1 + draws)`` (:func:`null_p_values` draws rounds of chunks until
the p-value is clearly above the significance level, or enough for the smallest p-value to
survive the correction). The p-values of a bin are adjusted together by Benjamini--Hochberg
(:func:`adjust`) and kept as :class:`Evidence`. A feature counts as drifting only when its
adjusted p-value is under the run's ``significance_level``; an event is MEDIUM or HIGH only
when its metric's is (otherwise at most LOW, like a test case without evidence). The pass rate
and the average severity have no null spread: their events are at most LOW. A text or image
column has no row-wise drift statistic to draw chunks of: it counts as drifting on the adjusted
p-value of its drift case itself. The bin's metrics carry ``<metric>.p_value`` and
``<metric>.p_value_adjusted``; an event's description states them.

The pass rate and the average severity are loose by default: a bin is small, and some cases
fail on every bin of a sound model (a subset near the decision boundary is always less
accurate), so these two move with the test suite more than with the data. Tighten them once the
usual level of a model's bins is known.

Overrides (:func:`resolve_thresholds`) replace whole triples, e.g.
``{"abnormality_rate": [0.1, 0.2, 0.3], "model_perf.AUC": [0.02, 0.05, 0.1]}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_rime.engine.codec import JSONRecord, JSONValue
from pytest_rime.engine.config import DEFAULT_SIGNIFICANCE_LEVEL
from pytest_rime.engine.errors import ConfigError
from pytest_rime.engine.evidence import (
    P_VALUE,
    P_VALUE_ADJUSTED,
    benjamini_hochberg,
    format_p_value,
)
from pytest_rime.engine.metrics import Metric, all_metrics
from pytest_rime.engine.results import RunResult, Severity, Status, TestCaseResult
from pytest_rime.vocabulary import VocabularyError, parse_thresholds

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
class MetricThreshold(JSONRecord):
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
        values = raw  # not three numbers: parse_thresholds names the problem
    try:
        low, medium, high = parse_thresholds(
            values, path, order="ascending" if higher_is_worse else "descending"
        )
    except VocabularyError as exc:
        raise ConfigError.from_vocabulary(exc) from None
    return MetricThreshold(low, medium, high, higher_is_worse)


@dataclass(frozen=True)
class FirewallEvent(JSONRecord):
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


# ------------------------------------------------------------ evidence: the null spread
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
NullStatistic = Callable[[IntArray], FloatArray]
"""A monitored metric on each of many chunks: ``(draws, size)`` row positions -> ``(draws,)``."""

NULL_DRAWS_PER_ROUND = 250
"""Reference chunks drawn per round of :func:`null_p_values`."""
MIN_NULL_DRAWS = 1000
MAX_NULL_DRAWS = 10_000
"""Bounds of the chunks drawn for a metric that stays a candidate for significance."""
NULL_POOL_ROWS = 10_000
"""Reference rows the chunks are drawn from at most (a seeded sample of larger references)."""


@dataclass(frozen=True)
class Evidence:
    """Whether a bin's monitored metric is outside the null spread of its reference chunks.

    Attributes:
        p_value: Share of reference chunks of the bin's size whose metric is at least as bad as
            the bin's, ``(1 + worse) / (1 + draws)``; for a column drift test without a null
            spread of reference chunks, the p-value of its case.
        p_value_adjusted: ``p_value`` after Benjamini--Hochberg over the bin's metrics (over the
            bin's cases for a case's own p-value).
        draws: Reference chunks the p-value was read from (0: the case's own p-value).
    """

    p_value: float
    p_value_adjusted: float
    draws: int

    def significant(self, significance_level: float) -> bool:
        """Whether the adjusted p-value is below ``significance_level``."""
        return self.p_value_adjusted < significance_level

    def describe(self) -> str:
        """``p = 0.0012, adjusted p = 0.021 (1000 reference chunks)``.

        Evidence of no reference chunks (``draws`` 0) is the test's own p-value.
        """
        source = f"{self.draws} reference chunks" if self.draws else "the test's own"
        return (
            f"p = {format_p_value(self.p_value)}, "
            f"adjusted p = {format_p_value(self.p_value_adjusted)} ({source})"
        )


def empirical_p_value(observed: float, null: npt.ArrayLike, *, higher_is_worse: bool) -> float:
    """``(1 + #chunks at least as bad as observed) / (1 + #chunks)``; NaN values are dropped.

    NaN when ``observed`` is not finite or no chunk value is.
    """
    values = np.asarray(null, dtype=float)
    values = values[~np.isnan(values)]
    if not math.isfinite(observed) or values.size == 0:
        return float("nan")
    worse = values >= observed if higher_is_worse else values <= observed
    return float((1 + np.count_nonzero(worse)) / (1 + values.size))


def with_replacement(pool: int, size: int) -> bool:
    """Whether chunks of ``size`` rows are drawn with replacement from ``pool`` rows.

    Without replacement (the rest of the pool is then the chunk's reference) when the pool
    holds at least two chunks; otherwise each chunk is a bootstrap sample of the pool.
    """
    return 2 * size > pool


def draw_chunks(rng: np.random.Generator, pool: int, size: int, draws: int) -> IntArray:
    """``(draws, size)`` positions in ``range(pool)``: random chunks of the reference pool.

    A chunk has no repeated row unless :func:`with_replacement`.
    """
    if with_replacement(pool, size):
        return rng.integers(0, pool, (draws, size), dtype=np.int64)
    if size == 0:
        return np.empty((draws, 0), dtype=np.int64)
    keys = rng.random((draws, pool))
    return np.argpartition(keys, size - 1, axis=1)[:, :size].astype(np.int64)


def chunk_counts(codes: IntArray, chunks: IntArray, categories: int) -> IntArray:
    """``(draws, categories)`` counts of each chunk's codes (negative codes are not counted)."""
    values = codes[chunks]
    draws = chunks.shape[0]
    valid = values >= 0
    flat = (np.arange(draws)[:, None] * categories + values)[valid]
    counts = np.bincount(flat, minlength=draws * categories).reshape(draws, categories)
    return counts.astype(np.int64)


@dataclass(frozen=True)
class NullTarget:
    """One monitored metric to test against its null spread.

    Attributes:
        observed: The bin's value.
        statistic: The metric on reference chunks.
        higher_is_worse: Direction of the metric.
    """

    observed: float
    statistic: NullStatistic
    higher_is_worse: bool = True


def target_draws(family_size: int, significance_level: float) -> int:
    """Chunks drawn at most for a metric that stays a candidate for significance.

    Enough that the smallest possible p-value, ``1 / (1 + draws)``, survives Bonferroni over
    ``family_size`` metrics at half the significance level (within the bounds).
    """
    wanted = math.ceil(2 * max(family_size, 1) / significance_level)
    rounds = math.ceil(wanted / NULL_DRAWS_PER_ROUND)
    return int(np.clip(rounds * NULL_DRAWS_PER_ROUND, MIN_NULL_DRAWS, MAX_NULL_DRAWS))


def null_p_values(
    targets: Mapping[str, NullTarget],
    draw: Callable[[int], IntArray],
    *,
    significance_level: float,
    max_draws: int,
) -> dict[str, tuple[float, int]]:
    """Empirical p-values of ``targets`` against chunks drawn in rounds, shared by all targets.

    After each round of :data:`NULL_DRAWS_PER_ROUND` chunks, a target whose p-value is clearly
    above ``significance_level`` (three standard errors) stops; the others continue up to
    ``max_draws`` chunks.

    Args:
        targets: Metric name -> its observed value and null statistic.
        draw: ``draw(n)`` -> ``(n, size)`` chunk positions.
        significance_level: The level a metric must reach after correction.
        max_draws: Chunks drawn at most.

    Returns:
        Metric name -> (p-value, chunks with a finite value of the metric); NaN when none.
    """
    worse = dict.fromkeys(targets, 0)
    finite = dict.fromkeys(targets, 0)
    active = [name for name, t in targets.items() if math.isfinite(t.observed)]
    drawn = 0
    while active and drawn < max_draws:
        chunks = draw(min(NULL_DRAWS_PER_ROUND, max_draws - drawn))
        drawn += chunks.shape[0]
        still = []
        for name in active:
            target = targets[name]
            values = np.asarray(target.statistic(chunks), dtype=float)
            values = values[~np.isnan(values)]
            observed = target.observed
            hits = values >= observed if target.higher_is_worse else values <= observed
            worse[name] += int(np.count_nonzero(hits))
            finite[name] += int(values.size)
            p = (1 + worse[name]) / (1 + finite[name])
            if p - 3 * math.sqrt(p * (1 - p) / (1 + finite[name])) <= significance_level:
                still.append(name)
        active = still
    return {
        name: ((1 + worse[name]) / (1 + finite[name]) if finite[name] else float("nan"), n)
        for name, n in finite.items()
    }


def adjust(p_values: Mapping[str, tuple[float, int]]) -> dict[str, Evidence]:
    """Evidence of every metric with a p-value, Benjamini--Hochberg adjusted over them all."""
    names = [name for name, (p, _) in p_values.items() if not math.isnan(p)]
    adjusted = benjamini_hochberg([p_values[name][0] for name in names])
    return {
        name: Evidence(p_values[name][0], float(value), p_values[name][1])
        for name, value in zip(names, adjusted, strict=True)
    }


FEATURE_DRIFT_PREFIX = "drift."
"""Evidence key prefix of a feature's drift statistic (``drift.<feature>``)."""


@dataclass(frozen=True)
class BinMetrics:
    """The monitored metrics of one bin (see the module docstring)."""

    abnormality_rate: float | None
    test_pass_rate: float | None
    average_severity: float | None
    drifting_features: tuple[str, ...]
    """Features whose drift is beyond its threshold and, when evidence is known, significant."""
    model_metrics: Mapping[str, tuple[float | None, float | None]]
    """Metric name -> (reference value, bin value)."""
    model_supports: Mapping[str, int] | None = None
    """Metric name -> rows of the bin the metric averages over (``None``: unknown)."""
    evidence: Mapping[str, Evidence] = field(default_factory=dict)
    """Monitored metric name (and ``drift.<feature>`` per feature) -> its evidence."""
    noisy_features: tuple[str, ...] = ()
    """Features whose drift is beyond its threshold but within the null spread."""
    significance_level: float = DEFAULT_SIGNIFICANCE_LEVEL
    """The level an adjusted p-value must be under for a metric to be significant."""
    drift_tests: tuple[str, ...] = (FEATURE_DRIFT_TEST_ID,)
    """The ids of the column drift tests whose cases count features as drifting."""

    def monitored(self, metric_name: str) -> bool:
        """Whether the bin's value of a model metric rests on enough rows to raise events."""
        if self.model_supports is None:
            return True
        return self.model_supports.get(metric_name, 0) >= MIN_METRIC_SUPPORT

    def significant(self, metric: str) -> bool | None:
        """Whether ``metric`` is outside its null spread after correction (``None``: unknown)."""
        evidence = self.evidence.get(metric)
        return None if evidence is None else evidence.significant(self.significance_level)

    def values(self) -> dict[str, float | None]:
        """Flat ``{metric: value}`` of the bin.

        The four rates and counts, then ``model_perf.<Metric>``, then ``<metric>.p_value`` and
        ``<metric>.p_value_adjusted`` of the metrics that can have evidence (the abnormality
        rate, the drifting features and the model metrics; ``None`` when a bin has none, so
        every bin has the same keys).
        """
        flat: dict[str, float | None] = {
            ABNORMALITY_RATE: self.abnormality_rate,
            TEST_PASS_RATE: self.test_pass_rate,
            AVERAGE_SEVERITY: self.average_severity,
            NUM_DRIFTING_FEATURES: float(len(self.drifting_features)),
        }
        for name, (_, bin_value) in self.model_metrics.items():
            flat[f"{MODEL_PERF}.{name}"] = bin_value
        tested = [ABNORMALITY_RATE, NUM_DRIFTING_FEATURES]
        tested += [f"{MODEL_PERF}.{name}" for name in self.model_metrics]
        for name in tested:
            evidence = self.evidence.get(name)
            flat[f"{name}.{P_VALUE}"] = None if evidence is None else evidence.p_value
            flat[f"{name}.{P_VALUE_ADJUSTED}"] = (
                None if evidence is None else evidence.p_value_adjusted
            )
        return flat


def drift_candidates(
    result: RunResult, drift_tests: Collection[str] = (FEATURE_DRIFT_TEST_ID,)
) -> list[str]:
    """Features of a WARNING or FAIL case of a column drift test (drift beyond its threshold).

    ``drift_tests``: the ids of the tests that measure column drift (``column_drift`` in the
    registry): Feature Drift for tables, the text and image drift tests for nlp and images.
    """
    features: list[str] = []
    for case in result.test_cases:
        if case.test_id in drift_tests and case.status in (Status.WARNING, Status.FAIL):
            features.extend(name for name in case.features if name not in features)
    return features


def _count_evidence(
    known: Mapping[str, Evidence], drifting: Sequence[str], candidates: Sequence[str]
) -> Evidence | None:
    """Evidence of ``num_drifting_features``: that of the weakest feature it counts.

    When it counts none, that of the feature nearest to counting: the smallest adjusted p-value
    among the features beyond their threshold, else among all features tested.
    """
    features = {
        name.removeprefix(FEATURE_DRIFT_PREFIX): found
        for name, found in known.items()
        if name.startswith(FEATURE_DRIFT_PREFIX)
    }
    if drifting:
        return max((features[f] for f in drifting), key=lambda e: e.p_value_adjusted)
    nearest = [features[f] for f in candidates if f in features] or list(features.values())
    return min(nearest, key=lambda e: e.p_value_adjusted, default=None)


def measure_bin(
    result: RunResult,
    model_supports: Mapping[str, int] | None = None,
    evidence: Mapping[str, Evidence] | None = None,
    significance_level: float = DEFAULT_SIGNIFICANCE_LEVEL,
    drift_tests: Collection[str] = (FEATURE_DRIFT_TEST_ID,),
) -> BinMetrics:
    """Monitored metrics of one bin's run result.

    Args:
        result: The bin's run.
        model_supports: Rows each model metric of the bin averages over, when known.
        evidence: Evidence of the bin's metrics against reference chunks of its size (keys as
            :attr:`BinMetrics.evidence`), when known. With it a feature counts as drifting only
            when its drift is significant, and ``num_drifting_features`` gets the evidence of
            the weakest feature it counts.
        significance_level: The level an adjusted p-value must be under.
        drift_tests: The ids of the bin's column drift tests (see :func:`drift_candidates`).
    """
    scored = [case for case in result.test_cases if case.status is not Status.SKIP]
    passed = sum(case.status is Status.PASS for case in scored)
    candidates = drift_candidates(result, drift_tests)
    known = dict(evidence or {})

    def drift_significant(feature: str) -> bool:
        found = known.get(FEATURE_DRIFT_PREFIX + feature)
        return found is not None and found.significant(significance_level)

    drifting = [f for f in candidates if evidence is None or drift_significant(f)]
    count_evidence = _count_evidence(known, drifting, candidates)
    if count_evidence is not None:
        known[NUM_DRIFTING_FEATURES] = count_evidence
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
        evidence=known,
        noisy_features=tuple(f for f in candidates if f not in drifting),
        significance_level=significance_level,
        drift_tests=tuple(drift_tests),
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


def _drift_notes(features: Sequence[str], metrics: BinMetrics, result: RunResult) -> str:
    cases: dict[str, TestCaseResult] = {}
    for case in result.test_cases:  # per feature, its most severe drift case
        if case.test_id in metrics.drift_tests and case.features:
            known = cases.get(case.features[0])
            if known is None or case.severity.rank > known.severity.rank:
                cases[case.features[0]] = case
    notes = []
    for name in features:
        case = cases[name]
        note = (
            f"{name!r} ({case.metrics.get('statistic_name', 'statistic')} "
            f"{_float(case.metrics.get('statistic')):.3f}, {case.status.value}"
        )
        evidence = metrics.evidence.get(FEATURE_DRIFT_PREFIX + name)
        if evidence is not None:
            note += f"; {evidence.describe()}"
        notes.append(note + ")")
    return ", ".join(notes)


def _describe(
    label: str, metric: str, value: float, bound: float, metrics: BinMetrics, result: RunResult
) -> str:
    if metric == NUM_DRIFTING_FEATURES:
        notes = _drift_notes(metrics.drifting_features, metrics, result)
        noun = "feature drifts" if int(value) == 1 else "features drift"
        text = f"{int(value)} {noun} in bin {label} (threshold {bound:g}): {notes}."
        if metrics.noisy_features:
            text += (
                f" {len(metrics.noisy_features)} more beyond the drift threshold but within the "
                "spread of reference chunks of the bin's size: "
                f"{', '.join(map(repr, metrics.noisy_features))}."
            )
        return text
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


def _with_evidence(metric: str, severity: Severity, metrics: BinMetrics) -> tuple[Severity, str]:
    """The event's severity after its evidence (MEDIUM and HIGH need it) and the sentence."""
    evidence = metrics.evidence.get(metric)
    alpha = metrics.significance_level
    capped = Severity.LOW if severity.rank > Severity.LOW.rank else severity
    if evidence is None:
        note = " (so at most LOW)" if capped is not severity else ""
        return capped, f"Evidence: no null spread of this metric{note}."
    if evidence.significant(alpha):
        return severity, f"Evidence: {evidence.describe()}, significant at {alpha:g}."
    note = ", so at most LOW" if capped is not severity else ""
    return capped, (
        f"Evidence: {evidence.describe()}, not significant at {alpha:g}: within the spread of "
        f"reference chunks of the bin's size{note}."
    )


def bin_events(
    result: RunResult,
    metrics: BinMetrics,
    thresholds: Mapping[str, MetricThreshold],
    *,
    bin_start_secs: int,
    bin_end_secs: int,
    label: str,
) -> list[FirewallEvent]:
    """Events of one bin: one per monitored metric that reached its ``low`` threshold.

    An event is MEDIUM or HIGH only when its metric is significant (:attr:`BinMetrics.evidence`,
    adjusted p-value under the bin's significance level); otherwise it is at most LOW.
    """
    checks: list[tuple[str, float | None, MetricThreshold]] = [
        (name, value, thresholds[name])
        for name, value in metrics.values().items()
        if name in DEFAULT_THRESHOLDS and not name.startswith(MODEL_PERF)
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
        reached, bound = threshold.level(value)
        if value is None or bound is None:
            continue
        severity, evidence = _with_evidence(name, reached, metrics)
        events.append(
            FirewallEvent(
                bin_start_secs=bin_start_secs,
                bin_end_secs=bin_end_secs,
                metric=name,
                value=value,
                threshold=bound,
                severity=severity,
                description=f"{_describe(label, name, value, bound, metrics, result)} {evidence}",
                features=metrics.drifting_features if name == NUM_DRIFTING_FEATURES else (),
            )
        )
    return events


def worst_severity(events: Iterable[FirewallEvent]) -> Severity:
    """The highest severity of ``events`` (NONE when there are none)."""
    return Severity.worst(event.severity for event in events)


def _float(value: JSONValue) -> float:
    return float("nan") if value is None else float(value)
