"""Turning wire messages into the plain values SDK users get (dicts, labels, JSON)."""

from __future__ import annotations

import json
from typing import Any

from pytest_rime.proto.v1 import common_pb2, image_registry_pb2, model_testing_pb2

TERMINAL_JOB_STATUSES = frozenset(
    {
        common_pb2.JOB_STATUS_SUCCEEDED,
        common_pb2.JOB_STATUS_FAILED,
        common_pb2.JOB_STATUS_CANCELLED,
    }
)
"""Job statuses after which a job never changes again."""

BUILDING_IMAGE_STATUSES = frozenset(
    {
        image_registry_pb2.ManagedImage.STATUS_UNSPECIFIED,
        image_registry_pb2.ManagedImage.STATUS_BUILDING_FIRST_TIME,
        image_registry_pb2.ManagedImage.STATUS_REBUILDING,
    }
)
"""Managed image statuses while its build job is still going."""


def job_status_name(status: common_pb2.JobStatus.ValueType) -> str:
    """``"JOB_STATUS_SUCCEEDED"`` for ``JOB_STATUS_SUCCEEDED``."""
    return common_pb2.JobStatus.Name(status)


def case_status_label(status: common_pb2.TestCaseStatus.ValueType) -> str:
    """``"PASS"``, ``"WARNING"``, ``"FAIL"``, ``"SKIP"`` or ``"ERROR"`` (an engine error)."""
    return common_pb2.TestCaseStatus.Name(status).removeprefix("TEST_CASE_STATUS_")


def severity_label(severity: common_pb2.TestSeverity.ValueType) -> str:
    """``"NONE"``, ``"LOW"``, ``"MEDIUM"`` or ``"HIGH"``."""
    return common_pb2.TestSeverity.Name(severity).removeprefix("TEST_SEVERITY_")


def data_type_label(data_type: common_pb2.DataType.ValueType) -> str:
    """``"tabular"``, ``"nlp"`` or ``"images"`` (``"unspecified"`` when unset)."""
    return common_pb2.DataType.Name(data_type).removeprefix("DATA_TYPE_").lower()


def image_status_label(status: image_registry_pb2.ManagedImage.Status.ValueType) -> str:
    """``"READY"``, ``"FAILED"``, ``"BUILDING_FIRST_TIME"``, ... for a managed image status."""
    return image_registry_pb2.ManagedImage.Status.Name(status).removeprefix("STATUS_")


def job_to_dict(job: model_testing_pb2.Job) -> dict[str, Any]:
    """The seed's ``get_status()`` dict of a job, plus progress, why it stopped and its ids."""
    return {
        "id": job.id,
        "type": common_pb2.JobType.Name(job.type),
        "status": job_status_name(job.status),
        "start_time_secs": job.start_time_secs,
        "running_time_secs": job.running_time_secs,
        "progress": job.progress,
        "termination_reason": common_pb2.TerminationReason.Name(job.termination_reason),
        "test_run_id": job.test_run_id,
        "firewall_id": job.firewall_id,
        "error_message": job.error_message,
    }


def job_status_line(job: model_testing_pb2.Job) -> str:
    """One human line: status, running time and progress of a job."""
    line = (
        f"Job {job.id}: {job_status_name(job.status)}, "
        f"running time {job.running_time_secs:.1f} s, progress: {job.progress or '-'}"
    )
    if job.error_message:
        line += f", error: {job.error_message}"
    return line


def image_to_dict(image: image_registry_pb2.ManagedImage) -> dict[str, Any]:
    """A managed image as the dict ``list_managed_images`` and ``get_status`` return."""
    return {
        "name": image.name,
        "status": image_status_label(image.status),
        "requirements": [
            {"name": r.name, "version_specifier": r.version_specifier} for r in image.requirements
        ],
        "pip_libraries": [{"name": p.name, "version": p.version} for p in image.pip_libraries],
        "job_id": image.job_id,
        "create_time_secs": image.create_time_secs,
    }


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """Parse a JSON object sent by the server (empty text is ``{}``).

    Raises:
        ValueError: ``text`` is not a JSON object; the message names ``what``.
    """
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"The server sent invalid JSON for {what}: {error}") from error
    if not isinstance(value, dict):
        raise ValueError(f"The server sent {type(value).__name__} for {what}, expected an object")
    return value


def flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    """Add ``value`` to ``into`` under dotted keys: nested dicts become ``prefix.key.sub``."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            flatten(f"{prefix}.{key}", item, into)
    else:
        into[prefix] = value
