from __future__ import annotations

import pandas as pd
import pytest

from pytest_rime.plugin.cases import CaseRecord, RunRecord, category_marker, ordered


def _frame() -> pd.DataFrame:
    """Shaped like RIMEStressTestJob.get_test_cases_result()."""
    return pd.DataFrame(
        {
            "test_run_id": ["r1"] * 4,
            "test_id": [
                "drift.feature_drift",
                "model_performance.accuracy",
                "drift.feature_drift",
                "abnormal_inputs.nulls",
            ],
            "test_batch_type": ["Feature Drift", "Accuracy", "Feature Drift", "Nulls"],
            "category": ["Drift", "Model Performance", "Drift", "Abnormal Inputs"],
            "features": [["Sex"], [], ["Age"], ["Age", "Fare"]],
            "status": ["FAIL", "PASS", "WARNING", "SKIP"],
            "severity": ["HIGH", "NONE", "LOW", "NONE"],
            "importance_score": [0.9, float("nan"), 0.2, 0.0],
            "metrics": [{"psi": 0.5, "threshold": 0.2}, {}, '{"psi": 0.11}', None],
            "description": ["Sex drifted.", "Fine.", "Age drifted a bit.", "No eval nulls."],
        }
    )


def test_records_from_a_test_cases_frame() -> None:
    cases = [CaseRecord.from_row("Titanic", row) for row in _frame().to_dict("records")]
    assert [c.full_name for c in cases] == [
        "Titanic::Drift::Feature Drift[Sex]",
        "Titanic::Model Performance::Accuracy",
        "Titanic::Drift::Feature Drift[Age]",
        "Titanic::Abnormal Inputs::Nulls[Age,Fare]",
    ]
    assert cases[1].importance_score == 0.0  # NaN in the frame
    assert cases[2].metrics == {"psi": 0.11}  # JSON text is parsed
    assert cases[3].metrics == {}
    assert CaseRecord.from_dict(cases[0].to_dict()) == cases[0]


def test_enum_names_from_the_wire_are_accepted() -> None:
    row = dict(_frame().iloc[0]) | {
        "status": "TEST_CASE_STATUS_FAIL",
        "severity": "TEST_SEVERITY_MEDIUM",
    }
    case = CaseRecord.from_row("r", row)
    assert (case.status, case.severity) == ("FAIL", "MEDIUM")
    error = CaseRecord.from_row("r", row | {"status": "TEST_CASE_STATUS_ERROR"})
    assert error.status == "ERROR"  # an engine error (the test itself raised)
    with pytest.raises(ValueError, match="severity"):
        CaseRecord.from_row("r", dict(row) | {"severity": "CRITICAL"})


def test_order_is_by_category_then_test_then_features_and_labels_are_unique() -> None:
    cases = [CaseRecord.from_row("T", row) for row in _frame().to_dict("records")]
    duplicate = CaseRecord.from_row("T", dict(_frame().iloc[0]) | {"test_id": "drift.other"})
    labelled = ordered([*reversed(cases), duplicate])
    assert [label for label, _ in labelled] == [
        "Nulls[Age,Fare]",
        "Feature Drift[Age]",
        "Feature Drift[Sex]",
        "Feature Drift[Sex]#2",
        "Accuracy",
    ]
    assert ordered(reversed([*cases, duplicate])) == ordered([duplicate, *cases])


def test_category_markers() -> None:
    assert category_marker("Bias and Fairness") == "rime_bias_and_fairness"
    assert category_marker("Data Cleanliness") == "rime_data_cleanliness"


def test_run_record_round_trip() -> None:
    cases = tuple(CaseRecord.from_row("T", row) for row in _frame().to_dict("records"))
    record = RunRecord("T", "run-1", "job-1", "http://x/runs/run-1", cases, {"a": 1}, "s")
    assert RunRecord.from_dict(record.to_dict()) == record


def test_a_record_is_renamed_with_its_cases() -> None:
    cases = tuple(CaseRecord.from_row("T", row) for row in _frame().to_dict("records"))
    record = RunRecord("T", "run-1", "job-1", "http://x", cases)
    renamed = record.renamed("Other")
    assert renamed.name == "Other" and {c.run_name for c in renamed.cases} == {"Other"}
    assert renamed.cases[0].full_name == "Other::Drift::Feature Drift[Sex]"
    assert record.renamed("T") is record
