"""Result messages become the documented DataFrames and dicts."""

from __future__ import annotations

import json

import pytest

from pytest_rime.proto.v1 import (
    common_pb2,
    firewall_pb2,
    image_registry_pb2,
    model_testing_pb2,
    results_pb2,
)
from pytest_rime.sdk.convert import image_to_dict, job_status_line, job_to_dict
from pytest_rime.sdk.frames import (
    FIREWALL_BIN_COLUMNS,
    FIREWALL_EVENT_COLUMNS,
    TEST_BATCH_COLUMNS,
    TEST_CASE_COLUMNS,
    batches_frame,
    cases_frame,
    firewall_bins_frame,
    firewall_events_frame,
    run_summary_frame,
)


def _case(
    test_id: str, status: int, severity: int, metrics: dict[str, object]
) -> results_pb2.TestCase:
    return results_pb2.TestCase(
        test_run_id="run1",
        test_id=test_id,
        test_batch_type=test_id.title(),
        category="Drift",
        features=["age", "city"],
        status=status,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        importance_score=0.25,
        metrics_json=json.dumps(metrics),
        description=f"about {test_id}",
    )


def test_cases_frame_columns_and_labels() -> None:
    frame = cases_frame(
        [
            _case(
                "a", common_pb2.TEST_CASE_STATUS_FAIL, common_pb2.TEST_SEVERITY_HIGH, {"psi": 0.4}
            ),
            _case("b", common_pb2.TEST_CASE_STATUS_SKIP, common_pb2.TEST_SEVERITY_NONE, {}),
        ]
    )
    assert tuple(frame.columns) == TEST_CASE_COLUMNS
    assert frame["status"].tolist() == ["FAIL", "SKIP"]
    assert frame["severity"].tolist() == ["HIGH", "NONE"]
    assert frame["features"].tolist() == [["age", "city"], ["age", "city"]]
    assert frame["metrics"].tolist() == [{"psi": 0.4}, {}]
    assert frame["importance_score"].tolist() == [0.25, 0.25]


def test_empty_frames_keep_their_columns() -> None:
    assert tuple(cases_frame([]).columns) == TEST_CASE_COLUMNS
    assert tuple(batches_frame([]).columns) == TEST_BATCH_COLUMNS
    assert tuple(firewall_events_frame([]).columns) == FIREWALL_EVENT_COLUMNS
    assert tuple(firewall_bins_frame([]).columns) == FIREWALL_BIN_COLUMNS


def test_bad_metrics_json_names_the_test() -> None:
    case = results_pb2.TestCase(test_id="drift.x", metrics_json="[1, 2]")
    with pytest.raises(ValueError, match=r"drift\.x"):
        cases_frame([case])


def test_run_summary_frame_has_seed_columns_and_flattened_metadata() -> None:
    run = results_pb2.TestRun(
        test_run_id="run1",
        project_id="p1",
        job_id="j1",
        run_name="Titanic",
        model_task="Binary Classification",
        data_type=common_pb2.DATA_TYPE_TABULAR,
        num_inputs=200,
        num_failing_inputs=12,
        duration_millis=1500,
        # "pass" is a Python keyword, so that field can only be set through **kwargs.
        summary_counts=common_pb2.SummaryCounts(total=10, warning=1, fail=2, skip=1, **{"pass": 6}),
        severity_counts=common_pb2.SeverityCounts(none=6, low=1, medium=2, high=1),
        model_perf=[results_pb2.ModelPerf(name="AUC", ref_metric=0.9, eval_metric=0.8)],
        metadata_json=json.dumps(
            {"seed": 3, "feature_types": {"age": "integer"}, "run_name": "ignored", "tags": [1]}
        ),
    )
    frame = run_summary_frame(run)
    assert len(frame) == 1
    row = frame.iloc[0].to_dict()
    expected = {
        "metadata.test_run_id": "run1",
        "metadata.project_id": "p1",
        "metadata.run_name": "Titanic",
        "metadata.model_task": "Binary Classification",
        "metadata.data_type": "tabular",
        "metadata.job_id": "j1",
        "metadata.seed": 3,
        "metadata.feature_types.age": "integer",
        "metadata.tags": [1],
        "metrics.num_inputs": 200,
        "metrics.num_failing_inputs": 12,
        "metrics.duration_millis": 1500,
        "metrics.summary_counts.total": 10,
        "metrics.summary_counts.pass": 6,
        "metrics.summary_counts.warning": 1,
        "metrics.summary_counts.fail": 2,
        "metrics.summary_counts.skip": 1,
        "metrics.severity_counts.none": 6,
        "metrics.severity_counts.low": 1,
        "metrics.severity_counts.medium": 2,
        "metrics.severity_counts.high": 1,
        "metrics.model_perf.AUC.ref_metric": 0.9,
        "metrics.model_perf.AUC.eval_metric": 0.8,
    }
    assert {key: row[key] for key in expected} == expected
    assert "metadata.firewall_id" not in row


def test_firewall_bins_frame_flattens_metrics_per_bin() -> None:
    bins = [
        firewall_pb2.FirewallBin(
            firewall_id="fw",
            bin_start_secs=0,
            bin_end_secs=3600,
            num_rows=5,
            metrics_json=json.dumps({"AUC": 0.8}),
            severity=common_pb2.TEST_SEVERITY_LOW,
        ),
        firewall_pb2.FirewallBin(
            firewall_id="fw",
            bin_start_secs=3600,
            bin_end_secs=7200,
            num_rows=0,
            metrics_json=json.dumps({"AUC": None, "drift": {"age": 0.3}}),
        ),
    ]
    frame = firewall_bins_frame(bins)
    assert list(frame.columns) == [*FIREWALL_BIN_COLUMNS, "metrics.AUC", "metrics.drift.age"]
    assert frame["severity"].tolist() == ["LOW", "UNSPECIFIED"]
    assert frame["metrics.AUC"].tolist()[0] == 0.8
    assert frame["metrics.drift.age"].tolist()[1] == 0.3


def test_firewall_events_frame() -> None:
    event = firewall_pb2.FirewallEvent(
        id="e1",
        firewall_id="fw",
        metric="AUC",
        value=0.6,
        threshold=0.7,
        severity=common_pb2.TEST_SEVERITY_HIGH,
    )
    frame = firewall_events_frame([event])
    assert frame.loc[0, "metric"] == "AUC"
    assert frame.loc[0, "severity"] == "HIGH"


def test_batches_frame() -> None:
    batch = results_pb2.TestBatch(
        test_run_id="r", test_id="drift.feature_drift", severity=common_pb2.TEST_SEVERITY_MEDIUM
    )
    batch.summary_counts.total = 3
    frame = batches_frame([batch])
    assert frame.loc[0, "summary_counts.total"] == 3
    assert frame.loc[0, "severity"] == "MEDIUM"


def test_job_dict_and_status_line() -> None:
    job = model_testing_pb2.Job(
        id="j1",
        type=common_pb2.JOB_TYPE_MODEL_STRESS_TEST,
        status=common_pb2.JOB_STATUS_FAILED,
        start_time_secs=100,
        running_time_secs=12.34,
        termination_reason=common_pb2.TERMINATION_REASON_OOMKILLED,
        progress="3 / 40 test batches completed",
        error_message="out of memory",
    )
    assert job_to_dict(job) == {
        "id": "j1",
        "type": "JOB_TYPE_MODEL_STRESS_TEST",
        "status": "JOB_STATUS_FAILED",
        "start_time_secs": 100,
        "running_time_secs": 12.34,
        "progress": "3 / 40 test batches completed",
        "termination_reason": "TERMINATION_REASON_OOMKILLED",
        "test_run_id": "",
        "firewall_id": "",
        "error_message": "out of memory",
    }
    line = job_status_line(job)
    for part in (
        "j1",
        "JOB_STATUS_FAILED",
        "12.3 s",
        "3 / 40 test batches completed",
        "out of memory",
    ):
        assert part in line


def test_image_dict() -> None:
    image = image_registry_pb2.ManagedImage(
        name="img",
        status=image_registry_pb2.ManagedImage.STATUS_BUILDING_FIRST_TIME,
        requirements=[
            image_registry_pb2.ManagedImage.PipRequirement(name="x", version_specifier="==1")
        ],
        pip_libraries=[image_registry_pb2.ManagedImage.PipLibrary(name="x", version="1")],
        job_id="j",
    )
    assert image_to_dict(image) == {
        "name": "img",
        "status": "BUILDING_FIRST_TIME",
        "requirements": [{"name": "x", "version_specifier": "==1"}],
        "pip_libraries": [{"name": "x", "version": "1"}],
        "job_id": "j",
        "create_time_secs": 0,
    }
