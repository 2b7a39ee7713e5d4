from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from pytest_rime.plugin.bins import MONITORING_TEST, MONITORING_TEST_ID
from pytest_rime.plugin.report import (
    CaseOutcome,
    SkipLimit,
    by_feature,
    firewall_summary_lines,
    skip_groups,
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
    assert data["runs"][0]["counts"] == {
        "failed": 4,
        "error": 0,
        "warned": 1,
        "passed": 1,
        "skipped": 0,
    }
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


def skipped(category: str, reason: str, *, ignored: bool = False) -> CaseOutcome:
    base = outcome("skipped", f"Skipped {reason[:5]}", category, (), "NONE")
    return replace(base, status="SKIP", skip_reason=reason, ignored=ignored)


ERROR = replace(
    outcome("error", "Feature Drift", "Drift", (), "NONE"),
    status="ERROR",
    metrics={"error": "ZeroDivisionError: division by zero"},
    description="Engine error: the test raised ZeroDivisionError: division by zero.",
)
SKIPS = [
    skipped("Bias and Fairness", "no protected features"),
    skipped("Bias and Fairness", "no protected features"),
    skipped("Abnormal Inputs", "no numeric feature"),
    skipped("Data Cleanliness", "ignored by rime.yaml: test 'Duplicate Rows'", ignored=True),
]
MIXED = [
    outcome("warned", "Feature Drift", "Drift", ("Fare",), "MEDIUM"),
    outcome("warned", "Null Substitution", "Transformations", ("Fare",), "LOW"),
    outcome("passed", "Accuracy", "Model Performance", (), "NONE"),
    ERROR,
    *SKIPS,
]


def test_skip_reasons_grouped_by_category_in_report_order() -> None:
    assert skip_groups(SKIPS) == [
        ("Data Cleanliness", "ignored by rime.yaml: test 'Duplicate Rows'", 1),
        ("Abnormal Inputs", "no numeric feature", 1),
        ("Bias and Fairness", "no protected features", 2),
    ]


def test_summary_shows_engine_errors_findings_below_the_gate_and_skips() -> None:
    limit = SkipLimit("T", skipped=3, total=8, max_skipped=0.25, exceeded=True)
    text = "\n".join(summary_lines(MIXED, {"T": limit}))
    assert "T: 8 test cases: 1 engine error, 2 warned, 1 passed, 4 skipped" in text
    assert "no test case reached its fail_on gate" not in text  # an engine error fails it
    assert "    Drift::Feature Drift: ZeroDivisionError: division by zero" in text
    assert "below the gate by feature (passed; -v or --rime-show-warnings lists each):" in text
    assert "    Fare: 2 findings, worst MEDIUM (Feature Drift, Null Substitution)" in text
    assert (
        "  skipped: 3 of 8 test cases (37.5%; 1 more ignored by rime.yaml), "
        "above max_skipped=25%: the gate fails:" in text
    )
    assert "    Bias and Fairness: 2 x no protected features" in text
    assert "FAIL" not in text  # passing findings never read as failures


def test_reports_carry_errors_skips_and_the_skip_limit(tmp_path: Path) -> None:
    limit = SkipLimit("T", skipped=3, total=8, max_skipped=0.5, exceeded=False)
    write_report(tmp_path / "r.json", MIXED, {"T": limit})
    run = json.loads((tmp_path / "r.json").read_text())["runs"][0]
    assert run["counts"]["error"] == 1 and run["counts"]["skipped"] == 4
    assert run["engine_errors"] == [
        {"case": "Drift::Feature Drift", "error": "ZeroDivisionError: division by zero"}
    ]
    assert run["below_gate_features"] == {"Fare": "MEDIUM"}
    assert run["skipped"]["count"] == 3 and run["skipped"]["ignored"] == 1
    assert run["skipped"]["max_skipped"] == 0.5 and not run["skipped"]["exceeded"]
    assert {"category": "Bias and Fairness", "reason": "no protected features", "count": 2} in (
        run["skipped"]["reasons"]
    )
    write_report(tmp_path / "r.md", MIXED, {"T": limit})
    markdown = (tmp_path / "r.md").read_text()
    assert "| Drift :: Feature Drift | engine error | NONE |" in markdown
    assert "| Bias and Fairness | 2 | no protected features |" in markdown
    assert "Skipped test cases: 3 of 8, within max_skipped=50%." in markdown


def test_skips_differing_only_by_feature_are_one_reason() -> None:
    per_feature = [
        replace(skipped("Subset Performance", f"no subset of feature '{f}' has 50 rows"),
                features=(f,))
        for f in ("x1", "x2")
    ]  # fmt: skip
    assert skip_groups(per_feature) == [
        (
            "Subset Performance",
            "no subset of feature '<feature>' has 50 rows (features: x1, x2)",
            2,
        )
    ]


def test_firewall_summary_names_bins_above_max_skipped() -> None:
    bins = [
        *FIREWALL_OUTCOMES,
        replace(
            bin_outcome("2024-05-01", "skipped", "Label Drift", (), "NONE"),
            status="SKIP",
            skip_reason="no label in the bin",
        ),
    ]
    limits = {
        "FW::2024-05-01": SkipLimit("FW::2024-05-01", 1, 3, 0.1, exceeded=True),
        "FW::2024-05-02": SkipLimit("FW::2024-05-02", 0, 3, 0.1, exceeded=False),
    }
    text = "\n".join(firewall_summary_lines(bins, limits))
    assert "  bins above max_skipped: 2024-05-01" in text
    assert "    Drift: 1 x no label in the bin" in text
