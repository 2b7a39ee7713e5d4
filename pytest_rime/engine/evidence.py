"""Evidence: MEDIUM and HIGH need significance after multiple-testing control across a run.

A test that compares samples (drift, metrics of eval against ref, a subset against the whole,
a perturbation against the unperturbed rows) reports a p-value in its finding; :func:`to_case`
stores it as ``metrics["p_value"]``. Once every test of a run (or of a firewall bin) has run,
:func:`apply_evidence` adjusts all those p-values together with the Benjamini--Hochberg
procedure (false discovery rate), stores ``p_value_adjusted`` beside each, and lowers a
MEDIUM or HIGH case whose adjusted p-value is not below the run's ``significance_level`` to
LOW: its effect crossed a threshold, but sampling noise explains it. Effect thresholds and the
model-impact cap stay as they are; evidence is the missing half, not a replacement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pytest_rime.engine.results import Severity, Status, TestBatchResult, TestCaseResult

P_VALUE = "p_value"
"""Metric key of a case's raw p-value."""

P_VALUE_ADJUSTED = "p_value_adjusted"
"""Metric key of a case's p-value after the Benjamini--Hochberg adjustment over the run."""


def benjamini_hochberg(p_values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Benjamini--Hochberg adjusted p-values (``statsmodels``' ``fdr_bh``), in input order.

    A case is significant at false discovery rate ``q`` when its adjusted value is below ``q``.
    NaN p-values stay NaN and do not count towards the number of tests.
    """
    values = np.asarray(p_values, dtype=float)
    adjusted = np.full(values.shape, np.nan)
    finite = np.flatnonzero(~np.isnan(values))
    if finite.size == 0:
        return adjusted
    clipped = np.clip(values[finite], 0.0, 1.0)
    order = np.argsort(clipped)
    ranked = clipped[order] * finite.size / np.arange(1, finite.size + 1)
    monotone = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted[finite[order]] = np.minimum(monotone, 1.0)
    return adjusted


def format_p_value(value: float) -> str:
    """A p-value for a sentence: two significant digits, scientific below 1e-4."""
    return f"{value:.2g}" if value >= 1e-4 else f"{value:.1e}"


def _with_evidence(case: TestCaseResult, adjusted: float, alpha: float, n: int) -> TestCaseResult:
    raw = float(case.metrics[P_VALUE])
    metrics = {**case.metrics, P_VALUE_ADJUSTED: adjusted, "significance_level": alpha}
    evidence = (
        f"p = {format_p_value(raw)}, adjusted p = {format_p_value(adjusted)} "
        f"(Benjamini-Hochberg over {n} cases)"
    )
    severity = case.severity
    if adjusted < alpha:
        sentence = f"Evidence: {evidence}, significant at {alpha:g}."
    elif severity.rank > Severity.LOW.rank:
        severity = Severity.LOW
        sentence = (
            f"Evidence: {evidence}, not significant at {alpha:g}: within sampling noise, "
            "so at most LOW."
        )
    else:
        sentence = f"Evidence: {evidence}, not significant at {alpha:g}."
    return dataclasses.replace(
        case, metrics=metrics, severity=severity, description=f"{case.description} {sentence}"
    )


def apply_evidence(
    batches: Sequence[TestBatchResult], significance_level: float
) -> tuple[TestBatchResult, ...]:
    """``batches`` with every p-value adjusted over all their cases and severities set by it.

    Args:
        batches: The batches of one run (or one firewall bin).
        significance_level: The false discovery rate a MEDIUM or HIGH case must be under.

    Returns:
        New batches; cases without a p-value (and SKIP / ERROR cases) are unchanged.
    """
    tested = [
        (b, c)
        for b, batch in enumerate(batches)
        for c, case in enumerate(batch.cases)
        if case.metrics.get(P_VALUE) is not None and case.status not in (Status.SKIP, Status.ERROR)
    ]
    if not tested:
        return tuple(batches)
    raw = [float(batches[b].cases[c].metrics[P_VALUE]) for b, c in tested]
    adjusted = benjamini_hochberg(raw)
    cases = [list(batch.cases) for batch in batches]
    for (b, c), value in zip(tested, adjusted, strict=True):
        cases[b][c] = _with_evidence(cases[b][c], float(value), significance_level, len(tested))
    return tuple(
        dataclasses.replace(batch, cases=tuple(batch_cases))
        for batch, batch_cases in zip(batches, cases, strict=True)
    )
