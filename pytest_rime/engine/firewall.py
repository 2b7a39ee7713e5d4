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

Each monitored metric of a bin gets evidence against reference chunks of the bin's size (see
:mod:`pytest_rime.engine.monitoring`); the reference pool of those chunks and the out-of-fold
abnormal-input flags of its rows are prepared once per run (:class:`_NullPool`).

The reference side (data, model, reference predictions, feature importance) is loaded and
computed once and shared by every bin. A bin's outcome depends only on the reference, the bin's
own rows and the run's header (every random draw is seeded by name and bin start), so a run of
some bins (``bin_starts``) gives exactly those bins of the full run: a firewall split by time
bin over several processes merges back into the single-process result
(:mod:`pytest_rime.engine.firewall_split`). The timestamp column is never a feature. Rows whose
timestamp cannot be parsed are counted in the result and the log, never silently dropped.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pytest_rime.engine.binning import Binning, TimeBin, split_into_bins
from pytest_rime.engine.binning import bin_size_seconds as parse_bin_size
from pytest_rime.engine.codec import JSONRecord
from pytest_rime.engine.config import MonitoringInfo, TestRunConfig
from pytest_rime.engine.context import RunContext
from pytest_rime.engine.data import Resolver, read_table
from pytest_rime.engine.drift_statistics import SAMPLES, get_statistic
from pytest_rime.engine.errors import ConfigError, DataError, ModelError
from pytest_rime.engine.evidence import P_VALUE, P_VALUE_ADJUSTED
from pytest_rime.engine.metrics import MetricInputs, task_metrics
from pytest_rime.engine.monitoring import (
    ABNORMALITY_RATE,
    FEATURE_DRIFT_PREFIX,
    FEATURE_DRIFT_TEST_ID,
    MODEL_PERF,
    NULL_POOL_ROWS,
    Evidence,
    FirewallEvent,
    IntArray,
    MetricThreshold,
    NullStatistic,
    NullTarget,
    adjust,
    bin_events,
    draw_chunks,
    measure_bin,
    null_p_values,
    resolve_thresholds,
    target_draws,
    with_replacement,
    worst_severity,
)
from pytest_rime.engine.performance import metric_inputs
from pytest_rime.engine.profile import FeatureProfile, numeric_values
from pytest_rime.engine.registry import TestSpec
from pytest_rime.engine.results import (
    JSONValue,
    RunResult,
    Severity,
    Status,
    count_statuses,
)
from pytest_rime.engine.run import (
    Log,
    Progress,
    context_metadata,
    enabled_tests,
    load_context,
    run_batches,
    run_result,
    run_stress_test,
    settings_for,
)
from pytest_rime.engine.validation import validate_config
from pytest_rime.vocabulary import DEFAULT_BIN_SIZE as DEFAULT_BIN_SIZE  # re-exported
from pytest_rime.vocabulary import FIREWALL_CATEGORIES as FIREWALL_CATEGORIES  # re-exported


def _print(line: str) -> None:
    print(line, flush=True)


def firewall_tests(config: TestRunConfig) -> tuple[TestSpec, ...]:
    """Enabled registered tests of the :data:`FIREWALL_CATEGORIES`, in registry order."""
    return tuple(spec for spec in enabled_tests(config) if spec.category in FIREWALL_CATEGORIES)


# --------------------------------------------------------------------------- result types
@dataclass(frozen=True)
class BinSummary(JSONRecord):
    """One bin at a glance: its time span, rows, monitored metrics and alert level.

    Attributes:
        bin_start_secs: Bin start, seconds since the epoch (UTC).
        bin_end_secs: Bin end (exclusive).
        label: ``YYYY-MM-DD`` (daily) or ``YYYY-MM-DD HH:MM`` (hourly).
        num_rows: Rows of the eval data in the bin.
        metrics: Monitored metric name -> value (``None`` when not computable); see
            :mod:`pytest_rime.engine.monitoring`.
        drifting_features: Features whose ``Feature Drift`` case is WARNING or FAIL and whose
            drift is significant against reference chunks of the bin's size.
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


@dataclass(frozen=True)
class FirewallBin(JSONRecord):
    """Everything one bin produced: summary, events (empty when disabled) and the test run."""

    summary: BinSummary
    events: tuple[FirewallEvent, ...]
    result: RunResult


@dataclass(frozen=True)
class FirewallRunResult(JSONRecord):
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


@dataclass(frozen=True)
class FirewallFromReferenceResult(JSONRecord):
    """The stress test of a config and the firewall run on its evaluation data's bins."""

    stress_test: RunResult
    firewall: FirewallRunResult


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


def check_timestamp_column(
    frame: pd.DataFrame, eval_path: str, timestamp_col: str, cause: Exception | None = None
) -> None:
    """Raise a :class:`DataError` naming ``timestamp_col`` when ``frame`` lacks it.

    Raises:
        DataError: ``frame`` (read from ``eval_path``) has no column ``timestamp_col``.
    """
    if timestamp_col not in frame.columns:
        raise DataError(
            f"timestamp_col: {eval_path} has no column {timestamp_col!r} "
            f"(columns: {', '.join(map(str, frame.columns))})"
        ) from cause


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
    try:
        base, metadata = load_context(cfg, resolver=resolver, log=log)
    except ModelError as exc:
        # The model is checked on the eval rows: a missing timestamp column is the real cause
        # when the reference's timestamp column then looks like a model feature.
        check_timestamp_column(read_table(eval_path, resolver), eval_path, timestamp_col, exc)
        raise
    check_timestamp_column(base.eval, eval_path, timestamp_col)
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
    metadata = {k: v for k, v in metadata.items() if not k.startswith("eval_")}
    metadata.update(context_metadata(base))
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
    return RunContext(
        prepared.config,
        base.ref,
        base.eval.iloc[rows].reset_index(drop=True),
        model=base.model,
        ref_predictions=prepared.ref_predictions,
        eval_predictions=eval_predictions[rows] if eval_predictions is not None else None,
        log=base.log,
        importance=lambda _bin: base.importance,
    )


def _metric_supports(ctx: RunContext) -> dict[str, int] | None:
    """Rows each model metric averages over in the bin; ``None`` without labels or predictions."""
    try:
        inputs = metric_inputs(ctx, "eval")
    except (KeyError, ValueError):  # no labels, or no predictions (ModelError)
        return None
    return {metric.name: int(metric.support(inputs)) for metric in task_metrics(ctx.model_task)}


# --------------------------------------------------------------- evidence of bin metrics
OUT_OF_FOLD_SPLITS = 5
"""Folds of the reference pool for the abnormal-input flags of its rows (see :class:`_NullPool`)."""


@dataclass(frozen=True)
class _NullPool:
    """The reference rows every bin's null spread is drawn from, prepared once per run.

    Attributes:
        rows: Positions in the reference frame (all rows, or a seeded sample of
            :data:`~pytest_rime.engine.monitoring.NULL_POOL_ROWS`).
        abnormal: Per pool row, whether an Abnormal Inputs test of the firewall flags it when
            it is tested against the reference without its fold (out of fold, so a row is not
            its own reference); ``None`` when the firewall runs no such test.
        codes: Per feature and statistic, what the chunks compare (filled by the first bin
            that needs it; the reference side of a profile is the same in every bin).
    """

    rows: IntArray
    abnormal: np.ndarray | None
    codes: dict[tuple[str, str], tuple[np.ndarray, int]] = field(default_factory=dict)


def _null_pool(prepared: _PreparedFirewall, specs: tuple[TestSpec, ...], log: Log) -> _NullPool:
    base = prepared.base
    rng = base.rng("firewall.null_pool")
    total = len(base.ref)
    rows = np.arange(total, dtype=np.int64)
    if total > NULL_POOL_ROWS:
        rows = np.sort(rng.choice(total, NULL_POOL_ROWS, replace=False)).astype(np.int64)
    abnormal_specs = [spec for spec in specs if spec.category == "Abnormal Inputs"]
    if not abnormal_specs or len(rows) < 2 * OUT_OF_FOLD_SPLITS:
        return _NullPool(rows, None)
    flags = np.zeros(len(rows), dtype=bool)
    folds = np.array_split(rng.permutation(len(rows)), OUT_OF_FOLD_SPLITS)
    predictions = prepared.ref_predictions
    for fold in folds:
        held_out = rows[fold]
        kept = np.setdiff1d(np.arange(total), held_out)
        ctx = RunContext(
            prepared.config,
            base.ref.iloc[kept].reset_index(drop=True),
            base.ref.iloc[held_out].reset_index(drop=True),
            model=base.model,
            ref_predictions=predictions[kept] if predictions is not None else None,
            eval_predictions=predictions[held_out] if predictions is not None else None,
            importance=lambda _fold: base.importance,
        )
        for spec in abnormal_specs:
            try:
                findings = spec.func(ctx, settings_for(prepared.config, spec))
            except MemoryError:
                raise
            except Exception as exc:  # the bins report the test's error themselves
                log(f"out-of-fold {spec.test_id} failed ({exc}); its flags are not in the null")
                continue
            for finding in findings:
                if finding.flagged_rows is not None:
                    flags[fold[finding.flagged_rows]] = True
    return _NullPool(rows, flags)


def _feature_codes(
    pool: _NullPool, ref: pd.DataFrame, profile: FeatureProfile, statistic: str
) -> tuple[np.ndarray, int] | None:
    """What a feature's drift statistic compares, for each pool row (cached in ``pool``).

    A statistic comparing samples: the pool's finite values sorted, and each row's position
    among them (-1: no value); one comparing counts: each row's category or reference-quantile
    bin (-1: no value) and their number, as in
    :attr:`pytest_rime.engine.drift_statistics.Comparison.counts`.
    """
    name = profile.info.name
    kind = get_statistic(statistic).compares
    key = (name, kind)
    if key in pool.codes:
        return pool.codes[key]
    column = ref[name].iloc[pool.rows]
    codes: np.ndarray
    if kind == SAMPLES:
        if profile.numeric is None:
            return None
        values = numeric_values(column)
        order = np.argsort(values, kind="stable")
        finite = np.isfinite(values[order])
        codes = np.full(len(values), -1, dtype=np.int64)
        codes[order[finite]] = np.arange(int(finite.sum()))
        found = (codes, int(finite.sum()))
        pool.codes[(name, "samples.sorted")] = (values[order][finite], 0)
    elif profile.ref_counts is not None:
        keys: Any = numeric_values(column) if profile.numeric is not None else column
        categories = pd.Index(profile.ref_counts.index)
        codes = np.asarray(categories.get_indexer(keys), dtype=np.int64)
        found = (codes, len(categories))
    elif profile.numeric is not None:
        values = numeric_values(column)
        edges = profile.numeric.edges
        codes = np.searchsorted(edges, values, side="left").astype(np.int64)
        codes[~np.isfinite(values)] = -1
        found = (codes, len(edges) + 1)
    else:
        return None
    pool.codes[key] = found
    return found


def _feature_null(
    pool: _NullPool, ref: pd.DataFrame, profile: FeatureProfile, statistic: str, size: int
) -> NullStatistic | None:
    """A feature's drift statistic between each reference chunk and the rest of the pool."""
    rows_statistic = get_statistic(statistic).rows
    if rows_statistic is None:
        return None
    codes = _feature_codes(pool, ref, profile, statistic)
    if codes is None:
        return None
    positions, width = codes
    rest = not with_replacement(len(pool.rows), size)
    if get_statistic(statistic).compares == SAMPLES:
        pool_sorted = pool.codes[(profile.info.name, "samples.sorted")][0]
        return lambda chunks: rows_statistic(pool_sorted, positions[chunks], rest=rest)
    has_value = np.flatnonzero(positions >= 0)
    pool_counts = np.bincount(positions[has_value], minlength=width)

    def statistic_of(chunks: IntArray) -> np.ndarray:
        draws, rows = chunks.shape
        if rows >= len(positions):
            # Chunks larger than the pool: how often each chunk drew each pool row (one
            # bincount over all chunks), then those multiplicities summed per code (a second
            # bincount weighted by them; whole numbers, exact in float64).
            pool_size = len(positions)
            drawn = np.bincount(
                (chunks + pool_size * np.arange(draws, dtype=np.int64)[:, None]).ravel(),
                minlength=draws * pool_size,
            ).reshape(draws, pool_size)[:, has_value]
            slots = positions[has_value] + width * np.arange(draws, dtype=np.int64)[:, None]
            summed = np.bincount(slots.ravel(), weights=drawn.ravel(), minlength=draws * width)
            counts = np.rint(summed).astype(np.int64).reshape(draws, width)
        else:
            # One bincount over every chunk's codes: chunk i's code c at i * (width + 1) + c, a
            # row without a value at i * (width + 1) + width (a column then dropped).
            slots = np.where(positions[chunks] >= 0, positions[chunks], width)
            slots += (width + 1) * np.arange(draws, dtype=np.int64)[:, None]
            every = np.bincount(slots.ravel(), minlength=draws * (width + 1))
            counts = np.ascontiguousarray(every.reshape(draws, width + 1)[:, :width])
        reference = pool_counts - counts if rest else np.broadcast_to(pool_counts, counts.shape)
        return rows_statistic(reference, counts)

    return statistic_of


def _model_null(inputs: MetricInputs, name: str) -> NullStatistic | None:
    """A model metric of the task on each chunk of the labelled reference rows."""
    metric = next((m for m in task_metrics(inputs.task) if m.name == name), None)
    if metric is None:
        return None

    def statistic_of(chunks: IntArray) -> np.ndarray:
        values = (metric.compute(inputs.subset(row)) for row in chunks)
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    return statistic_of


def _bin_evidence(
    prepared: _PreparedFirewall,
    pool: _NullPool,
    ctx: RunContext,
    result: RunResult,
    time_bin: TimeBin,
) -> dict[str, Evidence]:
    """Evidence of the bin's monitored metrics against reference chunks of the bin's size.

    The drift statistic of every feature the Feature Drift test compared, the abnormality rate
    and every model metric monitored in the bin get an empirical p-value
    (:func:`~pytest_rime.engine.monitoring.null_p_values`), adjusted together by
    Benjamini--Hochberg.
    """
    alpha = prepared.config.significance_level
    rng = ctx.rng(f"firewall.null:{time_bin.start_secs}")
    size = len(ctx.eval)
    by_rows: dict[str, NullTarget] = {}
    for case in result.test_cases:
        if case.test_id != FEATURE_DRIFT_TEST_ID or case.status not in _TESTED or not case.features:
            continue
        statistic = case.metrics.get("statistic")
        name = case.features[0]
        if not isinstance(statistic, int | float) or name not in ctx.features:
            continue
        null = _feature_null(
            pool, ctx.ref, ctx.profile(name), str(case.metrics.get("statistic_name")), size
        )
        if null is not None:
            by_rows[FEATURE_DRIFT_PREFIX + name] = NullTarget(float(statistic), null)
    abnormal = pool.abnormal
    if abnormal is not None and result.num_inputs:
        by_rows[ABNORMALITY_RATE] = NullTarget(
            result.num_failing_inputs / result.num_inputs,
            lambda chunks: abnormal[chunks].mean(axis=1),
        )
    by_labels, labelled = _model_targets(ctx, result)
    draws = target_draws(len(by_rows) + len(by_labels), alpha)
    p_values = null_p_values(
        by_rows,
        lambda n: draw_chunks(rng, len(pool.rows), size, n),
        significance_level=alpha,
        max_draws=draws,
    )
    if labelled is not None:
        reference, bin_rows = labelled
        p_values |= null_p_values(
            by_labels,
            lambda n: draw_chunks(rng, reference.size, bin_rows, n),
            significance_level=alpha,
            max_draws=draws,
        )
    return adjust(p_values)


_TESTED = (Status.PASS, Status.WARNING, Status.FAIL)


def _case_drift_evidence(
    result: RunResult, drift_tests: tuple[str, ...], known: Mapping[str, Evidence]
) -> dict[str, Evidence]:
    """Evidence of the columns a drift test without a null spread compared: its case's own.

    Feature Drift gets the spread of reference chunks (:func:`_bin_evidence`); the text and image
    drift tests have no row-wise twin to draw it from, so a column they compared gets the
    smallest adjusted p-value of its cases (already adjusted over the bin's cases).
    """
    found: dict[str, Evidence] = {}
    for case in result.test_cases:
        if case.test_id == FEATURE_DRIFT_TEST_ID or case.test_id not in drift_tests:
            continue
        if case.status not in _TESTED or not case.features:
            continue
        p_value, adjusted = case.metrics.get(P_VALUE), case.metrics.get(P_VALUE_ADJUSTED)
        if not isinstance(p_value, int | float) or not isinstance(adjusted, int | float):
            continue
        key = FEATURE_DRIFT_PREFIX + case.features[0]
        if key in known:
            continue
        evidence = Evidence(float(p_value), float(adjusted), 0)
        if key not in found or evidence.p_value_adjusted < found[key].p_value_adjusted:
            found[key] = evidence
    return found


def _model_targets(
    ctx: RunContext, result: RunResult
) -> tuple[dict[str, NullTarget], tuple[MetricInputs, int] | None]:
    """Null targets of the bin's model metrics, their pool of rows and the bin's row count.

    The pool is the labelled reference rows plus the bin's own (a permutation test of the bin
    against the reference): chunks of reference rows alone could never hold a row as bad as
    the worst of the bin, so one confidently wrong prediction (log loss) would look like
    evidence whenever the reference is small.
    """
    try:
        reference, current = metric_inputs(ctx, "ref"), metric_inputs(ctx, "eval")
    except (KeyError, ValueError):  # no labels, or no predictions (ModelError)
        return {}, None
    if reference.size > NULL_POOL_ROWS:
        sample = ctx.rng("firewall.null_metrics").choice(reference.size, NULL_POOL_ROWS, False)
        reference = reference.subset(np.sort(sample))
    pooled = _concatenate(reference, current)
    targets = {}
    for perf in result.model_perf:
        metric = next((m for m in task_metrics(ctx.model_task) if m.name == perf.name), None)
        null = _model_null(pooled, perf.name)
        if metric is None or null is None or perf.eval_metric is None:
            continue
        targets[f"{MODEL_PERF}.{perf.name}"] = NullTarget(
            float(perf.eval_metric), null, higher_is_worse=not metric.higher_is_better
        )
    return targets, (pooled, current.size)


def _concatenate(first: MetricInputs, second: MetricInputs) -> MetricInputs:
    """The rows of ``first`` then those of ``second`` (same task and class encoding)."""
    scores = (
        None
        if first.scores is None or second.scores is None
        else np.concatenate([first.scores, second.scores])
    )
    return MetricInputs(
        first.task,
        np.concatenate([first.y_true, second.y_true]),
        np.concatenate([first.y_pred, second.y_pred]),
        scores,
        np.concatenate([first.rows, second.rows]),
    )


def _run_bin(
    prepared: _PreparedFirewall,
    time_bin: TimeBin,
    specs: tuple[TestSpec, ...],
    thresholds: Mapping[str, MetricThreshold],
    enable_events: bool,
    log: Log,
    pool: _NullPool,
) -> FirewallBin:
    started = time.perf_counter()
    cfg = prepared.config
    ctx = _bin_context(prepared, time_bin.rows)
    batches, num_failing_inputs = run_batches(ctx, specs, cfg, log)
    result = run_result(
        ctx,
        cfg,
        run_name=f"{cfg.run_name} {time_bin.label}",
        batches=batches,
        num_failing_inputs=num_failing_inputs,
        started=started,
        log=log,
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
    drift_tests = tuple(spec.test_id for spec in specs if spec.column_drift)
    evidence = _bin_evidence(prepared, pool, ctx, result, time_bin)
    evidence |= _case_drift_evidence(result, drift_tests, evidence)
    metrics = measure_bin(
        result, _metric_supports(ctx), evidence, cfg.significance_level, drift_tests
    )
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


def bin_log_line(done: int, total: int, summary: BinSummary) -> str:
    """The log line of a finished bin: ``[done/total] bin <label>: rows, failing cases, level``."""
    return (
        f"[{done}/{total}] bin {summary.label}: {summary.num_rows} rows, "
        f"{summary.summary_counts['fail']} failing cases, alert level {summary.severity}"
    )


def _run_bins(
    prepared: _PreparedFirewall,
    thresholds: Mapping[str, MetricThreshold],
    enable_events: bool,
    log: Log,
    progress: Progress | None,
    started: float,
    bin_starts: Collection[int] | None = None,
) -> FirewallRunResult:
    specs = firewall_tests(prepared.config)
    selected = [
        time_bin
        for time_bin in prepared.binning.bins
        if bin_starts is None or time_bin.start_secs in bin_starts
    ]
    total = len(selected)
    if progress is not None:
        progress(0, total)
    pool = _null_pool(prepared, specs, log)
    bins = []
    for done, time_bin in enumerate(selected, start=1):
        outcome = _run_bin(prepared, time_bin, specs, thresholds, enable_events, log, pool)
        bins.append(outcome)
        log(bin_log_line(done, total, outcome.summary))
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
    bin_starts: Collection[int] | None = None,
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
        bin_starts: Run only the bins starting at these epoch seconds (``None``: every bin);
            each is exactly that bin of the full run, and ``progress`` counts only these.
            :func:`pytest_rime.engine.firewall_split.merge_firewall_results` joins the runs of
            disjoint sets into the full run's result.

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
    return _run_bins(prepared, limits, enable_events, emit, progress, started, bin_starts)


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
