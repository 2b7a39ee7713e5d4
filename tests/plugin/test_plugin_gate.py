from __future__ import annotations

import pytest

from pytest_rime.plugin.cases import CaseRecord
from pytest_rime.plugin.gate import (
    FailOnPolicy,
    IgnoreRules,
    Verdict,
    name_key,
    parse_fraction,
    skipped_over_limit,
    verdict,
)


def case(status: str, severity: str, **kw: object) -> CaseRecord:
    fields: dict = {
        "run_name": "T",
        "test_id": "drift.feature_drift",
        "test_batch_type": "Feature Drift",
        "category": "Drift",
        "features": ("Age",),
        "status": status,
        "severity": severity,
        "importance_score": 0.5,
    }
    fields.update(kw)
    return CaseRecord(**fields)


@pytest.mark.parametrize(
    ("status", "severity", "fail_on", "expected"),
    [
        ("FAIL", "HIGH", "high", Verdict.FAIL),
        ("FAIL", "MEDIUM", "high", Verdict.WARN),
        ("FAIL", "MEDIUM", "medium", Verdict.FAIL),
        ("WARNING", "LOW", "low", Verdict.FAIL),
        ("WARNING", "LOW", "medium", Verdict.WARN),
        ("PASS", "NONE", "low", Verdict.PASS),
        ("SKIP", "NONE", "low", Verdict.SKIP),
        ("ERROR", "NONE", "high", Verdict.ERROR),  # an engine error fails every gate
        ("ERROR", "NONE", "low", Verdict.ERROR),
    ],
)
def test_verdict(status: str, severity: str, fail_on: str, expected: Verdict) -> None:
    assert verdict(case(status, severity), fail_on) is expected


def test_fail_on_most_specific_setting_wins() -> None:
    policy = FailOnPolicy(
        default="medium",
        categories={name_key("drift"): "low"},
        tests={
            name_key("Feature Drift"): "high",
            name_key("subset_performance.subset_accuracy"): "low",
        },
    )
    assert policy.level_for(case("FAIL", "HIGH"), "high") == "high"  # by display name
    other_drift = case("FAIL", "HIGH", test_id="drift.label_drift", test_batch_type="Label Drift")
    assert policy.level_for(other_drift, "high") == "low"  # by category slug
    subset = case(
        "FAIL",
        "HIGH",
        test_id="subset_performance.subset_accuracy",
        test_batch_type="Subset Accuracy",
        category="Subset Performance",
    )
    assert policy.level_for(subset, "high") == "low"  # by test id
    perf = case(
        "FAIL", "HIGH", test_id="m.acc", test_batch_type="Accuracy", category="Model Performance"
    )
    assert policy.level_for(perf, "high") == "medium"  # the run's default
    assert FailOnPolicy().level_for(perf, "low") == "low"  # the global default


def test_ignore_rules_by_test_or_feature() -> None:
    rules = IgnoreRules(
        tests=frozenset({name_key("label drift")}), features=frozenset({name_key("Fare")})
    )
    assert rules.reason(case("FAIL", "HIGH")) is None
    assert "Fare" in (rules.reason(case("FAIL", "HIGH", features=("Age", "Fare"))) or "")
    assert "Label Drift" in (
        rules.reason(case("FAIL", "HIGH", test_batch_type="Label Drift")) or ""
    )


@pytest.mark.parametrize(
    ("value", "expected"), [(0.1, 0.1), ("0.25", 0.25), ("10%", 0.1), (0, 0.0), (1, 1.0)]
)
def test_max_skipped_values(value: object, expected: float) -> None:
    assert parse_fraction(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", [1.5, "-0.1", "many", True, None, "120%"])
def test_max_skipped_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=r"expected a fraction of test cases in 0\.\.1"):
        parse_fraction(value)


def test_skipped_over_limit() -> None:
    assert skipped_over_limit(11, 100, 0.1)
    assert not skipped_over_limit(10, 100, 0.1)  # at the limit passes
    assert not skipped_over_limit(99, 100, None)  # no limit
    assert skipped_over_limit(1, 10, 0.0)


def test_fixture_result_fails_on_engine_errors_and_too_many_skips() -> None:
    from pytest_rime.plugin.cases import RunRecord
    from pytest_rime.plugin.fixture import StressTestResult

    cases = (
        case("PASS", "NONE"),
        case("ERROR", "NONE", test_batch_type="Label Drift", description="Engine error: boom."),
        case("SKIP", "NONE", test_batch_type="Prediction Drift"),
        case("SKIP", "NONE", test_batch_type="Duplicate Rows"),
    )
    record = RunRecord(name="T", test_run_id="r", job_id="j", link="http://web/r", cases=cases)
    ignore = IgnoreRules(tests=frozenset({name_key("Duplicate Rows")}))
    result = StressTestResult(record, FailOnPolicy(), "high", ignore, max_skipped=0.2)
    with pytest.raises(AssertionError) as info:
        result.assert_passing()
    message = str(info.value)
    assert "T::Drift::Label Drift[Age]: engine error: Engine error: boom." in message
    assert "1 of 4 test cases of 'T' were skipped (25%), above max_skipped=20%" in message
    assert [c.test_batch_type for c in result.skipped] == ["Prediction Drift"]  # not ignored
