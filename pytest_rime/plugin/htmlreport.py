"""The session's standalone HTML report: every run and firewall of the session on one page.

Built from the items' outcomes (:class:`~pytest_rime.plugin.report.CaseOutcome`), which carry
the gate each item applied, so the page's counts are the terminal summary's. The page is
rendered by :func:`pytest_rime.report.pages.render_report`: CSS, scripts and data inline, no
URL to fetch, so the file opens anywhere (a CI artifact folder, offline).

Links. When a rime.yaml runs on the embedded server (no ``server: address``), that server
stops with the session and its web pages with it, so the items' ``link`` JUnit property (and
the terminal's links) point into this report instead: ``report.html#run-<test_run_id>`` for a
run or a firewall bin's run, ``report.html#firewall-<firewall_id>`` for a firewall. The path
is relative to the directory of the ``--junitxml`` file (else to the directory pytest was
started in), so the link still opens when the JUnit file and the report are kept together,
e.g. in one CI artifact folder. With a server that outlives the session, links are its web
pages (``get_link()``). Without a ``.html`` ``--rime-report``, embedded sessions write the
report to the plugin's cache dir, ``.pytest_cache/d/rime/report.html``; the terminal summary
ends with the report's path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from pytest_rime.plugin.bins import MONITORING_TEST_ID
from pytest_rime.report.fields import firewall_anchor, run_anchor

if TYPE_CHECKING:
    from pytest_rime.plugin.report import CaseOutcome

HTML_SUFFIXES = (".html", ".htm")
"""Suffixes of ``--rime-report`` paths written as HTML."""

DEFAULT_NAME = "report.html"
"""Name of the report written to the plugin's cache dir when none is asked for."""

TITLE = "RIME stress test results"


def is_html(path: Path) -> bool:
    """Whether ``path`` is written as HTML (by its suffix)."""
    return path.suffix.lower() in HTML_SUFFIXES


def report_link(report: Path, anchor: str, base: Path) -> str:
    """``<report, relative to base>#<anchor>`` (URL-quoted, ``/`` separators)."""
    relative = Path(os.path.relpath(report, base)).as_posix()
    return f"{quote(relative)}#{quote(anchor)}"


def is_web_link(link: str) -> bool:
    """Whether ``link`` is a server's web page (``http(s)://``), not a link into the report."""
    return urlsplit(link).scheme in ("http", "https")


def _epoch(iso: str) -> int | None:
    try:
        return int(datetime.fromisoformat(iso).timestamp())
    except ValueError:
        return None


def _case(outcome: CaseOutcome) -> dict[str, Any]:
    return {
        "test_id": outcome.test_id,
        "test_batch_type": outcome.test_batch_type,
        "category": outcome.category,
        "features": list(outcome.features),
        "status": outcome.status,
        "severity": outcome.severity,
        "importance_score": outcome.importance_score,
        "metrics": dict(outcome.metrics),
        "description": outcome.description,
        "gate": outcome.gate,
        "fail_on": outcome.fail_on,
        "skip_reason": outcome.skip_reason,
    }


def _runs(outcomes: Iterable[CaseOutcome]) -> list[list[CaseOutcome]]:
    """Outcomes by run: stress tests in the session's order, then firewall bins by time."""
    runs: dict[str, list[CaseOutcome]] = {}
    for outcome in outcomes:
        runs.setdefault(outcome.run_name, []).append(outcome)
    return sorted(runs.values(), key=lambda run: (bool(run[0].firewall), run[0].bin_start))


def run_views(outcomes: Sequence[CaseOutcome]) -> list[dict[str, Any]]:
    """The view of every run of ``outcomes`` (stress tests, then firewall bins)."""
    from pytest_rime.report.views import run_view

    views = []
    for run in _runs(outcomes):
        first = run[0]
        info: dict[str, Any] = {"run_name": first.run_name, "test_run_id": first.test_run_id}
        if first.firewall:
            info.update(
                firewall_name=first.firewall,
                firewall_id=first.firewall_id,
                firewall_link=f"#{firewall_anchor(first.firewall_id)}",
                bin_start=_epoch(first.bin_start),
            )
        link = first.link if is_web_link(first.link) else ""
        views.append(run_view(info, [_case(o) for o in run], link=link, fail_on=first.fail_on))
    return views


def _bin(outcome: CaseOutcome) -> dict[str, Any]:
    """A firewall bin from its ``Monitored Metrics`` item (the bin's metrics and events)."""
    metrics = {
        name: value
        for name, value in outcome.metrics.items()
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    }
    return {
        "bin_start": _epoch(outcome.bin_start),
        "bin_end": _epoch(outcome.bin_end),
        "num_rows": int(outcome.bin_rows) if outcome.bin_rows.isdigit() else None,
        "severity": outcome.severity,
        "metrics": metrics,
        "test_run_id": outcome.test_run_id,
    }


def _events(outcome: CaseOutcome) -> list[dict[str, Any]]:
    events: Sequence[Mapping[str, Any]] = outcome.metrics.get("events") or []
    start = _epoch(outcome.bin_start)
    return [{**event, "bin_start": start, "test_run_id": outcome.test_run_id} for event in events]


def firewall_views(outcomes: Sequence[CaseOutcome]) -> list[dict[str, Any]]:
    """The view of every firewall of ``outcomes``: its bins and events, bins linking to runs."""
    from pytest_rime.report.views import firewall_view

    firewalls: dict[str, list[CaseOutcome]] = {}
    for outcome in outcomes:
        if outcome.firewall and outcome.test_id == MONITORING_TEST_ID:
            firewalls.setdefault(outcome.firewall, []).append(outcome)
    views = []
    for name, monitored in firewalls.items():
        bins = [_bin(o) for o in monitored]
        first = bins[0]
        size = (
            first["bin_end"] - first["bin_start"]
            if first["bin_start"] is not None and first["bin_end"] is not None
            else None
        )
        info = {"name": name, "firewall_id": monitored[0].firewall_id, "bin_size_seconds": size}
        events = [event for o in monitored for event in _events(o)]
        views.append(firewall_view(info, bins, events, run_link=lambda rid: f"#{run_anchor(rid)}"))
    return views


def to_html(outcomes: Sequence[CaseOutcome]) -> str:
    """The standalone page of ``outcomes``: every run, then every firewall."""
    from pytest_rime.report.pages import render_report

    return render_report(run_views(outcomes), firewall_views(outcomes), title=TITLE)
