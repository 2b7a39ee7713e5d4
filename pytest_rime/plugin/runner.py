"""Running one stress test through the SDK: project, uploads, job, wait, results.

Everything the plugin asks of the backend goes through :mod:`pytest_rime.sdk`; this module
turns the answers into plain :class:`~pytest_rime.plugin.cases.RunRecord` data and every
backend failure into :class:`RunFailed`, whose message is what the user sees.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_rime.plugin.cases import CaseRecord, RunRecord
from pytest_rime.plugin.localfiles import upload_and_rewrite
from pytest_rime.plugin.schema import ProjectSpec, StressTestSpec

if TYPE_CHECKING:
    import pandas as pd

    from pytest_rime.sdk import RIMEClient, RIMEStressTestJob

LOG_TAIL_BYTES = 4000
"""How much of a failed job's log is shown."""

_DONE_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


class RunFailed(Exception):
    """A stress test could not produce results (server unreachable, job failed, timeout)."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.log_tail = log_tail

    def __str__(self) -> str:
        if not self.log_tail.strip():
            return self.message
        return f"{self.message}\n\nlast lines of the job's log:\n{self.log_tail.rstrip()}"


@dataclass(frozen=True)
class JobProgress:
    """One observation of a running job."""

    job_id: str
    state: str
    progress: str
    elapsed: float


def job_state(status: Mapping[str, Any]) -> str:
    """``JOB_STATUS_SUCCEEDED`` / ``succeeded`` -> ``SUCCEEDED``."""
    return str(status.get("status", "")).upper().removeprefix("JOB_STATUS_")


def find_or_create_project(client: RIMEClient, project: ProjectSpec) -> str:
    """Id of the project named ``project.name``, created when there is none."""
    token = ""
    while True:
        projects, token = client.list_projects(page_token=token)
        for candidate in projects:
            if candidate.name == project.name:
                return candidate.project_id
        if not token:
            break
    return client.create_project(project.name, project.description).project_id


def json_simple(value: Any) -> Any:
    """``value`` with numpy scalars, arrays and non-finite floats made JSON-simple."""
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): json_simple(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        return [json_simple(v) for v in list(value)]
    return str(value)


def _start(client: RIMEClient, spec: StressTestSpec, project_id: str | None) -> RIMEStressTestJob:
    config = upload_and_rewrite(
        spec.config, client.upload_dataset_file, client.upload_model_directory
    )
    return client.start_stress_test(
        config,
        project_id=project_id,
        custom_image=spec.custom_image,
        rime_managed_image=spec.rime_managed_image,
        ram_request_megabytes=spec.ram_request_megabytes,
        cpu_request_millicores=spec.cpu_request_millicores,
        data_type=spec.data_type,
    )


def wait_for_job(
    job: RIMEStressTestJob,
    timeout: float,
    poll_rate: float,
    on_progress: Callable[[JobProgress], None],
    what: str = "stress test",
) -> str:
    """Poll ``job`` until it succeeded; its final progress text.

    Raises:
        RunFailed: The job failed, was cancelled or timed out (it is then cancelled).
    """
    started = time.monotonic()
    while True:
        status = job.get_status()
        elapsed = time.monotonic() - started
        state = job_state(status)
        on_progress(JobProgress(job.job_id, state, str(status.get("progress") or ""), elapsed))
        if state == "SUCCEEDED":
            return str(status.get("progress") or "")
        if state in _DONE_STATES:
            reason = status.get("error_message") or status.get("termination_reason") or "no reason"
            raise RunFailed(
                f"{what} job {job.job_id} {state}: {reason}", job.get_logs(LOG_TAIL_BYTES)
            )
        if elapsed > timeout:
            job.cancel()
            raise RunFailed(
                f"{what} job {job.job_id} did not finish within {timeout:g} s "
                "(defaults.timeout); it was cancelled",
                job.get_logs(LOG_TAIL_BYTES),
            )
        time.sleep(poll_rate)


def run_stress_test(
    client: RIMEClient,
    spec: StressTestSpec,
    project_id: str | None,
    *,
    timeout: float,
    poll_rate: float,
    on_progress: Callable[[JobProgress], None],
) -> RunRecord:
    """Upload, start and wait for one stress test; return its results.

    Raises:
        RunFailed: The backend refused or failed the run (message says which and why).
    """
    job = _start(client, spec, project_id)
    wait_for_job(job, timeout, poll_rate, on_progress)
    summary = job.get_test_run_result().to_dict("records")
    return RunRecord(
        name=spec.name,
        test_run_id=job.get_test_run_id(),
        job_id=job.job_id,
        link=job.get_link(),
        cases=case_records(spec.name, job.get_test_cases_result()),
        summary=json_simple(summary[0]) if summary else {},
    )


def case_records(run_name: str, cases: pd.DataFrame) -> tuple[CaseRecord, ...]:
    """The rows of a ``get_test_cases_result()`` frame as records of the run ``run_name``."""
    return tuple(
        CaseRecord.from_row(run_name, {str(k): v for k, v in row.items()})
        for row in cases.to_dict("records")
    )
