from __future__ import annotations

from pytest_rime.plugin.cases import CaseRecord
from pytest_rime.plugin.progress import describe
from pytest_rime.plugin.render import engine_error_text, failure_text, finding
from pytest_rime.plugin.runner import JobProgress, RunFailed, is_input_error, job_state


def test_progress_line() -> None:
    assert describe(JobProgress("j", "RUNNING", "12 / 40 test batches completed", 8.4)) == (
        "12/40 test batches done, 8s elapsed"
    )
    assert describe(JobProgress("j", "PENDING", "", 0.2)) == "pending, 0s elapsed"


def test_job_states_and_run_failure_text() -> None:
    assert job_state({"status": "JOB_STATUS_SUCCEEDED"}) == "SUCCEEDED"
    assert job_state({"status": "failed"}) == "FAILED"
    assert str(RunFailed("job j FAILED: boom", "line 1\nline 2\n")) == (
        "job j FAILED: boom\n\nlast lines of the job's log:\nline 1\nline 2"
    )
    assert str(RunFailed("unreachable", "  ")) == "unreachable"


def test_failure_text_shows_measured_values_and_thresholds() -> None:
    case = CaseRecord(
        run_name="T", test_id="drift.feature_drift", test_batch_type="Feature Drift",
        category="Drift", features=("Age",), status="FAIL", severity="HIGH",
        importance_score=0.8, metrics={"psi": 0.41234, "threshold": 0.3, "rows": 120},
        description="Age drifted.",
    )  # fmt: skip
    text = failure_text(case, "medium", "http://web/run")
    assert (
        text.splitlines()[0]
        == "T::Drift::Feature Drift[Age]: severity HIGH reached the gate fail_on=medium"
    )
    assert "  measured:    psi=0.4123, rows=120" in text
    assert "  threshold:   threshold=0.3" in text
    assert "  test:        Feature Drift (drift.feature_drift)" in text
    assert text.endswith("  link:        http://web/run")
    many = CaseRecord(**{**case.__dict__, "metrics": {f"m{i}": float(i) for i in range(5)}})
    assert "  measured:\n    m0=0\n    m1=1\n" in failure_text(many, "high", "")
    chart = {"labels": ["<= 1", "> 1"], "ref": [0.5, 0.5], "eval": [0.1, 0.9]}
    charted = CaseRecord(**{**case.__dict__, "metrics": {**case.metrics, "distribution": chart}})
    assert failure_text(charted, "medium", "http://web/run") == text  # chart data: HTML only


def test_engine_error_text_and_first_sentence() -> None:
    case = CaseRecord(
        run_name="T", test_id="drift.feature_drift", test_batch_type="Feature Drift",
        category="Drift", features=(), status="ERROR", severity="NONE", importance_score=0.0,
        metrics={"error": "ZeroDivisionError: division by zero"},
        description="Engine error: the test raised ZeroDivisionError: division by zero. "
        "The traceback is in the job log.",
    )  # fmt: skip
    text = engine_error_text(case, "rime.yaml:9", "http://web/run")
    assert text.splitlines()[0] == (
        "T::Drift::Feature Drift: engine error: the test itself raised "
        "ZeroDivisionError: division by zero"
    )
    assert "  where: rime.yaml:9" in text and "fails the gate whatever fail_on says" in text
    assert finding(case) == "Engine error: the test raised ZeroDivisionError: division by zero."


def test_input_errors_are_told_apart_from_engine_failures() -> None:
    assert is_input_error("ModelError: model.py: predict_df raised ZeroDivisionError")
    assert is_input_error("DataError: eval.csv: no rows")
    assert not is_input_error("KeyError: 'x'")
