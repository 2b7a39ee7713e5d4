"""Views of the server's pages: the projects index, a project, a job; and their paths.

Server paths (``/projects/<id>``, ``/projects/<id>/test-runs/<run_id>``, ``/firewalls/<id>``,
``/jobs/<id>``) come from :func:`project_path`, :func:`run_path`, :func:`firewall_path` and
:func:`job_path`; ``root`` is prepended (e.g. the path of an external base URL).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_rime.report.fields import View, text_of, worst
from pytest_rime.report.formatting import bin_size_text, duration_text, rounded, utc_text
from pytest_rime.report.gating import GATES
from pytest_rime.vocabulary import SEVERITIES

_JOB_TYPES = {
    "MODEL_STRESS_TEST": "Stress test",
    "FIREWALL_BATCH_TEST": "Firewall batch",
    "FIREWALL_TEST_FROM_REFERENCE": "Firewall from reference",
    "IMAGE_BUILDER": "Image build",
}

_PROGRESS = re.compile(r"^\s*(\d+)\s*/\s*(\d+)")
"""A job's progress text: ``3 / 10 test batches completed``."""

_PROJECT_COUNTS = ("num_runs", "num_firewalls", "num_jobs", "num_active_jobs")
"""Counts of a project on the projects index (0 when not given)."""


def project_path(project_id: str, root: str = "") -> str:
    """``<root>/projects/<project_id>``."""
    return f"{root}/projects/{project_id}"


def run_path(project_id: str, test_run_id: str, root: str = "") -> str:
    """``<root>/projects/<project_id>/test-runs/<test_run_id>`` (what ``get_link()`` gives)."""
    return f"{root}/projects/{project_id}/test-runs/{test_run_id}"


def firewall_path(firewall_id: str, root: str = "") -> str:
    """``<root>/firewalls/<firewall_id>``."""
    return f"{root}/firewalls/{firewall_id}"


def job_path(job_id: str, root: str = "") -> str:
    """``<root>/jobs/<job_id>`` (its log: that path plus ``/log?offset=N``)."""
    return f"{root}/jobs/{job_id}"


def _id(record: Mapping[str, Any], *keys: str) -> str:
    return next((str(record[k]) for k in keys if record.get(k)), "")


def _time(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    return utc_text(value) if isinstance(value, int | float) else ""


def projects_view(projects: Sequence[Mapping[str, Any]], *, root: str = "") -> View:
    """The projects index.

    Args:
        projects: ``id`` (or ``project_id``), ``name``, ``description``, ``create_time``
            (epoch s) and optionally the counts ``num_runs``, ``num_firewalls``,
            ``num_jobs``, ``num_active_jobs`` (jobs pending or running).
        root: Prefix of the server paths.

    Returns:
        ``{"kind": "projects", "projects": [{id, name, description, created, link,
        num_runs, num_firewalls, num_jobs, num_active_jobs}]}``, newest project first.
    """
    rows = [
        {
            "id": (pid := _id(p, "id", "project_id")),
            "name": text_of(p, "name") or pid,
            "description": text_of(p, "description"),
            "created": _time(p, "create_time"),
            "link": project_path(pid, root),
            **{k: int(p.get(k) or 0) for k in _PROJECT_COUNTS},
        }
        for p in sorted(projects, key=lambda p: -float(p.get("create_time") or 0))
    ]
    return {"kind": "projects", "projects": rows}


def _progress(text: str, succeeded: bool) -> float | None:
    """``"3 / 10 test batches completed"`` -> 0.3; 1.0 once succeeded; else ``None``."""
    if succeeded:
        return 1.0
    match = _PROGRESS.match(text)
    if match and int(match.group(2)) > 0:
        return rounded(min(1.0, int(match.group(1)) / int(match.group(2))), 3)
    return None


def _job_row(job: Mapping[str, Any], root: str) -> View:
    jid = _id(job, "id", "job_id")
    status = text_of(job, "status", "PENDING").upper()
    finished = status not in ("PENDING", "RUNNING")
    project_id = text_of(job, "project_id")
    run_id = text_of(job, "test_run_id")
    firewall_id = text_of(job, "firewall_id")
    start, end = job.get("start_time"), job.get("end_time")
    progress = text_of(job, "progress")
    reason = text_of(job, "termination_reason")
    return {
        "id": jid,
        "link": job_path(jid, root),
        "type": text_of(job, "type"),
        "type_text": _JOB_TYPES.get(text_of(job, "type"), text_of(job, "type")),
        "status": status,
        "finished": finished,
        "progress": progress,
        "fraction": _progress(progress, status == "SUCCEEDED"),
        "termination_reason": "" if reason == "NOT_TERMINATED" else reason,
        "created": _time(job, "create_time"),
        "started": _time(job, "start_time"),
        "ended": _time(job, "end_time"),
        "duration": duration_text(end - start)
        if isinstance(start, int | float) and isinstance(end, int | float)
        else "",
        "project_id": project_id,
        "project_link": project_path(project_id, root) if project_id else "",
        "test_run_id": run_id,
        "run_link": run_path(project_id, run_id, root) if run_id and project_id else "",
        "firewall_id": firewall_id,
        "firewall_link": firewall_path(firewall_id, root) if firewall_id else "",
        "error_message": text_of(job, "error_message"),
    }


def project_view(
    project: Mapping[str, Any],
    runs: Sequence[Mapping[str, Any]],
    firewalls: Sequence[Mapping[str, Any]],
    jobs: Sequence[Mapping[str, Any]],
    *,
    root: str = "",
) -> View:
    """One project: its stress test runs, firewalls and jobs (newest first).

    Args:
        project: ``id`` (or ``project_id``), ``name``, ``description``, ``create_time``.
        runs: Stored test runs (``id`` or ``test_run_id``, ``run_name``, ``model_task``,
            ``data_type``, ``start_time``, ``end_time``, ``num_inputs``,
            ``num_failing_inputs``, ``duration_millis``, ``gate_counts`` (cases per gate under
            the default ``fail_on``: :func:`pytest_rime.report.gating.gate_counts`),
            ``severity_counts`` (``{HIGH, MEDIUM, LOW, NONE}``), ``firewall_id``). Runs of
            firewall bins (``firewall_id`` set) are not listed, only counted per firewall.
        firewalls: ``id`` (or ``firewall_id``), ``name``, ``bin_size_seconds``,
            ``stress_test_run_id``, ``create_time``; optionally ``num_bins``, ``num_events``
            and ``worst_severity``.
        jobs: Stored jobs (``id``, ``type``, ``status``, ``progress``, ``termination_reason``,
            ``create_time``, ``start_time``, ``end_time``, ``test_run_id``, ``firewall_id``,
            ``error_message``).
        root: Prefix of the server paths.

    Returns:
        ``{"kind": "project", "id", "name", "description", "created", "link", "runs",
        "firewalls", "jobs", "active_jobs"}``: ``runs`` rows have ``id``, ``name``, ``link``,
        ``model_task``, ``data_type``, ``created``, ``num_inputs``, ``duration``, ``gates``
        (cases per gate, as the run page and pytest count them), ``verdict``, ``severity``
        (``{HIGH, MEDIUM, LOW}``), ``worst``; ``firewalls`` rows ``id``, ``name``, ``link``,
        ``bin_size``, ``reference_link``, ``created``, ``num_bins``, ``num_events``,
        ``worst``; ``jobs`` rows as :func:`job_view` without the log.
    """
    pid = _id(project, "id", "project_id")
    bin_runs: dict[str, int] = {}
    for run in runs:
        if run.get("firewall_id"):
            bin_runs[str(run["firewall_id"])] = bin_runs.get(str(run["firewall_id"]), 0) + 1
    run_rows = []
    for run in sorted(runs, key=lambda r: -float(r.get("start_time") or 0)):
        if run.get("firewall_id"):
            continue
        rid = _id(run, "id", "test_run_id")
        gates = {g: int((run.get("gate_counts") or {}).get(g) or 0) for g in GATES}
        severities = {str(k).upper(): v for k, v in (run.get("severity_counts") or {}).items()}
        duration = run.get("duration_millis")
        run_rows.append(
            {
                "id": rid,
                "name": text_of(run, "run_name") or rid,
                "link": run_path(pid, rid, root),
                "model_task": text_of(run, "model_task"),
                "data_type": text_of(run, "data_type"),
                "created": _time(run, "start_time"),
                "num_inputs": run.get("num_inputs"),
                "duration": duration_text(duration / 1000)
                if isinstance(duration, int | float)
                else "",
                "gates": gates,
                "verdict": "failed" if gates["failed"] or gates["error"] else "passed",
                "severity": {s: int(severities.get(s) or 0) for s in reversed(SEVERITIES[1:])},
                "worst": worst(s for s in SEVERITIES if severities.get(s)),
            }
        )
    firewall_rows = []
    for fw in sorted(firewalls, key=lambda f: -float(f.get("create_time") or 0)):
        fid = _id(fw, "id", "firewall_id")
        reference = text_of(fw, "stress_test_run_id")
        size = fw.get("bin_size_seconds")
        firewall_rows.append(
            {
                "id": fid,
                "name": text_of(fw, "name") or fid,
                "link": firewall_path(fid, root),
                "bin_size": bin_size_text(size) if isinstance(size, int) else "",
                "reference_id": reference,
                "reference_link": run_path(pid, reference, root) if reference else "",
                "created": _time(fw, "create_time"),
                "num_bins": int(fw.get("num_bins") or bin_runs.get(fid, 0)),
                "num_events": fw.get("num_events"),
                "worst": text_of(fw, "worst_severity").upper(),
            }
        )
    job_rows = [
        _job_row(job, root) for job in sorted(jobs, key=lambda j: -float(j.get("create_time") or 0))
    ]
    return {
        "kind": "project",
        "id": pid,
        "name": text_of(project, "name") or pid,
        "description": text_of(project, "description"),
        "created": _time(project, "create_time"),
        "link": project_path(pid, root),
        "runs": run_rows,
        "firewalls": firewall_rows,
        "jobs": job_rows,
        "active_jobs": sum(not j["finished"] for j in job_rows),
    }


def job_view(
    job: Mapping[str, Any],
    *,
    log: str = "",
    log_offset: int = 0,
    project_name: str = "",
    root: str = "",
) -> View:
    """One job: its status, progress, times, what it produced and the tail of its log.

    Args:
        job: A stored job (see :func:`project_view`).
        log: The tail of the job's log shown when the page loads.
        log_offset: Byte offset in the log just after ``log``: where the page's polling of
            ``<job path>/log?offset=N`` starts.
        project_name: The project's name, for the page's crumbs.
        root: Prefix of the server paths.

    Returns:
        The job row (``id``, ``link``, ``type``, ``type_text``, ``status``, ``finished``,
        ``progress``, ``fraction`` (0..1 or ``None``), ``termination_reason``, ``created``,
        ``started``, ``ended``, ``duration``, ``project_id``, ``project_link``,
        ``test_run_id``, ``run_link``, ``firewall_id``, ``firewall_link``,
        ``error_message``) plus ``kind`` ``"job"``, ``project_name``, ``log``,
        ``log_offset`` and ``log_url``.
    """
    row = _job_row(job, root)
    return {
        **row,
        "kind": "job",
        "project_name": project_name or row["project_id"],
        "log": log,
        "log_offset": log_offset,
        "log_url": f"{row['link']}/log",
    }
