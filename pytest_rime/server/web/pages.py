"""The pages of the web app: read the store, build views, render them.

Views and HTML come from :mod:`pytest_rime.report` (the same pages the SDK and the plugin
write as standalone reports); this module only turns store records into the plain mappings
those views take, and results into :class:`Response` values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any

from pytest_rime.engine.monitoring import MODEL_PERF, resolve_thresholds
from pytest_rime.report.formatting import utc_text
from pytest_rime.report.gating import gate_counts
from pytest_rime.report.pages import (
    render_firewall,
    render_job,
    render_project,
    render_projects,
    render_run,
    static_asset,
)
from pytest_rime.report.views import (
    View,
    firewall_path,
    firewall_view,
    job_view,
    project_path,
    project_view,
    projects_view,
    run_path,
    run_view,
)
from pytest_rime.server.errors import InvalidArgumentError, NotFoundError
from pytest_rime.server.jobs import JobQueue
from pytest_rime.server.records import Firewall, Job, TestRun
from pytest_rime.server.store import Store
from pytest_rime.server.web.joblog import read_chunk, read_tail
from pytest_rime.server.web.messages import Request, Response, html_page, json_body
from pytest_rime.vocabulary import DEFAULT_FAIL_ON, FAIL_ON_LEVELS, SEVERITIES

LISTED = 100
"""The most runs and jobs a project page lists (newest first)."""


def _plain(record: Any, *drop: str) -> dict[str, Any]:
    """A store record as a mapping (enum members are ``str``), without the ``drop`` fields."""
    return {
        field.name: getattr(record, field.name)
        for field in dataclasses.fields(record)
        if field.name not in drop
    }


def _job(job: Job) -> dict[str, Any]:
    return _plain(job, "spec")


def _run(run: TestRun) -> dict[str, Any]:
    return _plain(run, "config", "metadata")


def _attachment(page: str, filename: str) -> Response:
    return html_page(page, Content_Disposition=f'attachment; filename="{filename}"')


class Pages:
    """Each page of the web app, one method per route (path parameters as arguments).

    Args:
        store: Where the pages read from.
        jobs: The job queue: live progress and the log file of a job.
        base_url: The web app's URL as people reach it (absolute links of downloads).
    """

    def __init__(self, store: Store, jobs: JobQueue, base_url: str) -> None:
        self._store = store
        self._jobs = jobs
        self._base_url = base_url

    def projects(self, request: Request) -> Response:
        """``/`` and ``/projects``: every project with its counts."""
        projects = [
            {
                **_plain(project),
                **{f"num_{key}": count for key, count in counts.items()},
            }
            for project, counts in self._store.projects.with_counts()
        ]
        return html_page(render_projects(projects_view(projects)))

    def project(self, request: Request, project_id: str) -> Response:
        """``/projects/<id>``: the project's runs, firewall and jobs."""
        project = self._store.projects.get(project_id)
        runs = self._store.results.stress_test_runs(project_id, "", LISTED).items
        statuses = self._store.results.status_severity_counts
        jobs = self._store.jobs.page(
            statuses=(), types=(), project_id=project_id, created_after=0.0, token="", size=LISTED
        ).items
        firewall = self._store.firewalls.find_for_project(project_id)
        view = project_view(
            _plain(project),
            [{**_run(run), "gate_counts": gate_counts(statuses(run.id))} for run in runs],
            [] if firewall is None else [self._firewall_row(firewall)],
            [_job(self._jobs.with_live_progress(job)) for job in jobs],
        )
        return html_page(render_project(view))

    def _firewall_row(self, firewall: Firewall) -> dict[str, Any]:
        bins = self._store.firewalls.bins(firewall.id)
        severities = [b.severity for b in bins]
        return {
            **_plain(firewall),
            "num_bins": len(bins),
            "num_events": len(self._store.firewalls.events(firewall.id)),
            "worst_severity": max(severities, key=SEVERITIES.index) if severities else "",
        }

    def _run_view(self, request: Request, run: TestRun) -> View:
        fail_on = request.param("fail_on", DEFAULT_FAIL_ON)
        if fail_on not in FAIL_ON_LEVELS:
            raise InvalidArgumentError(
                f"fail_on must be one of {', '.join(FAIL_ON_LEVELS)}, got {fail_on!r}"
            )
        context: dict[str, Any] = {
            "project_link": project_path(run.project_id),
            "project_name": self._project_name(run.project_id),
        }
        if run.firewall_id:
            context.update(firewall_link=firewall_path(run.firewall_id), bin_start=run.bin_start)
        cases = [case.to_dict() for case in self._store.results.all_cases(run.id)]
        mapping = {
            **_run(run),
            **context,
            "test_run_id": run.id,
            "created": utc_text(run.start_time),
            "feature_importance": run.metadata.get("feature_importance"),
        }
        link = run_path(run.project_id, run.id, self._base_url)
        return run_view(mapping, cases, link=link, fail_on=fail_on)

    def run(self, request: Request, project_id: str, test_run_id: str) -> Response:
        """``/projects/<id>/test-runs/<run_id>`` (``?fail_on=`` low, medium or high)."""
        run = self._store.results.get_run(test_run_id)
        if run.project_id != project_id:
            raise NotFoundError(f"test run {test_run_id!r} is not in project {project_id!r}")
        return html_page(render_run(self._run_view(request, run)))

    def run_report(self, request: Request, test_run_id: str) -> Response:
        """``/reports/test-runs/<run_id>.html``: the run as one self-contained file."""
        view = self._run_view(request, self._store.results.get_run(test_run_id))
        return _attachment(render_run(view, standalone=True), f"rime-test-run-{test_run_id}.html")

    def _thresholds(self, firewall: Firewall) -> dict[str, list[float]]:
        """The monitored metrics' thresholds: the reference run config's, else the defaults.

        Model metrics are left out: theirs are allowed changes from the reference's value.
        """
        try:
            config = self._store.results.get_run(firewall.stress_test_run_id).config
        except NotFoundError:
            config = {}
        monitoring = config.get("monitoring_info")
        overrides = monitoring.get("thresholds") if isinstance(monitoring, Mapping) else None
        resolved = resolve_thresholds(overrides if isinstance(overrides, Mapping) else None)
        return {
            name: [level.low, level.medium, level.high]
            for name, level in resolved.items()
            if not name.startswith(MODEL_PERF)
        }

    def _project_name(self, project_id: str) -> str:
        """The project's name (its id when the project is gone)."""
        try:
            return self._store.projects.get(project_id).name
        except NotFoundError:
            return project_id

    def _firewall_view(self, firewall_id: str, root: str) -> View:
        firewall = self._store.firewalls.get(firewall_id)
        mapping = {
            **_plain(firewall),
            "firewall_id": firewall.id,
            "project_name": self._project_name(firewall.project_id),
            "thresholds": self._thresholds(firewall),
        }
        return firewall_view(
            mapping,
            [_plain(b) for b in self._store.firewalls.bins(firewall_id)],
            [_plain(e) for e in self._store.firewalls.events(firewall_id)],
            run_link=lambda run_id: run_path(firewall.project_id, run_id, root),
        )

    def firewall(self, request: Request, firewall_id: str) -> Response:
        """``/firewalls/<id>``: timelines, bins (linking to their runs) and events."""
        return html_page(render_firewall(self._firewall_view(firewall_id, "")))

    def firewall_report(self, request: Request, firewall_id: str) -> Response:
        """``/reports/firewalls/<id>.html``: the firewall as one self-contained file."""
        page = render_firewall(self._firewall_view(firewall_id, self._base_url), standalone=True)
        return _attachment(page, f"rime-firewall-{firewall_id}.html")

    def job(self, request: Request, job_id: str) -> Response:
        """``/jobs/<id>``: status, progress and the log (the page then polls the rest)."""
        job = self._jobs.get_job(job_id)
        tail = read_tail(self._log_path(job_id))
        try:
            project_name = self._store.projects.get(job.project_id).name
        except NotFoundError:
            project_name = job.project_id
        view = job_view(_job(job), log=tail.text, log_offset=tail.offset, project_name=project_name)
        return html_page(render_job(view))

    def job_log(self, request: Request, job_id: str) -> Response:
        """``/jobs/<id>/log?offset=N``: the log from byte ``N`` and the job's state, as JSON.

        ``{"text", "offset", "done", "reset", "status", "progress"}``: ``offset`` is where to
        ask next; ``done`` once the job is finished and ``offset`` is the end of its log;
        ``reset`` when the log was rewritten (capped) since ``N``, so ``text`` starts it again.
        """
        raw = request.param("offset", "0")
        if not raw.isdigit():
            raise InvalidArgumentError(f"offset must be a byte offset >= 0, got {raw!r}")
        job = self._jobs.get_job(job_id)
        complete = self._jobs.log_complete(job)  # before reading: no line comes after it then
        chunk = read_chunk(self._log_path(job_id), int(raw))
        return json_body(
            {
                "text": chunk.text,
                "offset": chunk.offset,
                "done": complete and chunk.at_end,
                "reset": chunk.reset,
                "status": job.status.value,
                "progress": job.progress,
            }
        )

    def _log_path(self, job_id: str) -> Path:
        """The job's log file, refused unless it lies inside the job's own directory."""
        path = self._jobs.log_path(job_id)
        if not path.resolve().is_relative_to(self._jobs.job_dir(job_id).resolve()):
            raise NotFoundError(f"job {job_id!r} has no log")
        return path

    def static(self, request: Request, name: str) -> Response:
        """``/static/<name>``: Chart.js, ``rime.js``, ``rime.css`` (only the package's files)."""
        asset = static_asset(name)
        if asset is None:
            raise NotFoundError(f"no static file {name!r}")
        data, content_type = asset
        return Response(HTTPStatus.OK, data, content_type)
