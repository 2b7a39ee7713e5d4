"""Run a stress test: load data and model, run every enabled registered test, collect results.

The data and the model are loaded by the run's data type (:mod:`pytest_rime.engine.datatypes`),
and the tests are those of the catalog serving that data type.
:func:`run_stress_test` is the engine's entry point (docs/internals.md, "Engine API"). A test
that raises does not stop the run: it gives one ERROR case (an engine error, which fails the
gate) with the error in the description, and the traceback goes to the log -- except a
:class:`MemoryError`, which ends the run (the server's worker reports the job as out of
memory).

:func:`run_batches` is the loop over the tests shared by stress tests and firewall bins.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from pytest_rime.engine.catalog import all_tests, data_type
from pytest_rime.engine.config import TestRunConfig
from pytest_rime.engine.context import RunContext, check_data
from pytest_rime.engine.data import Resolver, display_name
from pytest_rime.engine.errors import DataError
from pytest_rime.engine.evidence import apply_evidence
from pytest_rime.engine.importance import compute_importance
from pytest_rime.engine.model import ModelAdapter, error_text
from pytest_rime.engine.performance import model_perf as context_model_perf
from pytest_rime.engine.registry import TestSettings, TestSpec
from pytest_rime.engine.results import (
    JSONValue,
    ModelPerf,
    RunResult,
    Status,
    TestBatchResult,
    TestCaseResult,
)
from pytest_rime.engine.severity import error_cases, skip_cases, to_case
from pytest_rime.engine.validation import validate_config

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
    """Registered tests of the config's data type not disabled in ``tests_config``."""
    return tuple(
        spec for spec in all_tests(config.data_type) if config.override(spec.test_id).enabled
    )


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
    kind = data_type(config.data_type)
    data = kind.load_data(config, resolver, log)
    ref, cur, ref_preds, eval_preds = (
        data.ref,
        data.eval,
        data.ref_predictions,
        data.eval_predictions,
    )
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
        model = kind.load_model(config, resolver)
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
        importance=compute_importance,
    )
    ctx.check_labels()
    ctx.check_predictions()
    return ctx, dict(data.metadata)


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
    """Model metrics of ``ctx``; ``()`` on failure.

    See :func:`pytest_rime.engine.performance.model_perf`.

    A failure other than :class:`MemoryError` is logged with its traceback.
    """
    try:
        return tuple(context_model_perf(ctx))
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
    metadata.update(
        context_metadata(ctx),
        features_not_in_model=list(cfg.data_info.features_not_in_model),
        predict_calls=ctx.model.n_calls if ctx.model is not None else 0,
    )
    return run_result(
        ctx,
        cfg,
        run_name=cfg.run_name,
        batches=batches,
        num_failing_inputs=num_failing_inputs,
        started=started,
        metadata=metadata,
        log=emit,
    )


def context_metadata(ctx: RunContext) -> dict[str, JSONValue]:
    """What the results' metadata says of a run's context (task, features, importance)."""
    importance = ctx.importance
    return {
        "model_task_inferred": ctx.model_task_inferred,
        "feature_types": {name: f.type for name, f in ctx.features.items()},
        "importance_method": importance.method,
        "feature_importance": dict(importance.scores),
        "model_source": ctx.model.source if ctx.model is not None else None,
    }


def run_result(
    ctx: RunContext,
    config: TestRunConfig,
    *,
    run_name: str,
    batches: tuple[TestBatchResult, ...],
    num_failing_inputs: int,
    started: float,
    metadata: Mapping[str, JSONValue],
    log: Log,
) -> RunResult:
    """The :class:`RunResult` of ``batches`` run on ``ctx``, with the model metrics of ``ctx``.

    ``started`` is the run's start by ``time.perf_counter()``.
    """
    return RunResult(
        run_name=run_name,
        model_task=ctx.model_task,
        data_type=config.data_type,
        num_inputs=len(ctx.eval),
        num_failing_inputs=num_failing_inputs,
        duration_millis=int((time.perf_counter() - started) * 1000),
        batches=batches,
        model_perf=model_perf(ctx, log),
        metadata=dict(metadata),
    )
