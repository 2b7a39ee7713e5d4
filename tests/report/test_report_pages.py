"""Pages: user strings escaped, standalone files self-contained, static files only by name."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from pytest_rime.report.pages import (
    render_error,
    render_firewall,
    render_job,
    render_login,
    render_project,
    render_projects,
    render_report,
    render_run,
    static_asset,
)
from pytest_rime.report.views import (
    firewall_view,
    job_view,
    project_view,
    projects_view,
    run_view,
)
from pytest_rime.vocabulary import DAILY

XSS = "<script>alert(1)</script>"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each script and style element."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._in: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag in ("script", "style"):
            self._in = tag
            (self.scripts if tag == "script" else self.styles).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in == "style":
            self.styles[-1] += data

    def ids(self) -> list[str]:
        return [a["id"] for _, a in self.tags if "id" in a]

    def with_class(self, name: str) -> list[dict[str, str]]:
        return [a for _, a in self.tags if name in a.get("class", "").split()]


def cases(feature: str = "Age") -> list[dict[str, Any]]:
    return [
        {
            "test_id": "drift.feature_drift",
            "test_batch_type": "Feature Drift",
            "category": "Drift",
            "features": [feature],
            "status": "FAIL",
            "severity": "HIGH",
            "importance_score": 0.9,
            "metrics": {
                "statistic": 0.5,
                "thresholds": [0.1, 0.2, 0.3],
                "distribution": {"labels": [feature, "b"], "ref": [0.5, 0.5], "eval": [0.9, 0.1]},
                "examples": [{"value": feature}],
            },
            "description": f"Feature {feature!r} drifted",
        },
        {
            "test_id": "model_performance.accuracy",
            "test_batch_type": "Accuracy",
            "category": "Model Performance",
            "features": [],
            "status": "PASS",
            "severity": "NONE",
            "importance_score": 0.0,
            "metrics": {"metric": "Accuracy", "ref_metric": 0.8, "eval_metric": 0.79},
            "description": "fine",
        },
    ]


def a_run(feature: str = "Age", name: str = "Titanic", run_id: str = "r1") -> dict[str, Any]:
    return run_view(
        {"run_name": name, "test_run_id": run_id, "project_id": "p1"},
        cases(feature),
        link="http://127.0.0.1:8080/projects/p1/test-runs/r1",
    )


def a_firewall(name: str = "fw", firewall_id: str = "f1") -> dict[str, Any]:
    start = 1714521600
    bins = [
        {
            "bin_start": start + i * DAILY,
            "bin_end": start + (i + 1) * DAILY,
            "num_rows": 10,
            "severity": "NONE",
            "metrics": {XSS: float(i)},
            "test_run_id": f"b{i}",
        }
        for i in range(3)
    ]
    events = [
        {
            "bin_start": start,
            "metric": XSS,
            "value": 0.0,
            "threshold": 0.0,
            "severity": "LOW",
            "description": XSS,
        }
    ]
    return firewall_view(
        {"name": name, "firewall_id": firewall_id, "bin_size_seconds": DAILY}, bins, events
    )


def test_run_page_hooks() -> None:
    page = render_run(a_run())
    tags = Tags(page)
    ids = tags.ids()
    assert ids.index("verdict") < ids.index("failing") < ids.index("by-category")
    for hook in ("filter-category", "filter-severity", "filter-feature", "search", "shown-count"):
        assert hook in ids
    verdict = next(a for _, a in tags.tags if a.get("id") == "verdict")
    assert json.loads(verdict["data-gate-counts"])["failed"] == 1
    assert [c["data-gate"] for c in tags.with_class("case")] == ["failed", "passed"]
    assert json.loads(tags.with_class("case")[0]["data-features"]) == ["Age"]
    canvases = tags.with_class("chart")
    assert len(canvases) == 2
    assert next(a for t, a in tags.tags if t == "script")["id"] == "rime-data"
    charts = json.loads(tags.scripts[0])["charts"]
    assert set(charts) == {c["data-chart"] for c in canvases}
    # The first failing case is open; the page loads its assets from the server.
    assert re.search(r'id="case-r0-0"[^>]*>\s*<details open>', page)
    assert [a["src"] for t, a in tags.tags if t == "script" and "src" in a] == [
        "/static/chart.umd.min.js",
        "/static/rime.js",
    ]
    assert any(a.get("href") == "/static/rime.css" for _, a in tags.tags)


def test_feature_names_and_descriptions_are_text_not_markup() -> None:
    for page in (
        render_run(a_run(XSS)),
        render_run(a_run(XSS), standalone=True),
        render_report([a_run(XSS, name=XSS)], [a_firewall(XSS)], title=XSS),
        render_firewall(a_firewall(XSS)),
    ):
        tags = Tags(page)
        # Only the page's own scripts: its data, Chart.js and rime.js.
        assert len([t for t, _ in tags.tags if t == "script"]) == 3
        assert XSS not in page
        assert html.escape(XSS, quote=False) in page
        # The page data carries the name with < and > escaped inside the script element.
        assert "\\u003cscript\\u003e" in tags.scripts[0]
        assert "<" not in tags.scripts[0]


def test_run_context_is_escaped_in_links_and_text() -> None:
    run = {
        "run_name": XSS,
        "project_name": XSS,
        "project_link": "/projects/p1",
        "firewall_name": XSS,
        "firewall_link": "#firewall-f1",
        "bin_start": 1714521600,
        "model_task": XSS,
    }
    for standalone in (False, True):
        page = render_run(run_view(run, cases(XSS)), standalone=standalone)
        assert XSS not in page
        assert f'<a href="#firewall-f1">{html.escape(XSS, quote=False)}</a>' in page


def test_the_job_login_error_and_project_pages_escape_too() -> None:
    job = {
        "id": "j1",
        "type": "MODEL_STRESS_TEST",
        "status": "FAILED",
        "project_id": "p1",
        "error_message": XSS,
    }
    pages = [
        render_job(job_view(job, log=XSS)),
        render_login(error=XSS, next_url='/x"><script>'),
        render_error(404, XSS),
        render_projects(projects_view([{"id": "p1", "name": XSS, "description": XSS}])),
        render_project(project_view({"id": "p1", "name": XSS}, [], [], [job])),
    ]
    for page in pages:
        assert XSS not in page and "<script>" not in page.replace("<script>{", "")


def test_job_page_polls_its_log() -> None:
    running = {"id": "j1", "type": "FIREWALL_BATCH_TEST", "status": "RUNNING", "project_id": "p1"}
    tags = Tags(render_job(job_view(running, log="line\n", log_offset=5)))
    log = next(a for t, a in tags.tags if t == "pre")
    assert log["id"] == "job-log" and log["data-log-url"] == "/jobs/j1/log"
    assert log["data-offset"] == "5" and log["data-finished"] == "false"
    assert {"job-status", "job-progress"} <= set(tags.ids())


def resource_urls(page: str) -> list[str]:
    """Every URL the page would load or link: src, href, and url(...) in its CSS."""
    tags = Tags(page)
    urls = [a[k] for _, a in tags.tags for k in ("src", "href") if k in a]
    for css in tags.styles:
        urls += re.findall(r"url\(\s*['\"]?([^'\")]*)", css)
    return urls


def test_standalone_pages_load_nothing_from_anywhere() -> None:
    pages = [
        render_report([a_run(), a_run(name="Other", run_id="r2")], [a_firewall()], title="CI"),
        render_run(a_run(), standalone=True),
        render_firewall(a_firewall(), standalone=True),
    ]
    for page in pages:
        urls = resource_urls(page)
        assert not [u for u in urls if re.match(r"(?i)\s*(https?:)?//", u)], urls
        tags = Tags(page)
        assert not [a for t, a in tags.tags if t == "script" and "src" in a]
        assert not [a for t, a in tags.tags if t == "link"]
        assert "window.Chart" in page and "function drawChart" in page  # inlined
        assert "</script" not in "".join(tags.scripts)
    # The run's own address is shown as a link, which is not a resource the file loads.
    assert "http://127.0.0.1:8080/projects/p1/test-runs/r1" in pages[1]


def test_a_report_of_several_runs_keeps_ids_unique() -> None:
    page = render_report(
        [a_run(), a_run(name="Other", run_id="r2")],
        [a_firewall(), a_firewall("b", "f2")],
        title="CI",
    )
    ids = Tags(page).ids()
    assert len(ids) == len(set(ids))
    assert {"verdict", "verdict-2", "timeline", "timeline-2", "bins", "events-2"} <= set(ids)
    # Sections are anchored by run and firewall id, so links can point into the file.
    assert {"run-r1", "run-r2", "firewall-f1"} <= set(ids)
    assert 'href="#run-r2"' in page


def test_firewall_page_hooks() -> None:
    tags = Tags(render_firewall(a_firewall()))
    assert {"timeline", "bins", "events"} <= set(tags.ids())
    assert [c["data-metric"] for c in tags.with_class("chart")] == [XSS]
    charts = json.loads(tags.scripts[0])["charts"]
    assert charts["f0-t0"]["datasets"][0]["data"] == [0.0, 1.0, 2.0]


@pytest.mark.parametrize(
    "name",
    ["../pages.py", "..", "/etc/passwd", "static/rime.js", "sub/rime.js", "", "nope.js", "."],
)
def test_static_asset_serves_only_files_of_its_folder(name: str) -> None:
    assert static_asset(name) is None


def test_static_assets() -> None:
    chart = static_asset("chart.umd.min.js")
    assert chart is not None and chart[1].startswith("text/javascript")
    assert b"Chart.js v4." in chart[0]
    css = static_asset("rime.css")
    assert css is not None and css[1].startswith("text/css")
    assert not re.search(rb"url\(|@import|https?://", css[0])
    licence = static_asset("chart.js.LICENSE.md")
    assert licence is not None and b"MIT" in licence[0]


def test_login_and_error_pages_carry_their_css_since_a_visitor_without_a_key_gets_no_static() -> (
    None
):
    for page in (render_login(), render_error(401, "a key is needed")):
        tags = Tags(page)
        assert tags.styles and ".topbar" in tags.styles[0]
        assert not any("/static/rime.css" in url for url in resource_urls(page))


def test_pages_have_no_inline_event_handlers_which_the_servers_csp_would_block() -> None:
    view = run_view({"run_name": "r"}, [])
    for page in (
        render_run(view),
        render_login(),
        render_job(job_view({"id": "j", "status": "RUNNING", "type": "T", "project_id": "p"})),
    ):
        assert not re.search(r"\son[a-z]+\s*=", page)
