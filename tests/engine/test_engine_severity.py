"""Status and severity rules: thresholds, then the cap by model impact."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_rime.engine.catalog import get_test
from pytest_rime.engine.registry import Finding
from pytest_rime.engine.results import Severity, Status
from pytest_rime.engine.severity import impact_cap, level_of, severity_of, status_of, to_case

T = (0.1, 0.2, 0.3)


@pytest.mark.parametrize(
    ("value", "status", "level"),
    [
        (0.0, Status.PASS, Severity.NONE),
        (0.1, Status.WARNING, Severity.LOW),
        (0.19, Status.WARNING, Severity.LOW),
        (0.2, Status.FAIL, Severity.MEDIUM),
        (0.3, Status.FAIL, Severity.HIGH),
        (9.0, Status.FAIL, Severity.HIGH),
        (math.inf, Status.FAIL, Severity.HIGH),
        (math.nan, Status.SKIP, Severity.NONE),
        (None, Status.SKIP, Severity.NONE),
    ],
)
def test_status_and_level_from_thresholds(
    value: float | None, status: Status, level: Severity
) -> None:
    assert status_of(value, T) is status
    assert level_of(value, T) is level


@pytest.mark.parametrize(
    ("impact", "cap"),
    [
        (None, Severity.HIGH),
        (0.0, Severity.LOW),
        (0.09, Severity.LOW),
        (0.1, Severity.MEDIUM),
        (0.29, Severity.MEDIUM),
        (0.3, Severity.HIGH),
        (1.0, Severity.HIGH),
    ],
)
def test_impact_caps_severity(impact: float | None, cap: Severity) -> None:
    assert impact_cap(impact) is cap
    assert severity_of(0.5, T, impact) is cap
    assert severity_of(0.0, T, impact) is Severity.NONE  # the cap never raises a level


def test_equal_thresholds_make_a_binary_test() -> None:
    assert status_of(1.0, (1.0, 1.0, 1.0)) is Status.FAIL
    assert level_of(1.0, (1.0, 1.0, 1.0)) is Severity.HIGH
    assert status_of(0.0, (1.0, 1.0, 1.0)) is Status.PASS


def test_to_case_records_statistic_thresholds_and_rows() -> None:
    spec = get_test("drift.feature_drift")
    finding = Finding(
        features=("age",),
        statistic=0.25,
        description="PSI of age is 0.25.",
        metrics={"psi": 0.25},
        impact=0.05,
        flagged_rows=np.array([1, 2, 3]),
    )
    case = to_case(spec, finding, T)
    assert case.status is Status.FAIL
    assert case.severity is Severity.LOW
    assert case.importance_score == 0.05
    assert case.metrics["threshold"] == 0.2 and case.metrics["thresholds"] == [0.1, 0.2, 0.3]
    assert case.metrics["num_failing_rows"] == 3
    assert "medium threshold 0.2" in case.description and "lowered" in case.description
    assert case.test_batch_type == "Feature Drift" and case.category == "Drift"


def test_skip_finding_becomes_a_skip_case() -> None:
    case = to_case(get_test("drift.feature_drift"), Finding.skip(("a",), "No values."), T)
    assert case.status is Status.SKIP and case.severity is Severity.NONE
    assert case.description == "No values." and case.importance_score == 0.0
