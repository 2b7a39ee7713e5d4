from __future__ import annotations

import pytest

from pytest_rime.plugin.cases import CaseRecord
from pytest_rime.plugin.gate import FailOnPolicy, IgnoreRules, Verdict, name_key, verdict


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
