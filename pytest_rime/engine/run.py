"""Run a stress test: load data and model, run every enabled registered test, collect results.

:func:`run_stress_test` is the engine's entry point (docs/internals.md, "Engine API"). A test
that raises does not stop the run: it gives one ERROR case (an engine error, which fails the
gate) with the error in the description, and the traceback goes to the log -- except a
:class:`MemoryError`, which ends the run (the server's worker reports the job as out of
memory).

:func:`run_batches` is the loop over the tests shared by stress tests and firewall bins.
"""

from __future__ import annotations

import importlib
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from pytest_rime.engine.config import TestRunConfig, validate_config
from pytest_rime.engine.context import RunContext, check_data
from pytest_rime.engine.data import (
    DataError,
    Resolver,
    display_name,
    read_predictions,
    read_table,
    sample_positions,
)
from pytest_rime.engine.evidence import apply_evidence
from pytest_rime.engine.model import ModelAdapter, error_text, load_model
from pytest_rime.engine.registry import TestSettings, TestSpec, all_tests
from pytest_rime.engine.results import (
    JSONValue,
    ModelPerf,
    RunResult,
    Status,
    TestBatchResult,
    TestCaseResult,
)
from pytest_rime.engine.severity import error_cases, skip_cases, to_case

Log = Callable[[str], None]
Progress = Callable[[int, int], None]

ABNORMAL_INPUTS = "Abnormal Inputs"


def _print(line: str) -> None:
    print(line, flush=True)


def settings_for(config: TestRunConfig, spec: TestSpec) -> TestSettings:
    """Effective thresholds and parameters of ``spec`` under ``config``."""
    override = config.override(spec.test_id)
    return TestSettings(
        thresholds=override.thresholds or spec.thresholds,
        params=MappingProxyType({**spec.params, **override.params}),
        seed=config.random_seed,
    )


def enabled_tests(config: TestRunConfig) -> tuple[TestSpec, ...]:
    """Registered tests not disabled in ``tests_config``, in registry order."""
    return tuple(spec for spec in all_tests() if config.override(spec.test_id).enabled)


def _load_frame(
    path: str,
    name: str,
    resolver: Resolver | None,
    nrows: int | None,
    seed: int,
    pred_path: str | None,
    pred_col: str | None,
) -> tuple[pd.DataFrame, np.ndarray | None, int]:
    frame = read_table(path, resolver)
    frame.columns = [str(column) for column in frame.columns]
    predictions = None
    if pred_path is not None:
        predictions = read_predictions(pred_path, resolver, pred_col)
        if len(predictions) != len(frame):
            raise DataError(
                f"data_info.{name}_pred_path: {display_name(pred_path)} has "
                f"{len(predictions)} predictions for the {len(frame)} rows of {display_name(path)}"
            )
    elif pred_col is not None and pred_col in frame.columns:
        predictions = frame[pred_col].to_numpy()
    total = len(frame)
    positions = sample_positions(total, nrows, seed)
    if positions is not None:
        frame = frame.iloc[positions]
        predictions = predictions[positions] if predictions is not None else None
    return frame, predictions, total


def load_context(
    config: TestRunConfig, *, resolver: Resolver | None = None, log: Log = _print
) -> tuple[RunContext, dict[str, JSONValue]]:
    """Read the data, predictions and model of ``config`` into a checked :class:`RunContext`.

    Untestable inputs are rejected here, before any test runs (an error, never a green run):
    data without rows, a label column that is all missing or does not fit the model task, a
    listed feature that is not in the data (:func:`~pytest_rime.engine.context.check_data`,
    :meth:`RunContext.check_labels`), and predictions the model cannot make or that are not one
    finite prediction per row (:meth:`RunContext.check_predictions`: the model is called once
    on ref and on eval here, and the tests reuse those predictions).

    Returns:
        The context and the data part of the results metadata (row counts, sampling, seed).

    Raises:
        DataError: A file cannot be read, lacks the label or prediction column, or is
            degenerate.
        ModelError: The model cannot be loaded, raises on the data, or returns something that
            is not one finite prediction per row of the form the model task implies.
    """
    info = config.data_info
    seed = config.random_seed
    ref, ref_preds, ref_total = _load_frame(
        info.ref_path, "ref", resolver, info.nrows, seed, info.ref_pred_path, info.pred_col
    )
    log(f"read {ref_total} reference rows from {display_name(info.ref_path)}")
    cur, eval_preds, eval_total = _load_frame(
        info.eval_path, "eval", resolver, info.nrows, seed + 1, info.eval_pred_path, info.pred_col
    )
    log(f"read {eval_total} evaluation rows from {display_name(info.eval_path)}")
    if info.label_col is not None and info.label_col not in ref.columns:
        raise DataError(
            f"data_info.label_col: {display_name(info.ref_path)} has no column {info.label_col!r}"
        )
    if info.pred_col is not None and ref_preds is None and eval_preds is None:
        raise DataError(
            f"data_info.pred_col: neither {display_name(info.ref_path)} nor "
            f"{display_name(info.eval_path)} has a column {info.pred_col!r} (and no "
            "ref_pred_path / eval_pred_path is given)"
        )
    check_data(config, ref, cur)
    model: ModelAdapter | None = None
    if config.model_info is not None:
        model = load_model(config.model_info.path, resolver)
        log(f"loaded model {model.name}")
    elif ref_preds is None and eval_preds is None:
        log("no model and no predictions: model-dependent tests are skipped")
    ctx = RunContext(
        config,
        ref,
        cur,
        model=model,
        ref_predictions=ref_preds,
        eval_predictions=eval_preds,
        log=log,
    )
    ctx.check_labels()
    ctx.check_predictions()
    metadata: dict[str, JSONValue] = {
        "random_seed": seed,
        "nrows": info.nrows,
        "ref_rows_total": ref_total,
        "eval_rows_total": eval_total,
        "ref_rows": len(ref),
        "eval_rows": len(cur),
        "sampled": len(ref) < ref_total or len(cur) < eval_total,
    }
    return ctx, metadata


def _missing_requirement(ctx: RunContext, spec: TestSpec) -> str | None:
    if spec.needs_model and not ctx.has_model:
        return "Skipped: this test calls the model on new inputs and the run has no model."
    if spec.needs_predictions and not ctx.has_predictions:
        return (
            "Skipped: this test needs predictions and the run has neither a model nor predictions."
        )
    if spec.needs_labels and not ctx.has_labels:
        return f"Skipped: this test needs the label column {ctx.label_col!r} in ref and eval."
    return None


def run_test(
    ctx: RunContext, spec: TestSpec, settings: TestSettings, log: Log
) -> tuple[tuple[TestCaseResult, ...], np.ndarray]:
    """Run one test.

    Returns:
        Its cases, and the eval row positions flagged by its WARNING and FAIL cases.

    Raises:
        MemoryError: The test (or the model it called) ran out of memory: not a SKIP.
    """
    reason = _missing_requirement(ctx, spec)
    if reason is not None:
        return skip_cases(spec, reason), np.empty(0, dtype=np.int64)
    try:
        findings = list(spec.func(ctx, settings))
    except MemoryError:
        raise
    except Exception as exc:
        log(f"test {spec.test_id} raised:\n{traceback.format_exc()}")
        return error_cases(spec, error_text(exc)), np.empty(0, np.int64)
    cases = tuple(to_case(spec, finding, settings.thresholds) for finding in findings)
    failing = (Status.WARNING, Status.FAIL)
    flagged = [
        finding.flagged_rows
        for finding, case in zip(findings, cases, strict=True)
        if finding.flagged_rows is not None and case.status in failing
    ]
    rows = np.concatenate(flagged) if flagged else np.empty(0, dtype=np.int64)
    return cases, rows


def model_perf(ctx: RunContext, log: Log) -> tuple[ModelPerf, ...]:
    """Model metrics of ``ctx`` (``pytest_rime.engine.metrics.model_perf``); ``()`` on failure.

    A failure other than :class:`MemoryError` is logged with its traceback.
    """
    try:
        metrics = importlib.import_module("pytest_rime.engine.metrics")
    except ModuleNotFoundError as exc:
        if exc.name == "pytest_rime.engine.metrics":
            return ()
        raise
    compute: Callable[[RunContext], Sequence[ModelPerf]] | None = getattr(
        metrics, "model_perf", None
    )
    if compute is None:
        return ()
    try:
        return tuple(compute(ctx))
    except MemoryError:
        raise
    except Exception:
        log(f"model metrics failed:\n{traceback.format_exc()}")
        return ()


def run_batches(
    ctx: RunContext,
    specs: Sequence[TestSpec],
    config: TestRunConfig,
    log: Log,
    progress: Progress | None = None,
) -> tuple[tuple[TestBatchResult, ...], int]:
    """Run ``specs`` on ``ctx`` in order, one test batch each.

    Args:
        ctx: The data, model and predictions to test.
        specs: The tests to run.
        config: Supplies each test's thresholds and parameters (``tests_config``).
        log: One line per finished batch (and the tracebacks of tests that raised).
        progress: Called with ``(batches done, len(specs))`` after each batch.

    Returns:
        The batches, and the number of eval rows flagged by a WARNING or FAIL case of an
        Abnormal Inputs test (the run's failing inputs).

    Raises:
        MemoryError: A test ran out of memory.
    """
    batches: list[TestBatchResult] = []
    failing = np.zeros(len(ctx.eval), dtype=bool)
    for done, spec in enumerate(specs, start=1):
        batch_started = time.perf_counter()
        cases, rows = run_test(ctx, spec, settings_for(config, spec), log)
        if spec.category == ABNORMAL_INPUTS:
            failing[rows] = True
        batches.append(
            TestBatchResult(
                test_id=spec.test_id,
                test_batch_type=spec.name,
                category=spec.category,
                description=spec.description,
                duration_millis=int((time.perf_counter() - batch_started) * 1000),
                cases=cases,
            )
        )
        log(f"[{done}/{len(specs)}] {spec.name}: {len(cases)} cases")
        if progress is not None:
            progress(done, len(specs))
    return apply_evidence(batches, config.significance_level), int(failing.sum())


def run_stress_test(
    config: Mapping[str, Any] | TestRunConfig,
    *,
    resolver: Resolver | None = None,
    log: Log | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run every enabled test of the registry on the config's data and model.

    Args:
        config: The raw config dict or a validated :class:`TestRunConfig`.
        resolver: Maps a ``rime://`` URI to a local path; other paths are read directly.
        log: One line of human log per call (default: ``print``).
        progress: Called with ``(test batches done, total)`` after each batch.

    Returns:
        Batches in registry order, summary, model metrics, input counts, duration, metadata.

    Raises:
        ConfigError: The config is invalid.
        DataError: The data cannot be read.
        ModelError: The model cannot be loaded.
        MemoryError: The run ran out of memory.
    """
    started = time.perf_counter()
    emit = log or _print
    cfg = validate_config(config)
    ctx, metadata = load_context(cfg, resolver=resolver, log=emit)
    batches, num_failing_inputs = run_batches(ctx, enabled_tests(cfg), cfg, emit, progress)
    perf = model_perf(ctx, emit)
    importance = ctx.importance
    metadata.update(
        model_task_inferred=ctx.model_task_inferred,
        feature_types={name: f.type for name, f in ctx.features.items()},
        features_not_in_model=list(cfg.data_info.features_not_in_model),
        importance_method=importance.method,
        feature_importance=dict(importance.scores),
        model_source=ctx.model.source if ctx.model is not None else None,
        predict_calls=ctx.model.n_calls if ctx.model is not None else 0,
    )
    return RunResult(
        run_name=cfg.run_name,
        model_task=ctx.model_task,
        data_type=cfg.data_type,
        num_inputs=len(ctx.eval),
        num_failing_inputs=num_failing_inputs,
        duration_millis=int((time.perf_counter() - started) * 1000),
        batches=batches,
        model_perf=perf,
        metadata=metadata,
    )
