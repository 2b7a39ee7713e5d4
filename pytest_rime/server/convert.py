"""The server's only proto <-> domain conversion code."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from typing import Any, TypeVar

from google.protobuf.descriptor import EnumDescriptor

from pytest_rime.engine.results import TestCaseResult
from pytest_rime.proto.v1 import (
    common_pb2,
    firewall_pb2,
    image_registry_pb2,
    model_testing_pb2,
    project_pb2,
    results_pb2,
)
from pytest_rime.server.errors import InvalidArgumentError
from pytest_rime.server.limits import parse_json_object
from pytest_rime.server.records import (
    Firewall,
    FirewallBin,
    FirewallEvent,
    Image,
    Job,
    JobStatus,
    JobType,
    PipRequirement,
    Project,
    TestBatch,
    TestRun,
)


def _secs(value: float | None) -> int:
    return int(value or 0)


def severity_to_proto(severity: str) -> common_pb2.TestSeverity.ValueType:
    """``"HIGH"`` -> ``TEST_SEVERITY_HIGH`` (unknown -> UNSPECIFIED)."""
    if not severity:
        return common_pb2.TEST_SEVERITY_UNSPECIFIED
    return common_pb2.TestSeverity.Value(f"TEST_SEVERITY_{severity}")


_E = TypeVar("_E", bound=StrEnum)


def _enum_from_proto(
    wire: EnumDescriptor, value: int, prefix: str, kind: type[_E], field: str, noun: str
) -> _E:
    """The member of ``kind`` named like wire value ``value`` without ``prefix``."""
    found = wire.values_by_number.get(value)
    name = found.name if found is not None else ""
    try:
        return kind(name.removeprefix(prefix))
    except ValueError as exc:
        raise InvalidArgumentError(f"{field}: {value} is not {noun}") from exc


def job_status_from_proto(value: common_pb2.JobStatus.ValueType) -> JobStatus:
    """``JOB_STATUS_RUNNING`` -> :attr:`JobStatus.RUNNING`.

    Raises:
        InvalidArgumentError: UNSPECIFIED or unknown.
    """
    return _enum_from_proto(
        common_pb2.JobStatus.DESCRIPTOR,
        value,
        "JOB_STATUS_",
        JobStatus,
        "selected_statuses",
        "a job status",
    )


def job_type_from_proto(value: common_pb2.JobType.ValueType) -> JobType:
    """``JOB_TYPE_IMAGE_BUILDER`` -> :attr:`JobType.IMAGE_BUILDER`.

    Raises:
        InvalidArgumentError: UNSPECIFIED or unknown.
    """
    return _enum_from_proto(
        common_pb2.JobType.DESCRIPTOR, value, "JOB_TYPE_", JobType, "selected_types", "a job type"
    )


def config_from_json(config_json: str) -> dict[str, Any]:
    """A request's ``test_run_config_json`` as a dict (not validated beyond being an object).

    Raises:
        InvalidArgumentError: Not JSON, not a JSON object, or nested too deep.
    """
    return parse_json_object(config_json, "test_run_config_json")


def data_type_from_proto(value: common_pb2.DataType.ValueType) -> str:
    """``DATA_TYPE_NLP`` -> ``'nlp'``; ``''`` for ``DATA_TYPE_UNSPECIFIED`` (not sent).

    Whether the name is supported is the caller's check.

    Raises:
        InvalidArgumentError: A number that is no ``DataType`` member.
    """
    if value not in common_pb2.DataType.values():
        raise InvalidArgumentError(f"data_type: {value} is not a data type")
    if value == common_pb2.DATA_TYPE_UNSPECIFIED:
        return ""
    return common_pb2.DataType.Name(value).removeprefix("DATA_TYPE_").lower()


def project_to_proto(project: Project) -> project_pb2.Project:
    """A stored project as a message."""
    return project_pb2.Project(
        id=project.id,
        name=project.name,
        description=project.description,
        create_time_secs=_secs(project.create_time),
    )


def job_to_proto(job: Job) -> model_testing_pb2.Job:
    """A job as a message; ``running_time_secs`` is live while the job runs."""
    running = 0.0 if job.start_time is None else (job.end_time or time.time()) - job.start_time
    return model_testing_pb2.Job(
        id=job.id,
        type=common_pb2.JobType.Value(f"JOB_TYPE_{job.type.value}"),
        status=common_pb2.JobStatus.Value(f"JOB_STATUS_{job.status.value}"),
        start_time_secs=_secs(job.start_time or job.create_time),
        running_time_secs=max(running, 0.0),
        termination_reason=common_pb2.TerminationReason.Value(
            f"TERMINATION_REASON_{job.termination_reason.value}"
        ),
        progress=job.progress,
        project_id=job.project_id,
        test_run_id=job.test_run_id,
        firewall_id=job.firewall_id,
        image_name=job.image_name,
        error_message=job.error_message,
        create_time_secs=_secs(job.create_time),
    )


def requirement_from_proto(
    requirement: image_registry_pb2.ManagedImage.PipRequirement,
) -> PipRequirement:
    """A pip requirement message as a record."""
    return PipRequirement(requirement.name.strip(), requirement.version_specifier.strip())


def image_to_proto(image: Image) -> image_registry_pb2.ManagedImage:
    """A managed image as a message."""
    image_pb = image_registry_pb2.ManagedImage
    return image_pb(
        name=image.name,
        requirements=[
            image_pb.PipRequirement(name=r.name, version_specifier=r.version_specifier)
            for r in image.requirements
        ],
        pip_libraries=[
            image_pb.PipLibrary(name=p.name, version=p.version) for p in image.pip_libraries
        ],
        status=image_pb.Status.Value(f"STATUS_{image.status.value}"),
        job_id=image.job_id,
        create_time_secs=_secs(image.create_time),
    )


def firewall_to_proto(firewall: Firewall) -> firewall_pb2.Firewall:
    """A firewall as a message."""
    return firewall_pb2.Firewall(
        id=firewall.id,
        name=firewall.name,
        project_id=firewall.project_id,
        bin_size_seconds=firewall.bin_size_seconds,
        stress_test_run_id=firewall.stress_test_run_id,
        create_time_secs=_secs(firewall.create_time),
    )


def firewall_bin_to_proto(bin_: FirewallBin) -> firewall_pb2.FirewallBin:
    """A stored firewall bin as a message."""
    return firewall_pb2.FirewallBin(
        firewall_id=bin_.firewall_id,
        bin_start_secs=bin_.bin_start,
        bin_end_secs=bin_.bin_end,
        test_run_id=bin_.test_run_id,
        num_rows=bin_.num_rows,
        metrics_json=json.dumps(bin_.metrics),
        severity=severity_to_proto(bin_.severity),
        job_id=bin_.job_id,
    )


def firewall_event_to_proto(event: FirewallEvent) -> firewall_pb2.FirewallEvent:
    """A stored firewall event as a message."""
    return firewall_pb2.FirewallEvent(
        id=event.id,
        firewall_id=event.firewall_id,
        bin_start_secs=event.bin_start,
        bin_end_secs=event.bin_end,
        metric=event.metric,
        value=event.value,
        threshold=event.threshold,
        severity=severity_to_proto(event.severity),
        description=event.description,
        test_run_id=event.test_run_id,
    )


def _summary_counts(counts: dict[str, int]) -> common_pb2.SummaryCounts:
    return common_pb2.SummaryCounts(
        total=counts.get("total", 0),
        warning=counts.get("warning", 0),
        fail=counts.get("fail", 0),
        skip=counts.get("skip", 0),
        error=counts.get("error", 0),
        **{"pass": counts.get("pass", 0)},
    )


def _data_type(name: str) -> common_pb2.DataType.ValueType:
    wire_name = f"DATA_TYPE_{name.upper()}"
    if wire_name in common_pb2.DataType.keys():  # noqa: SIM118 (an enum wrapper, not a dict)
        return common_pb2.DataType.Value(wire_name)
    return common_pb2.DATA_TYPE_UNSPECIFIED


def test_run_to_proto(run: TestRun) -> results_pb2.TestRun:
    """A stored test run summary as a message."""
    return results_pb2.TestRun(
        test_run_id=run.id,
        project_id=run.project_id,
        job_id=run.job_id,
        run_name=run.run_name,
        model_task=run.model_task,
        data_type=_data_type(run.data_type),
        start_time_secs=_secs(run.start_time),
        end_time_secs=_secs(run.end_time),
        num_inputs=run.num_inputs,
        num_failing_inputs=run.num_failing_inputs,
        duration_millis=run.duration_millis,
        summary_counts=_summary_counts(run.summary_counts),
        severity_counts=common_pb2.SeverityCounts(**run.severity_counts),
        model_perf=[
            results_pb2.ModelPerf(
                name=p["name"],
                ref_metric=_nan_if_none(p["ref_metric"]),
                eval_metric=_nan_if_none(p["eval_metric"]),
            )
            for p in run.model_perf
        ],
        metadata_json=json.dumps(run.metadata),
        firewall_id=run.firewall_id,
        bin_start_secs=run.bin_start,
        bin_end_secs=run.bin_end,
    )


def _nan_if_none(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def test_case_to_proto(test_run_id: str, case: TestCaseResult) -> results_pb2.TestCase:
    """A stored test case as a message."""
    data = case.to_dict()
    return results_pb2.TestCase(
        test_run_id=test_run_id,
        test_id=case.test_id,
        test_batch_type=case.test_batch_type,
        category=case.category,
        features=list(case.features),
        status=common_pb2.TestCaseStatus.Value(f"TEST_CASE_STATUS_{case.status.value}"),
        severity=severity_to_proto(case.severity.value),
        importance_score=data["importance_score"],
        metrics_json=json.dumps(data["metrics"]),
        description=case.description,
    )


def test_batch_to_proto(batch: TestBatch) -> results_pb2.TestBatch:
    """A stored test batch as a message."""
    return results_pb2.TestBatch(
        test_run_id=batch.test_run_id,
        test_id=batch.test_id,
        test_batch_type=batch.test_batch_type,
        category=batch.category,
        description=batch.description,
        summary_counts=_summary_counts(batch.summary_counts),
        severity=severity_to_proto(batch.severity),
        duration_millis=batch.duration_millis,
    )
