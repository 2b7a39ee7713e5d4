"""Firewall runs: test timestamped production data bin by bin against a reference.

:func:`run_firewall` reads an incremental evaluation file, splits its rows into UTC bins (hourly
or daily, :mod:`pytest_rime.engine.binning`) by a timestamp column, and runs on each bin, against
the reference data and model of a stress test config, the registered tests of the firewall
categories (:data:`FIREWALL_CATEGORIES`: abnormal inputs, drift, model performance, subset
performance) that the config's ``tests_config`` leaves enabled. Each bin's outcome is a full
:class:`~pytest_rime.engine.results.RunResult` (stored by the server as its own test run), with
the monitored metrics of :mod:`pytest_rime.engine.monitoring` and the events they raise.

:func:`run_firewall_from_reference` runs the stress test of a full config and the firewall on
the bins of its evaluation data (``monitoring_info.timestamp_col`` and ``bin_size``).

The reference side (data, model, reference predictions, feature importance) is loaded and
computed once and shared by every bin. The timestamp column is never a feature. Rows whose
timestamp cannot be parsed are counted in the result and the log, never silently dropped.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_rime.engine.binning import Binning, TimeBin, split_into_bins
from pytest_rime.engine.binning import bin_size_seconds as parse_bin_size
from pytest_rime.engine.config import ConfigError, MonitoringInfo, TestRunConfig, validate_config
from pytest_rime.engine.context import RunContext
from pytest_rime.engine.data import DataError, Resolver
from pytest_rime.engine.metrics import metric_inputs, task_metrics
from pytest_rime.engine.model import ModelError
from pytest_rime.engine.monitoring import (
    FirewallEvent,
    MetricThreshold,
    bin_events,
    measure_bin,
    resolve_thresholds,
    worst_severity,
)
from pytest_rime.engine.registry import TestSpec
from pytest_rime.engine.results import (
    JSONValue,
    RunResult,
    Severity,
    count_statuses,
    json_safe,
)
from pytest_rime.engine.run import (
    Log,
    Progress,
    enabled_tests,
    load_context,
    model_perf,
    run_batches,
    run_stress_test,
)

FIREWALL_CATEGORIES = ("Abnormal Inputs", "Drift", "Model Performance", "Subset Performance")
"""Categories of the registered tests a firewall runs on each bin."""

DEFAULT_BIN_SIZE = "day"
"""``monitoring_info.bin_size`` when the config gives none."""


def _print(line: str) -> None:
    print(line, flush=True)


def firewall_tests(config: TestRunConfig) -> tuple[TestSpec, ...]:
    """Enabled registered tests of the :data:`FIREWALL_CATEGORIES`, in registry order."""
    return tuple(spec for spec in enabled_tests(config) if spec.category in FIREWALL_CATEGORIES)


# --------------------------------------------------------------------------- result types
@dataclass(frozen=True)
class BinSummary:
    """One bin at a glance: its time span, rows, monitored metrics and alert level.

    Attributes:
        bin_start_secs: Bin start, seconds since the epoch (UTC).
        bin_end_secs: Bin end (exclusive).
        label: ``YYYY-MM-DD`` (daily) or ``YYYY-MM-DD HH:MM`` (hourly).
        num_rows: Rows of the eval data in the bin.
        metrics: Monitored metric name -> value (``None`` when not computable); see
            :mod:`pytest_rime.engine.monitoring`.
        drifting_features: Features whose ``Feature Drift`` case is WARNING or FAIL.
        severity: Highest level a monitored metric reached (NONE when none reached its low
            threshold), whether or not events are enabled.
        summary_counts: Status counts ``{total, pass, warning, fail, skip}`` of the bin's cases.
    """

    bin_start_secs: int
    bin_end_secs: int
    label: str
    num_rows: int
    metrics: Mapping[str, float | None]
    drifting_features: tuple[str, ...]
    severity: Severity
    summary_counts: Mapping[str, int]

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready form."""
        return {
            "bin_start_secs": self.bin_start_secs,
            "bin_end_secs": self.bin_end_secs,
            "label": self.label,
            "num_rows": self.num_rows,
            "metrics": json_safe(dict(self.metrics)),
            "drifting_features": list(self.drifting_features),
            "severity": self.severity.value,
            "summary_counts": dict(self.summary_counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, JSONValue]) -> BinSummary:
        """Inverse of :meth:`to_dict`."""
        return cls(
            bin_start_secs=int(data["bin_start_secs"]),
            bin_end_secs=int(data["bin_end_secs"]),
            label=data["label"],
            num_rows=int(data["num_rows"]),
            metrics=dict(data["metrics"]),
            drifting_features=tuple(data["drifting_features"]),
            severity=Severity(data["severity"]),
            summary_counts=dict(data["summary_counts"]),
        )


@dataclass(frozen=True)
class FirewallBin:
    """Everything one bin produced: summary, events (empty when disabled) and the test run."""

    summary: BinSummary
    events: tuple[FirewallEvent, ...]
    result: RunResult

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready form."""
        return {
            "summary": self.summary.to_dict(),
            "events": [event.to_dict() for event in self.events],
            "result": self.result.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, JSONValue]) -> FirewallBin:
        """Inverse of :meth:`to_dict`."""
        return cls(
            summary=BinSummary.from_dict(data["summary"]),
            events=tuple(FirewallEvent.from_dict(e) for e in data["events"]),
            result=RunResult.from_dict(data["result"]),
        )


@dataclass(frozen=True)
class FirewallRunResult:
    """A firewall run over the bins of one evaluation file.

    Attributes:
        run_name: The reference config's run name (each bin's run is ``"<run_name> <label>"``).
        eval_path: The evaluation file, as given.
        timestamp_col: The column the rows were binned by.
        bin_size_seconds: 3600 or 86400.
        num_rows: Rows read from the evaluation file (after ``nrows`` sampling, if any).
        num_unparsed_rows: Rows whose timestamp was missing or could not be parsed (in no bin).
        unparsed_examples: Up to five of those raw timestamps.
        events_enabled: Whether events were raised.
        thresholds: The monitored metric thresholds used.
        bins: The non-empty bins, in time order.
        duration_millis: Wall time of the whole run.
    """

    run_name: str
    eval_path: str
    timestamp_col: str
    bin_size_seconds: int
    num_rows: int
    num_unparsed_rows: int
    unparsed_examples: tuple[str, ...]
    events_enabled: bool
    thresholds: Mapping[str, MetricThreshold]
    bins: tuple[FirewallBin, ...]
    duration_millis: int = 0
    metadata: Mapping[str, JSONValue] = field(default_factory=dict)

    @property
    def events(self) -> list[FirewallEvent]:
        """Events of every bin, in bin order."""
        return [event for time_bin in self.bins for event in time_bin.events]

    @property
    def summaries(self) -> list[BinSummary]:
        """Summary of every bin, in bin order."""
        return [time_bin.summary for time_bin in self.bins]

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready form."""
        return {
            "run_name": self.run_name,
            "eval_path": self.eval_path,
            "timestamp_col": self.timestamp_col,
            "bin_size_seconds": self.bin_size_seconds,
            "num_rows": self.num_rows,
            "num_unparsed_rows": self.num_unparsed_rows,
            "unparsed_examples": list(self.unparsed_examples),
            "events_enabled": self.events_enabled,
            "thresholds": {name: t.to_dict() for name, t in self.thresholds.items()},
            "bins": [time_bin.to_dict() for time_bin in self.bins],
            "duration_millis": self.duration_millis,
            "metadata": json_safe(dict(self.metadata)),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, JSONValue]) -> FirewallRunResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            run_name=data["run_name"],
            eval_path=data["eval_path"],
            timestamp_col=data["timestamp_col"],
            bin_size_seconds=int(data["bin_size_seconds"]),
            num_rows=int(data["num_rows"]),
            num_unparsed_rows=int(data["num_unparsed_rows"]),
            unparsed_examples=tuple(data["unparsed_examples"]),
            events_enabled=bool(data["events_enabled"]),
            thresholds={
                name: MetricThreshold.from_dict(t) for name, t in data["thresholds"].items()
            },
            bins=tuple(FirewallBin.from_dict(b) for b in data["bins"]),
            duration_millis=int(data["duration_millis"]),
            metadata=dict(data["metadata"]),
        )


@dataclass(frozen=True)
class FirewallFromReferenceResult:
    """The stress test of a config and the firewall run on its evaluation data's bins."""

    stress_test: RunResult
    firewall: FirewallRunResult

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready form."""
        return {"stress_test": self.stress_test.to_dict(), "firewall": self.firewall.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, JSONValue]) -> FirewallFromReferenceResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            stress_test=RunResult.from_dict(data["stress_test"]),
            firewall=FirewallRunResult.from_dict(data["firewall"]),
        )


# --------------------------------------------------------------------------- running bins
@dataclass(frozen=True)
class _PreparedFirewall:
    """The reference loaded once, the eval rows binned: ready to run the bins."""

    config: TestRunConfig
    base: RunContext
    reference_metadata: Mapping[str, JSONValue]
    ref_predictions: np.ndarray | None
    eval_predictions: np.ndarray | None
    binning: Binning
    eval_path: str
    timestamp_col: str
    bin_size: int


def _firewall_config(config: TestRunConfig, eval_path: str, timestamp_col: str) -> TestRunConfig:
    """``config`` reading ``eval_path``, with ``timestamp_col`` as its timestamp (not a feature).

    The config's own ``eval_pred_path`` belongs to its own eval data and is dropped.
    """
    monitoring = config.monitoring_info or MonitoringInfo()
    return dataclasses.replace(
        config,
        data_info=dataclasses.replace(config.data_info, eval_path=eval_path, eval_pred_path=None),
        monitoring_info=dataclasses.replace(monitoring, timestamp_col=timestamp_col),
    )


def _prepare(
    reference_config: Mapping[str, Any] | TestRunConfig,
    eval_path: str,
    timestamp_col: str,
    bin_size: int | str,
    resolver: Resolver | None,
    log: Log,
) -> _PreparedFirewall:
    size = parse_bin_size(bin_size)
    cfg = _firewall_config(validate_config(reference_config), eval_path, timestamp_col)
    base, metadata = load_context(cfg, resolver=resolver, log=log)
    if timestamp_col not in base.eval.columns:
        raise DataError(
            f"timestamp_col: {eval_path} has no column {timestamp_col!r} "
            f"(columns: {', '.join(map(str, base.eval.columns))})"
        )
    binning = split_into_bins(base.eval[timestamp_col], size)
    unparsed = len(binning.unparsed_rows)
    if unparsed:
        log(
            f"{unparsed} of {len(base.eval)} rows of {eval_path} have a missing or unparseable "
            f"{timestamp_col!r} and are in no bin (e.g. {', '.join(binning.unparsed_examples)})"
        )
    if len(base.eval) and not binning.bins:
        raise DataError(
            f"timestamp_col: no value of column {timestamp_col!r} in {eval_path} is a timestamp "
            f"(e.g. {', '.join(binning.unparsed_examples)}); expected 'YYYY-MM-DD[ HH:MM:SS]', "
            "epoch seconds or datetimes"
        )
    try:
        ref_predictions = (
            base.predictions("ref") if base.has_model or base.has_predictions else None
        )
    except ModelError as exc:
        log(f"reference predictions failed ({exc}); prediction-based tests are skipped")
        ref_predictions = None
    pred_col = cfg.data_info.pred_col
    eval_predictions = (
        base.eval[pred_col].to_numpy() if pred_col and pred_col in base.eval.columns else None
    )
    importance = base.importance
    metadata = {k: v for k, v in metadata.items() if not k.startswith("eval_")}
    metadata.update(
        model_task_inferred=base.model_task_inferred,
        feature_types={name: f.type for name, f in base.features.items()},
        importance_method=importance.method,
        feature_importance=dict(importance.scores),
        model_source=base.model.source if base.model is not None else None,
    )
    log(
        f"{len(binning.bins)} bins of {size} s from {len(base.eval)} rows of {eval_path} "
        f"by {timestamp_col!r}"
    )
    return _PreparedFirewall(
        config=dataclasses.replace(cfg, model_task=base.model_task),
        base=base,
        reference_metadata=metadata,
        ref_predictions=ref_predictions,
        eval_predictions=eval_predictions,
        binning=binning,
        eval_path=eval_path,
        timestamp_col=timestamp_col,
        bin_size=size,
    )


def _bin_context(prepared: _PreparedFirewall, rows: np.ndarray) -> RunContext:
    """A context over the bin's rows sharing the reference, model and importance."""
    base = prepared.base
    eval_predictions = prepared.eval_predictions
    ctx = RunContext(
        prepared.config,
        base.ref,
        base.eval.iloc[rows].reset_index(drop=True),
        model=base.model,
        ref_predictions=prepared.ref_predictions,
        eval_predictions=eval_predictions[rows] if eval_predictions is not None else None,
        log=base.log,
    )
    ctx.memo("importance", lambda: base.importance)
    return ctx


def _metric_supports(ctx: RunContext) -> dict[str, int] | None:
    """Rows each model metric averages over in the bin; ``None`` without labels or predictions."""
    try:
        inputs = metric_inputs(ctx, "eval")
    except (KeyError, ValueError):  # no labels, or no predictions (ModelError)
        return None
    return {metric.name: int(metric.support(inputs)) for metric in task_metrics(ctx.model_task)}


def _run_bin(
    prepared: _PreparedFirewall,
    time_bin: TimeBin,
    specs: tuple[TestSpec, ...],
    thresholds: Mapping[str, MetricThreshold],
    enable_events: bool,
    log: Log,
) -> FirewallBin:
    started = time.perf_counter()
    cfg = prepared.config
    ctx = _bin_context(prepared, time_bin.rows)
    batches, num_failing_inputs = run_batches(ctx, specs, cfg, log)
    result = RunResult(
        run_name=f"{cfg.run_name} {time_bin.label}",
        model_task=ctx.model_task,
        data_type=cfg.data_type,
        num_inputs=len(ctx.eval),
        num_failing_inputs=num_failing_inputs,
        duration_millis=int((time.perf_counter() - started) * 1000),
        batches=batches,
        model_perf=model_perf(ctx, log),
        metadata={
            **prepared.reference_metadata,
            "firewall_bin": True,
            "bin_start_secs": time_bin.start_secs,
            "bin_end_secs": time_bin.end_secs,
            "bin_label": time_bin.label,
            "bin_size_seconds": prepared.bin_size,
            "timestamp_col": prepared.timestamp_col,
            "eval_path": prepared.eval_path,
            "eval_rows": len(ctx.eval),
            # Rows of eval_path in no bin at all (their timestamp could not be parsed).
            "eval_unparsed_timestamp_rows": len(prepared.binning.unparsed_rows),
        },
    )
    metrics = measure_bin(result, _metric_supports(ctx))
    events = bin_events(
        result,
        metrics,
        thresholds,
        bin_start_secs=time_bin.start_secs,
        bin_end_secs=time_bin.end_secs,
        label=time_bin.label,
    )
    summary = BinSummary(
        bin_start_secs=time_bin.start_secs,
        bin_end_secs=time_bin.end_secs,
        label=time_bin.label,
        num_rows=len(ctx.eval),
        metrics=metrics.values(),
        drifting_features=metrics.drifting_features,
        severity=worst_severity(events),
        summary_counts=count_statuses(result.test_cases),
    )
    return FirewallBin(summary, tuple(events) if enable_events else (), result)


def _run_bins(
    prepared: _PreparedFirewall,
    thresholds: Mapping[str, MetricThreshold],
    enable_events: bool,
    log: Log,
    progress: Progress | None,
    started: float,
) -> FirewallRunResult:
    specs = firewall_tests(prepared.config)
    total = len(prepared.binning.bins)
    if progress is not None:
        progress(0, total)
    bins = []
    for done, time_bin in enumerate(prepared.binning.bins, start=1):
        outcome = _run_bin(prepared, time_bin, specs, thresholds, enable_events, log)
        bins.append(outcome)
        summary = outcome.summary
        log(
            f"[{done}/{total}] bin {summary.label}: {summary.num_rows} rows, "
            f"{summary.summary_counts['fail']} failing cases, alert level {summary.severity}"
        )
        if progress is not None:
            progress(done, total)
    return FirewallRunResult(
        run_name=prepared.config.run_name,
        eval_path=prepared.eval_path,
        timestamp_col=prepared.timestamp_col,
        bin_size_seconds=prepared.bin_size,
        num_rows=len(prepared.base.eval),
        num_unparsed_rows=len(prepared.binning.unparsed_rows),
        unparsed_examples=prepared.binning.unparsed_examples,
        events_enabled=enable_events,
        thresholds=thresholds,
        bins=tuple(bins),
        duration_millis=int((time.perf_counter() - started) * 1000),
        metadata=dict(prepared.reference_metadata),
    )


def run_firewall(
    reference_config: Mapping[str, Any] | TestRunConfig,
    *,
    eval_path: str,
    timestamp_col: str,
    bin_size_seconds: int | str,
    resolver: Resolver | None = None,
    log: Log | None = None,
    progress: Progress | None = None,
    thresholds: Mapping[str, Any] | None = None,
    enable_events: bool = True,
) -> FirewallRunResult:
    """Test the bins of an incremental evaluation file against a stress test's reference.

    Args:
        reference_config: The stress test's config (raw dict or validated): reference data,
            model, label/prediction columns, ``tests_config``. Its own ``eval_path`` is not read.
        eval_path: The incremental data (csv, parquet or jsonl; local, ``rime://`` or fsspec).
        timestamp_col: The column of ``eval_path`` holding each row's timestamp.
        bin_size_seconds: 3600 or 86400 (or ``"hour"`` / ``"day"``).
        resolver: Maps a ``rime://`` URI to a local path.
        log: One line of human log per call (default: ``print``).
        progress: Called with ``(bins done, total bins)`` once before the first bin and after
            each bin.
        thresholds: Overrides of the monitored metric thresholds, ``{metric: [low, medium,
            high]}`` (see :mod:`pytest_rime.engine.monitoring`); ``None``: the reference
            config's ``monitoring_info.thresholds``, else the defaults.
        enable_events: Raise events for bins whose metrics cross their thresholds.

    Returns:
        The bins in time order, each with its run result, summary and events.

    Raises:
        ConfigError: The config or a threshold override is invalid.
        ValueError: The bin size is neither an hour nor a day.
        DataError: A file cannot be read, ``eval_path`` has no column ``timestamp_col``, or no
            row of it has a parseable timestamp (the message names ``timestamp_col``).
        ModelError: The model cannot be loaded.
    """
    started = time.perf_counter()
    emit = log or _print
    cfg = validate_config(reference_config)
    limits = firewall_thresholds(cfg, thresholds)
    prepared = _prepare(cfg, eval_path, timestamp_col, bin_size_seconds, resolver, emit)
    return _run_bins(prepared, limits, enable_events, emit, progress, started)


def firewall_thresholds(
    config: TestRunConfig, overrides: Mapping[str, Any] | None = None
) -> dict[str, MetricThreshold]:
    """The monitored metric thresholds of a firewall run.

    ``overrides`` when given, else the config's ``monitoring_info.thresholds``, merged with the
    defaults of :mod:`pytest_rime.engine.monitoring`.

    Raises:
        ConfigError: An override is invalid; ``.key`` names it.
    """
    if overrides is not None:
        return resolve_thresholds(overrides)
    monitoring = config.monitoring_info or MonitoringInfo()
    return resolve_thresholds(monitoring.thresholds, key="monitoring_info.thresholds")


def monitoring_settings(config: TestRunConfig) -> tuple[str, int]:
    """``(timestamp_col, bin size in seconds)`` of a from-reference firewall config.

    The timestamp column is ``monitoring_info.timestamp_col``, else ``data_info.timestamp_col``;
    the bin size ``monitoring_info.bin_size``, else :data:`DEFAULT_BIN_SIZE`.

    Raises:
        ConfigError: The config names no timestamp column (``.key`` is
            ``monitoring_info.timestamp_col``) or an unsupported bin size.
    """
    monitoring = config.monitoring_info or MonitoringInfo()
    timestamp_col = monitoring.timestamp_col or config.data_info.timestamp_col
    if timestamp_col is None:
        raise ConfigError(
            "monitoring_info.timestamp_col",
            "a firewall run needs the timestamp column of the evaluation data",
        )
    try:
        size = parse_bin_size(monitoring.bin_size or DEFAULT_BIN_SIZE)
    except ValueError as exc:
        raise ConfigError("monitoring_info.bin_size", str(exc)) from None
    return timestamp_col, size


def run_firewall_from_reference(
    config: Mapping[str, Any] | TestRunConfig,
    *,
    resolver: Resolver | None = None,
    log: Log | None = None,
    progress: Progress | None = None,
    stress_test_progress: Progress | None = None,
    thresholds: Mapping[str, Any] | None = None,
    enable_events: bool = True,
) -> FirewallFromReferenceResult:
    """Run the stress test of ``config``, then the firewall on its evaluation data's bins.

    The bins use ``monitoring_info.timestamp_col`` (else ``data_info.timestamp_col``) and
    ``monitoring_info.bin_size`` (``"day"`` when absent). The evaluation file and its timestamp
    column are checked before the stress test starts.

    Args:
        config: A full test run config (raw dict or validated).
        resolver: Maps a ``rime://`` URI to a local path.
        log: One line of human log per call (default: ``print``).
        progress: ``(bins done, total bins)``, as in :func:`run_firewall`.
        stress_test_progress: ``(test batches done, total)`` of the stress test.
        thresholds: Monitored metric threshold overrides, as in :func:`run_firewall`
            (``None``: the config's ``monitoring_info.thresholds``, else the defaults).
        enable_events: Raise events for bins whose metrics cross their thresholds.

    Returns:
        The stress test's result and the firewall run.

    Raises:
        ConfigError: The config has no timestamp column or an unsupported bin size (``.key``
            names it), or is otherwise invalid.
        DataError: As :func:`run_firewall`.
        ModelError: The model cannot be loaded.
    """
    started = time.perf_counter()
    emit = log or _print
    cfg = validate_config(config)
    timestamp_col, size = monitoring_settings(cfg)
    limits = firewall_thresholds(cfg, thresholds)
    prepared = _prepare(cfg, cfg.data_info.eval_path, timestamp_col, size, resolver, emit)
    stress_test = run_stress_test(cfg, resolver=resolver, log=emit, progress=stress_test_progress)
    firewall = _run_bins(prepared, limits, enable_events, emit, progress, started)
    return FirewallFromReferenceResult(stress_test=stress_test, firewall=firewall)
