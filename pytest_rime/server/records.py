"""Plain records the store keeps: projects, jobs, images, firewalls and stored test runs.

They know nothing of gRPC; :mod:`pytest_rime.server.convert` turns them into messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class JobStatus(StrEnum):
    """Lifecycle state of a job."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    SUCCEEDED = "SUCCEEDED"
    CANCELLED = "CANCELLED"

    @property
    def finished(self) -> bool:
        """Whether the job reached a final state."""
        return self not in (JobStatus.PENDING, JobStatus.RUNNING)


class JobType(StrEnum):
    """What a job does."""

    MODEL_STRESS_TEST = "MODEL_STRESS_TEST"
    IMAGE_BUILDER = "IMAGE_BUILDER"
    FIREWALL_BATCH_TEST = "FIREWALL_BATCH_TEST"
    FIREWALL_TEST_FROM_REFERENCE = "FIREWALL_TEST_FROM_REFERENCE"


class TerminationReason(StrEnum):
    """Why a job stopped."""

    NOT_TERMINATED = "NOT_TERMINATED"
    COMPLETED = "COMPLETED"
    OOMKILLED = "OOMKILLED"
    GENERIC_ERROR = "GENERIC_ERROR"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"


class ImageStatus(StrEnum):
    """State of a managed image."""

    BUILDING_FIRST_TIME = "BUILDING_FIRST_TIME"
    REBUILDING = "REBUILDING"
    READY = "READY"
    FAILED = "FAILED"
    OUTDATED = "OUTDATED"


@dataclass(frozen=True)
class Project:
    """A group of test runs and firewalls."""

    id: str
    name: str
    description: str
    create_time: float


@dataclass(frozen=True)
class Job:
    """One backend job as stored.

    ``spec`` is what the worker gets in ``spec.json`` (config, limits, interpreter, ...).
    ``worker_pid`` and ``worker_start_time`` (clock ticks since boot, ``/proc/<pid>/stat``
    field 22) identify the worker of a started job, so a later server can end it.
    """

    id: str
    type: JobType
    status: JobStatus
    project_id: str
    create_time: float
    spec: dict[str, Any]
    start_time: float | None = None
    end_time: float | None = None
    termination_reason: TerminationReason = TerminationReason.NOT_TERMINATED
    progress: str = ""
    test_run_id: str = ""
    firewall_id: str = ""
    image_name: str = ""
    error_message: str = ""
    worker_pid: int = 0
    worker_start_time: int = 0


@dataclass(frozen=True)
class PipRequirement:
    """A requirement as asked for: a name and an optional pip version specifier."""

    name: str
    version_specifier: str = ""


@dataclass(frozen=True)
class PipLibrary:
    """A library as installed."""

    name: str
    version: str


@dataclass(frozen=True)
class Image:
    """A managed Python environment (a venv under ``<data>/images/<name>``)."""

    name: str
    requirements: tuple[PipRequirement, ...]
    status: ImageStatus
    job_id: str
    create_time: float
    pip_libraries: tuple[PipLibrary, ...] = ()


@dataclass(frozen=True)
class Firewall:
    """Continuous testing of production data in time bins against a reference run."""

    id: str
    name: str
    project_id: str
    bin_size_seconds: int
    stress_test_run_id: str
    create_time: float


@dataclass(frozen=True)
class FirewallBin:
    """Monitored metrics of one time bin; ``job_id`` is the job that produced them."""

    firewall_id: str
    bin_start: int
    bin_end: int
    test_run_id: str
    num_rows: int
    metrics: dict[str, Any]
    severity: str
    job_id: str = ""


@dataclass(frozen=True)
class FirewallEvent:
    """A bin whose monitored metric crossed its threshold."""

    id: str
    firewall_id: str
    bin_start: int
    bin_end: int
    metric: str
    value: float
    threshold: float
    severity: str
    description: str
    test_run_id: str


@dataclass(frozen=True)
class TestRun:
    """The summary of a stored test run (its batches and cases are rows of their own).

    ``config`` is the validated test run config the run was made with (``rime://`` paths
    kept), so a firewall can load the reference data and model of a stress test run again.
    """

    __test__ = False  # not a pytest test class

    id: str
    project_id: str
    job_id: str
    run_name: str
    model_task: str
    data_type: str
    start_time: float
    end_time: float
    num_inputs: int
    num_failing_inputs: int
    duration_millis: int
    summary_counts: dict[str, int]
    severity_counts: dict[str, int]
    model_perf: list[dict[str, Any]]
    metadata: dict[str, Any]
    firewall_id: str = ""
    bin_start: int = 0
    bin_end: int = 0
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_page_token`` is empty on the last page."""

    items: list[T] = field(default_factory=list)
    next_page_token: str = ""


@dataclass(frozen=True)
class TestBatch:
    """The summary of one test (one registry entry) in a stored run."""

    __test__ = False  # not a pytest test class

    test_run_id: str
    test_id: str
    test_batch_type: str
    category: str
    description: str
    summary_counts: dict[str, int]
    severity: str
    duration_millis: int
