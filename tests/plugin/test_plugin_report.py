from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from pytest_rime.plugin.bins import MONITORING_TEST, MONITORING_TEST_ID
from pytest_rime.plugin.report import (
    CaseOutcome,
    by_feature,
    firewall_summary_lines,
    summary_lines,
    write_report,
)


def outcome(
    gate: str, test: str, category: str, features: tuple[str, ...], severity: str
) -> CaseOutcome:
    return CaseOutcome(
        nodeid=f"rime.yaml::T::{category}::{test}",
        gate=gate,
        run_name="T",
        category=category,
        test_batch_type=test,
        test_id="",
        features=features,
        status="FAIL",
        severity=severity,
        fail_on="medium",
        importance_score=0.5,
        metrics={"psi": 0.4},
        description=f"{test} | broke",
        test_run_id="run-1",
        link="http://web/runs/run-1",
    )


OUTCOMES = [
    outcome("failed", "Feature Drift", "Drift", ("Age",), "HIGH"),
    outcome("failed", "Subset Accuracy", "Subset Performance", ("Age",), "MEDIUM"),
    outcome("failed", "Nulls", "Abnormal Inputs", ("Fare",), "MEDIUM"),
    outcome("warned", "Feature Drift", "Drift", ("Fare",), "LOW"),
    outcome("passed", "Accuracy", "Model Performance", (), "NONE"),
    outcome("failed", "Accuracy Drop", "Model Performance", (), "HIGH"),
]


def test_failures_grouped_by_feature_worst_first() -> None:
    groups = [
        (feature, [o.test_batch_type for o in cases]) for feature, cases in by_feature(OUTCOMES)
    ]
    assert groups == [
        ("Age", ["Feature Drift", "Subset Accuracy"]),
        ("Fare", ["Nulls"]),
        ("(whole dataset)", ["Accuracy Drop"]),
    ]


def test_summary_lines() -> None:
    text = "\n".join(summary_lines(OUTCOMES))
    assert "T: 6 test cases: 4 failed, 1 warned, 1 passed" in text
    assert "Age: 2 failing tests, worst HIGH (Feature Drift, Subset Accuracy)" in text
    assert text.index("failing by feature") < text.index("by category:")
    assert (
        text.index("    Abnormal Inputs:")
        < text.index("    Drift:")
        < text.index("    Model Performance:")
    )


def test_json_and_markdown_reports(tmp_path: Path) -> None:
    write_report(tmp_path / "r.json", OUTCOMES)
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["runs"][0]["counts"] == {"failed": 4, "warned": 1, "passed": 1, "skipped": 0}
    assert data["runs"][0]["failing_features"] == {
        "Age": "HIGH",
        "(whole dataset)": "HIGH",
        "Fare": "MEDIUM",
    }
    assert len(data["cases"]) == 6
    write_report(tmp_path / "r.md", OUTCOMES)
    markdown = (tmp_path / "r.md").read_text()
    assert "| Age | Feature Drift, Subset Accuracy | HIGH |" in markdown
    assert "Feature Drift \\| broke" in markdown  # pipes in cells are escaped
    assert "Accuracy Drop" in markdown and "| passed |" not in markdown


def bin_outcome(
    day: str, gate: str, test: str, features: tuple[str, ...], severity: str
) -> CaseOutcome:
    events = [{"metric": "num_drifting_features", "severity": severity}] if gate == "failed" else []
    base = outcome(gate, test, "Drift", features, severity)
    return replace(
        base,
        run_name=f"FW::{day}",
        test_id=MONITORING_TEST_ID if test == MONITORING_TEST else "",
        metrics={"events": events} if test == MONITORING_TEST else base.metrics,
        firewall="FW",
        firewall_link="http://web/firewalls/fw-1",
        bin=day,
        bin_start=f"{day}T00:00:00+00:00",
        bin_end=f"{day}T23:59:59+00:00",
    )


FIREWALL_OUTCOMES = [
    bin_outcome("2024-05-01", "passed", "Feature Drift", ("Age",), "NONE"),
    bin_outcome("2024-05-01", "passed", MONITORING_TEST, (), "NONE"),
    bin_outcome("2024-05-02", "failed", "Feature Drift", ("Age",), "HIGH"),
    bin_outcome("2024-05-02", "warned", "Feature Drift", ("Fare",), "LOW"),
    bin_outcome("2024-05-02", "failed", MONITORING_TEST, (), "MEDIUM"),
]


def test_firewall_summary_names_only_the_bad_bins(tmp_path: Path) -> None:
    stress_text = "\n".join(summary_lines([*OUTCOMES, *FIREWALL_OUTCOMES]))
    assert "FW" not in stress_text  # bins are summarised in their own section
    text = "\n".join(firewall_summary_lines([*OUTCOMES, *FIREWALL_OUTCOMES]))
    assert "FW: 2 bins, 1 bad; items: 2 failed, 1 warned, 2 passed" in text
    assert (
        "    2024-05-02: worst HIGH; events: num_drifting_features MEDIUM; "
        "failing: Age (Feature Drift)" in text
    )
    assert "2024-05-01" not in text
    write_report(tmp_path / "r.md", [*OUTCOMES, *FIREWALL_OUTCOMES])
    markdown = (tmp_path / "r.md").read_text()
    assert "## Firewall FW" in markdown
    assert "| 2024-05-02 | HIGH | num_drifting_features MEDIUM | Age |" in markdown
    assert firewall_summary_lines(OUTCOMES) == []
