"""Running jobs through the SDK, for stress tests and firewalls alike: project, wait, cases.

Everything the plugin asks of the backend goes through :mod:`pytest_rime.sdk`; this module
(and the two kinds of run in :mod:`pytest_rime.plugin.kinds`) turns the answers into plain
:class:`~pytest_rime.plugin.cases.CaseRecord` data and every backend failure into
:class:`RunFailed`, whose message is what the user sees.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_rime.plugin.cases import CaseRecord
from pytest_rime.plugin.localfiles import LocalNames
from pytest_rime.plugin.schema import ProjectSpec

if TYPE_CHECKING:
    import pandas as pd

    from pytest_rime.sdk import RIMEClient, RIMEStressTestJob

LOG_TAIL_BYTES = 4000
"""How much of a failed job's log is shown."""

_DONE_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")

_INPUT_ERROR = re.compile(r"^(ModelError|DataError|ConfigError): ")
"""A failed job's reason that is about the user's model, data or config: the reason says
everything; the job's log (with the engine's traceback) is not shown."""


def is_input_error(reason: str) -> bool:
    """Whether a failed job's ``reason`` blames the model, data or config (not the engine)."""
    return _INPUT_ERROR.match(reason) is not None


class RunFailed(Exception):
    """A stress test could not produce results (server unreachable, job failed, timeout).

    Attributes:
        message: One line saying what failed and why.
        log_tail: The end of the job's log (shown under the message when not empty).
        repeated: The same failure was already raised in this session (it was shown).
    """

    def __init__(self, message: str, log_tail: str = "", *, repeated: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.log_tail = log_tail
        self.repeated = repeated

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


@contextmanager
def refusals_as_run_failed(names: LocalNames) -> Iterator[None]:
    """Turn the backend refusing an SDK call into :class:`RunFailed` naming the user's files.

    Raises:
        RunFailed: The call raised a ``RIMEError`` (e.g. the server rejected the config).
    """
    from pytest_rime.sdk import RIMEError

    try:
        yield
    except RIMEError as exc:
        raise RunFailed(names.localize(str(exc))) from None


def wait_for_job(
    job: RIMEStressTestJob,
    timeout: float,
    poll_rate: float,
    on_progress: Callable[[JobProgress], None],
    what: str = "stress test",
    names: LocalNames | None = None,
) -> str:
    """Poll ``job`` until it succeeded; its final progress text.

    A job that failed on the user's model, data or config (``ModelError: ...``) is reported
    by its reason alone; other failures come with the end of the job's log.

    Raises:
        RunFailed: The job failed, was cancelled or timed out (it is then cancelled).
    """
    names = names or LocalNames()
    started = time.monotonic()
    while True:
        status = job.get_status()
        elapsed = time.monotonic() - started
        state = job_state(status)
        on_progress(JobProgress(job.job_id, state, str(status.get("progress") or ""), elapsed))
        if state == "SUCCEEDED":
            return str(status.get("progress") or "")
        if state in _DONE_STATES:
            reason = str(
                status.get("error_message") or status.get("termination_reason") or "no reason"
            )
            reason = names.localize(reason.strip()).splitlines()[0]
            log = "" if is_input_error(reason) else names.localize(job.get_logs(LOG_TAIL_BYTES))
            raise RunFailed(f"{what} job {job.job_id} {state}: {reason}", log)
        if elapsed > timeout:
            job.cancel()
            raise RunFailed(
                f"{what} job {job.job_id} did not finish within {timeout:g} s "
                "(defaults.timeout); it was cancelled",
                names.localize(job.get_logs(LOG_TAIL_BYTES)),
            )
        time.sleep(poll_rate)


def case_records(
    run_name: str, cases: pd.DataFrame, names: LocalNames | None = None
) -> tuple[CaseRecord, ...]:
    """The rows of a ``get_test_cases_result()`` frame as records of the run ``run_name``.

    With ``names``, descriptions and metrics name the user's files, not the uploads.
    """
    records = (
        CaseRecord.from_row(run_name, {str(k): v for k, v in row.items()})
        for row in cases.to_dict("records")
    )
    if names is None:
        return tuple(records)
    return tuple(
        dataclasses.replace(
            record,
            description=names.localize(record.description),
            metrics=names.localize_value(dict(record.metrics)),
        )
        for record in records
    )
