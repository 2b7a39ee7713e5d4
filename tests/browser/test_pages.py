"""Projects index, project, firewall and job pages in headless Chromium, on a real server.

The data is what the plugin put on the server (a gated run, a daily firewall and their jobs),
read back through the SDK for the expected values; one job is watched live while it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_helpers import GatedServer, Tab, chart_data_length, wait_for_chart
from server_helpers import Gate

from pytest_rime.sdk import RIMEStressTestJob

pytestmark = pytest.mark.browser

JOB_TIMEOUT_MS = 180_000
"""How long a watched job page gets to show the job's end (a stress test in a worker)."""


def _path(url: str) -> str:
    return urlsplit(url).path


def _credit_job(gated: GatedServer) -> RIMEStressTestJob:
    """The stress test job that produced the gated run (found through the SDK)."""
    (job,) = gated.client.list_stress_test_jobs(project_id=gated.project_id)
    assert job.get_test_run_id() == gated.run["test_run_id"]
    return job


def test_projects_index_leads_to_the_project_its_run_firewall_and_jobs(
    gated: GatedServer, tab: Tab
) -> None:
    page = tab.page
    for path in ("/", "/projects"):
        response = page.goto(gated.url(path))
        assert response is not None and response.status == 200
    tab.snap("projects")
    row = page.locator("#projects .project-row", has_text="credit scoring")
    assert "the browser tests' project" in row.inner_text()
    row.locator("a").click()
    page.wait_for_selector("#runs")
    tab.snap("project")
    run_link = page.locator("#runs a", has_text="Credit")
    assert run_link.get_attribute("href") == _path(gated.run["link"])
    firewall_link = page.locator("#firewalls a", has_text="Daily")
    assert firewall_link.get_attribute("href") == _path(gated.firewall["link"])
    # The stress test and the firewall's job, both finished.
    jobs = page.locator("#jobs tr:has(a)")
    assert jobs.count() >= 2
    assert set(jobs.locator(".status").all_inner_texts()) == {"SUCCEEDED"}
    run_link.click()
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict h1").inner_text() == "Credit"


def test_firewall_page_plots_every_metric_per_bin_and_links_each_bin_to_its_run(
    gated: GatedServer, tab: Tab
) -> None:
    page = tab.page
    response = page.goto(gated.firewall["link"])
    assert response is not None and response.status == 200
    crumbs = page.locator("nav.crumbs")
    assert crumbs.inner_text().split(" / ") == ["Projects", "credit scoring", "firewall Daily"]
    firewall = gated.client.get_firewall_for_project(gated.project_id)
    bins, events = firewall.get_bins(), firewall.get_events()
    metrics = {c.removeprefix("metrics.") for c in bins.columns if c.startswith("metrics.")}
    canvases = page.locator("#timeline canvas.chart[data-metric]")
    assert set(canvases.evaluate_all("cs => cs.map(c => c.dataset.metric)")) <= metrics
    assert canvases.count() > 0
    for canvas in canvases.all():
        assert wait_for_chart(canvas) > 0
        assert chart_data_length(canvas) == len(bins)
    assert page.locator("#events tr:has(td)").count() == len(events) > 0
    tab.snap("firewall")
    rows = page.locator("#bins tr:has(td)")
    assert rows.count() == len(bins) == len(gated.firewall["bins"])
    links = rows.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert [link.rsplit("/", 1)[-1] for link in links] == bins["test_run_id"].tolist()
    # The bad day's run is one click away.
    (bad_day,) = gated.firewall["bad_bins"]
    (bad,) = [b for b in gated.firewall["bins"] if b["bin"] == bad_day]
    page.locator(f"#bins a[href$='{bad['test_run_id']}']").click()
    page.wait_for_selector("#verdict")
    assert bad["test_run_id"] in page.locator("#verdict").inner_text()


def test_job_page_shows_status_progress_and_log(gated: GatedServer, tab: Tab) -> None:
    page = tab.page
    job = _credit_job(gated)
    response = page.goto(gated.url(f"/jobs/{job.job_id}"))
    assert response is not None and response.status == 200
    assert page.locator("#job-status").inner_text() == "SUCCEEDED"
    assert page.locator("#job-progress").inner_text().strip()
    assert page.locator("#job-progress-bar").evaluate("bar => bar.value") == 1
    tab.snap("job")
    log = page.locator("#job-log").inner_text()
    last_line = job.get_logs().strip().splitlines()[-1]
    assert log.strip().splitlines()[-1] == last_line
    page.locator("a", has_text=gated.run["test_run_id"]).click()
    page.wait_for_selector("#verdict")


def test_job_page_follows_a_running_job_to_its_end(
    gated: GatedServer, tab: Tab, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    gate = Gate(tmp_path / "gate")
    config = write_tabular_dataset(tmp_path / "data", model_prelude=gate.prelude).config(
        run_name="watched"
    )
    project = gated.client.create_project("watched job", "a job the browser watches")
    job = gated.client.start_stress_test(config, project_id=project.project_id)
    page = tab.page
    with gate.held_open() as pipe:  # the model is blocked importing: the job is running
        page.goto(gated.url(f"/jobs/{job.job_id}"))
        assert page.locator("#job-status").inner_text() == "RUNNING"
        assert page.locator("#job-log").get_attribute("data-finished") == "false"
        tab.snap("running")
        # The page polls the log and reloads itself once the job is done.
        with page.expect_navigation(timeout=JOB_TIMEOUT_MS):
            pipe.write("go")
            pipe.close()  # end of file: the model's import returns
    assert page.locator("#job-status").inner_text() == "SUCCEEDED"
    assert page.locator("#job-log").get_attribute("data-finished") == "true"
    assert (
        page.locator("#job-log").inner_text().strip().splitlines()[-1]
        == (job.get_logs().strip().splitlines()[-1])
    )
    assert page.locator("a", has_text=job.get_test_run_id()).count() == 1
