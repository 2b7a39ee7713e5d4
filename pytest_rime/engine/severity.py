"""Status and severity of a test case, set from its statistic, thresholds and model impact.

Every test reports one ``statistic`` where larger is worse, compared with ascending thresholds
``(low, medium, high)``:

- **status**: ``statistic < low`` -> PASS; ``low <= statistic < medium`` -> WARNING;
  ``statistic >= medium`` -> FAIL. A missing or NaN statistic -> SKIP.
- **level** (severity before the model impact): below low -> NONE, ``>= low`` -> LOW,
  ``>= medium`` -> MEDIUM, ``>= high`` -> HIGH.
- **severity** = the level, capped by the model impact (``Finding.impact`` in 0..1; the
  feature importance for drift-like tests, the measured change of the model on the flagged rows
  for abnormal-input tests): impact below :data:`IMPACT_LOW` caps at LOW, below
  :data:`IMPACT_MEDIUM` caps at MEDIUM, otherwise the level stands. A case whose impact is
  ``None`` (not about the model, e.g. duplicate rows) keeps its level. So a drift on a feature
  the model ignores is at most LOW, and the same drift on the most important feature (impact
  1.0) keeps its level.
- a finding's own ``severity_cap`` then applies (what-if tests whose weakness the evaluation
  data does not show are at most MEDIUM).
- **importance_score** = the impact (0.0 when the case is not about the model).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pytest_rime.engine.registry import Finding, TestSpec, Thresholds
from pytest_rime.engine.results import JSONValue, Severity, Status, TestCaseResult

IMPACT_LOW = 0.1
"""Model impact below this caps the severity at LOW."""

IMPACT_MEDIUM = 0.3
"""Model impact below this (and at least :data:`IMPACT_LOW`) caps the severity at MEDIUM."""

_LEVELS = (Severity.LOW, Severity.MEDIUM, Severity.HIGH)


def status_of(statistic: float | None, thresholds: Thresholds) -> Status:
    """PASS below low, WARNING from low, FAIL from medium; SKIP when not computable."""
    if statistic is None or math.isnan(statistic):
        return Status.SKIP
    if statistic >= thresholds[1]:
        return Status.FAIL
    if statistic >= thresholds[0]:
        return Status.WARNING
    return Status.PASS


def level_of(statistic: float | None, thresholds: Thresholds) -> Severity:
    """Severity from the statistic alone: the highest threshold reached (NONE below low)."""
    if statistic is None or math.isnan(statistic):
        return Severity.NONE
    reached = [
        level for level, bound in zip(_LEVELS, thresholds, strict=True) if statistic >= bound
    ]
    return reached[-1] if reached else Severity.NONE


def impact_cap(impact: float | None) -> Severity:
    """The highest severity a case with model ``impact`` may have."""
    if impact is None or impact >= IMPACT_MEDIUM:
        return Severity.HIGH
    return Severity.MEDIUM if impact >= IMPACT_LOW else Severity.LOW


def severity_of(statistic: float | None, thresholds: Thresholds, impact: float | None) -> Severity:
    """The level from the thresholds, capped by the model impact."""
    level = level_of(statistic, thresholds)
    cap = impact_cap(impact)
    return level if level.rank <= cap.rank else cap


def verdict(statistic: float, thresholds: Thresholds) -> str:
    """A sentence placing ``statistic`` against the thresholds."""
    for name, bound in reversed(tuple(zip(("low", "medium", "high"), thresholds, strict=True))):
        if statistic >= bound:
            return f"{statistic:.4g} is at or above the {name} threshold {bound:.4g}."
    return f"{statistic:.4g} is below the low threshold {thresholds[0]:.4g}."


def _threshold_used(statistic: float, thresholds: Thresholds) -> float:
    crossed = [bound for bound in thresholds if statistic >= bound]
    return crossed[-1] if crossed else thresholds[0]


def to_case(spec: TestSpec, finding: Finding, thresholds: Thresholds) -> TestCaseResult:
    """Turn a test's :class:`Finding` into a :class:`TestCaseResult`."""
    impact = None if finding.impact is None else min(1.0, max(0.0, float(finding.impact)))
    status = status_of(finding.statistic, thresholds)
    metrics: dict[str, JSONValue] = dict(finding.metrics)
    description = finding.description
    if status is Status.SKIP:
        severity = Severity.NONE
        if finding.skip_reason is None:
            description = f"{description} The statistic could not be computed."
    else:
        assert finding.statistic is not None  # SKIP otherwise
        statistic = float(finding.statistic)
        severity = severity_of(statistic, thresholds, impact)
        metrics.update(
            statistic=statistic,
            threshold=_threshold_used(statistic, thresholds),
            thresholds=list(thresholds),
        )
        description = f"{description} {verdict(statistic, thresholds)}"
        if impact is not None and severity.rank < level_of(statistic, thresholds).rank:
            description += f" Severity lowered by the model impact {impact:.2f}."
        cap = finding.severity_cap
        if cap is not None and severity.rank > cap.rank:
            severity = cap
            description += f" {finding.cap_reason}".rstrip()
    if finding.p_value is not None and status is not Status.SKIP:
        metrics["p_value"] = float(finding.p_value)
    if finding.flagged_rows is not None:
        metrics["num_failing_rows"] = int(finding.flagged_rows.size)
    return TestCaseResult(
        test_id=spec.test_id,
        test_batch_type=spec.name,
        category=spec.category,
        features=finding.features,
        status=status,
        severity=severity,
        importance_score=impact if impact is not None and math.isfinite(impact) else 0.0,
        metrics=metrics,
        description=description,
    )


def skip_cases(
    spec: TestSpec, reason: str, features: Sequence[str] = ()
) -> tuple[TestCaseResult, ...]:
    """One SKIP case of ``spec`` with ``reason``."""
    return (to_case(spec, Finding.skip(features, reason), spec.thresholds),)


ENGINE_ERROR = "Engine error: the test raised "
"""Start of the description of an ERROR case (the test's own code raised)."""


def error_cases(spec: TestSpec, error: str) -> tuple[TestCaseResult, ...]:
    """One ERROR case of ``spec``: its own code raised ``error`` (``"Type: message"``)."""
    return (
        TestCaseResult(
            test_id=spec.test_id,
            test_batch_type=spec.name,
            category=spec.category,
            features=(),
            status=Status.ERROR,
            severity=Severity.NONE,
            importance_score=0.0,
            metrics={"error": error},
            description=f"{ENGINE_ERROR}{error}. The traceback is in the job log.",
        ),
    )
