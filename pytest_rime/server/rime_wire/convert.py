"""Translations between ``rime`` wire messages and our v1 messages and records.

The ``rime`` enums lack some of our states; they map to the nearest state the published client
understands: a CANCELLED job is FAILED (the client waits for SUCCEEDED or FAILED), a CANCELLED
or TIMEOUT termination a GENERIC_ERROR, and an ERROR test case (the test's own code raised)
FAILs. Everything else keeps its name.
"""

from __future__ import annotations

from typing import Protocol

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.timestamp_pb2 import Timestamp

from pytest_rime.proto.rime import (
    image_registry_pb2,
    jobs_pb2,
    model_testing_pb2,
    results_upload_pb2,
)
from pytest_rime.proto.v1 import common_pb2
from pytest_rime.proto.v1 import image_registry_pb2 as v1_images
from pytest_rime.proto.v1 import model_testing_pb2 as v1_jobs
from pytest_rime.server.errors import InvalidArgumentError

_INT32_MAX = 2**31 - 1


def page_size(requested: int) -> int:
    """A rime ``page_size`` (int64) for a v1 request (int32): huge sizes mean the most.

    Raises:
        InvalidArgumentError: ``requested`` is negative.
    """
    if requested < 0:
        raise InvalidArgumentError(f"page_size must be >= 0, got {requested}")
    return min(requested, _INT32_MAX)


def timestamp(secs: float) -> Timestamp:
    """Seconds since the epoch as a ``Timestamp`` (whole microseconds)."""
    stamp = Timestamp()
    stamp.FromMicroseconds(round(secs * 1_000_000))
    return stamp


def job_status_to_rime(value: common_pb2.JobStatus.ValueType) -> jobs_pb2.JobStatus.ValueType:
    """A v1 job status on the rime wire (CANCELLED -> FAILED)."""
    if value == common_pb2.JOB_STATUS_CANCELLED:
        return jobs_pb2.JOB_STATUS_FAILED
    return jobs_pb2.JobStatus.Value(common_pb2.JobStatus.Name(value))


def job_statuses_from_rime(
    values: list[jobs_pb2.JobStatus.ValueType],
) -> list[common_pb2.JobStatus.ValueType]:
    """A rime status filter as v1 statuses (FAILED also selects CANCELLED jobs).

    Raises:
        InvalidArgumentError: A value that is no rime job status.
    """
    statuses: list[common_pb2.JobStatus.ValueType] = []
    for value in values:
        name = _enum_name(jobs_pb2.JobStatus.DESCRIPTOR, value, "selected_statuses")
        statuses.append(common_pb2.JobStatus.Value(name))
        if value == jobs_pb2.JOB_STATUS_FAILED:
            statuses.append(common_pb2.JOB_STATUS_CANCELLED)
    return statuses


def job_types_from_rime(
    values: list[jobs_pb2.JobType.ValueType],
) -> list[common_pb2.JobType.ValueType]:
    """A rime job type filter as v1 job types (same names).

    Raises:
        InvalidArgumentError: A value that is no rime job type.
    """
    return [
        common_pb2.JobType.Value(_enum_name(jobs_pb2.JobType.DESCRIPTOR, v, "selected_types"))
        for v in values
    ]


def _enum_name(descriptor: EnumDescriptor, value: int, field: str) -> str:
    found = descriptor.values_by_number.get(value)
    if found is None:
        raise InvalidArgumentError(f"{field}: {value} is not a valid value")
    return str(found.name)


def job_to_rime(job: v1_jobs.Job) -> jobs_pb2.JobMetadata:
    """A v1 job as the rime ``JobMetadata``."""
    reason_name = common_pb2.TerminationReason.Name(job.termination_reason)
    if reason_name not in jobs_pb2.TerminationReason.keys():  # noqa: SIM118 (enum wrapper)
        reason_name = "TERMINATION_REASON_GENERIC_ERROR"  # CANCELLED, TIMEOUT
    return jobs_pb2.JobMetadata(
        id=job.id,
        termination_reason=jobs_pb2.TerminationReason.Value(reason_name),
        type=jobs_pb2.JobType.Value(common_pb2.JobType.Name(job.type)),
        status=job_status_to_rime(job.status),
        start_time_secs=job.start_time_secs,
        running_time_secs=job.running_time_secs,
    )


def data_type_from_rime(
    value: results_upload_pb2.DataType.ValueType,
) -> common_pb2.DataType.ValueType:
    """A rime data type for a v1 request.

    TABULAR is the rime default (0, indistinguishable from not sent), so it leaves the choice to
    the config (whose own default is tabular); NLP and IMAGES are explicit.

    Raises:
        InvalidArgumentError: A value that is no rime data type.
    """
    name = _enum_name(results_upload_pb2.DataType.DESCRIPTOR, value, "data_type")
    if value == results_upload_pb2.TABULAR:
        return common_pb2.DATA_TYPE_UNSPECIFIED
    return common_pb2.DataType.Value(f"DATA_TYPE_{name}")


def data_type_to_rime(name: str) -> results_upload_pb2.DataType.ValueType:
    """A run's data type (``'nlp'``) on the rime wire (unknown -> TABULAR, the default)."""
    wire = name.upper()
    if wire in results_upload_pb2.DataType.keys():  # noqa: SIM118 (enum wrapper)
        return results_upload_pb2.DataType.Value(wire)
    return results_upload_pb2.TABULAR


def config_json(config: bytes, config_json_text: str) -> str:
    """A request's test run config as JSON text: the ``bytes`` field, else the string field.

    Raises:
        InvalidArgumentError: The bytes are not UTF-8.
    """
    if not config:
        return config_json_text
    try:
        return config.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(f"test_run_config is not UTF-8 JSON: {exc}") from exc


class _CustomizedRequest(Protocol):
    """A rime job request: an image choice and resource requests."""

    @property
    def custom_image_type(self) -> model_testing_pb2.CustomImageType: ...

    @property
    def ram_request_megabytes(self) -> int: ...

    @property
    def cpu_request_millicores(self) -> int: ...


class _JobOptions(Protocol):
    """The v1 fields every job-starting request has (filled by :func:`copy_job_options`)."""

    @property
    def custom_image(self) -> common_pb2.CustomImage: ...

    rime_managed_image: str
    ram_request_megabytes: int
    cpu_request_millicores: int


def copy_job_options(
    request: _CustomizedRequest,
    target: _JobOptions,
    testing_image: model_testing_pb2.CustomImage | None = None,
    managed_image: image_registry_pb2.ManagedImageReference | None = None,
) -> None:
    """Copy the image choice and resource requests of a rime request onto a v1 request.

    ``testing_image`` / ``managed_image`` are the stress test request's older top-level
    choices (members of the same oneof as ``custom_image_type``).
    """
    choice = request.custom_image_type
    if choice.HasField("testing_image"):
        testing_image = choice.testing_image
    elif choice.HasField("managed_image"):
        managed_image = choice.managed_image
    if testing_image is not None:
        target.custom_image.name = testing_image.name
        target.custom_image.pull_secret.name = testing_image.pull_secret.name
    if managed_image is not None:
        target.rime_managed_image = managed_image.name
    target.ram_request_megabytes = request.ram_request_megabytes
    target.cpu_request_millicores = request.cpu_request_millicores


def image_to_rime(image: v1_images.ManagedImage) -> image_registry_pb2.ManagedImage:
    """A v1 managed image as the rime message (same status names)."""
    rime_image = image_registry_pb2.ManagedImage
    return rime_image(
        name=image.name,
        status=rime_image.Status.Value(v1_images.ManagedImage.Status.Name(image.status)),
        pip_requirements=[
            rime_image.PipRequirement(name=r.name, version_specifier=r.version_specifier)
            for r in image.requirements
        ],
        pip_libraries=[
            rime_image.PipLibrary(name=p.name, version=p.version) for p in image.pip_libraries
        ],
    )


def test_case_status_to_rime(
    value: common_pb2.TestCaseStatus.ValueType,
) -> results_upload_pb2.TestCaseStatus.ValueType:
    """A v1 test case status on the rime wire (ERROR -> FAIL)."""
    name = common_pb2.TestCaseStatus.Name(value).removeprefix("TEST_CASE_STATUS_")
    if name not in results_upload_pb2.TestCaseStatus.keys():  # noqa: SIM118 (enum wrapper)
        return results_upload_pb2.FAIL
    return results_upload_pb2.TestCaseStatus.Value(name)


def severity_to_rime(
    value: common_pb2.TestSeverity.ValueType,
) -> results_upload_pb2.TestSeverity.ValueType:
    """A v1 severity on the rime wire (UNSPECIFIED -> NONE)."""
    name = common_pb2.TestSeverity.Name(value).removeprefix("TEST_SEVERITY_")
    if name not in results_upload_pb2.TestSeverity.keys():  # noqa: SIM118 (enum wrapper)
        return results_upload_pb2.NONE
    return results_upload_pb2.TestSeverity.Value(name)
