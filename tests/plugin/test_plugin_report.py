from __future__ import annotations

import json
from pathlib import Path

from pytest_rime.plugin.report import CaseOutcome, by_feature, summary_lines, write_report


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
