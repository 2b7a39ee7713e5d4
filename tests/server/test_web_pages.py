"""The web app's pages over HTTP, on a real server with a real finished stress test run."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest
from server_helpers import Gate, jobs_stub, start_stress_test, wait_for_status
from web_helpers import PAGE, fetch, tail_log

from pytest_rime.proto.v1 import common_pb2, model_testing_pb2, project_pb2, project_pb2_grpc
from pytest_rime.server.app import RunningServer

XSS = "<script>alert(1)</script>"


@dataclass(frozen=True)
class WebRun:
    """A finished run in its own project, and where the web app shows it."""

    base: str
    project_id: str
    job_id: str
    test_run_id: str

    @property
    def run_path(self) -> str:
        return f"/projects/{self.project_id}/test-runs/{self.test_run_id}"


@pytest.fixture
def web_run(
    rime_server: RunningServer,
    rime_channel: grpc.Channel,
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> WebRun:
    """A run whose drifting feature and project are named with markup."""
    dataset = write_tabular_dataset(tmp_path / "data")
    rng = np.random.default_rng(1)
    for path, shift in ((dataset.ref_path, 0.0), (dataset.eval_path, 4.0)):
        frame = pd.read_csv(path)
        frame[XSS] = rng.normal(shift, 1.0, len(frame)).round(3)
        frame.to_csv(path, index=False)
    project = (
        project_pb2_grpc.ProjectManagerStub(rime_channel)
        .CreateProject(project_pb2.CreateProjectRequest(name=f"web {XSS}"))
        .project
    )
    job = start_stress_test(rime_channel, dataset.config(), project_id=project.id)
    job = wait_for_status(rime_channel, job.id)
    assert job.status == common_pb2.JOB_STATUS_SUCCEEDED
    base = f"http://127.0.0.1:{rime_server.web_port}"
    return WebRun(base, project.id, job.id, job.test_run_id)


def test_projects_project_and_run_pages_show_user_strings_as_text(
    rime_server: RunningServer, web_run: WebRun
) -> None:
    for path in ("/", "/projects"):
        index = fetch(web_run.base + path)
        assert index.status == 200
        assert f'href="/projects/{web_run.project_id}"' in index.text
        assert html.escape(f"web {XSS}") in index.text and XSS not in index.text

    project = fetch(f"{web_run.base}/projects/{web_run.project_id}")
    assert project.status == 200
    assert f'href="{web_run.run_path}"' in project.text
    assert f'href="/jobs/{web_run.job_id}"' in project.text
    assert "SUCCEEDED" in project.text

    run = fetch(web_run.base + web_run.run_path)
    assert run.status == 200
    assert XSS not in run.text
    failing = run.text.index('id="failing"')
    assert html.escape(XSS) in run.text[failing : run.text.index('id="by-category"')]
    assert run.header("X-Content-Type-Options") == "nosniff"

    medium = fetch(f"{web_run.base}{web_run.run_path}?fail_on=medium")
    assert medium.status == 200
    bad_gate = fetch(f"{web_run.base}{web_run.run_path}?fail_on={XSS}")
    assert bad_gate.status == 400 and XSS not in bad_gate.text


def test_reports_download_self_contained_pages(
    rime_server: RunningServer, rime_channel: grpc.Channel, web_run: WebRun
) -> None:
    report = fetch(f"{web_run.base}/reports/test-runs/{web_run.test_run_id}.html")
    assert report.status == 200
    assert report.header("Content-Disposition") == (
        f'attachment; filename="rime-test-run-{web_run.test_run_id}.html"'
    )
    assert "/static/" not in report.text and XSS not in report.text
    assert html.escape(XSS) in report.text
    assert rime_server.web_base_url + web_run.run_path in report.text

    missing = fetch(f"{web_run.base}/reports/firewalls/nope.html")
    assert missing.status == 404


def test_firewall_page_links_each_bin_to_its_run(
    rime_server: RunningServer,
    rime_channel: grpc.Channel,
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    dataset = write_tabular_dataset(tmp_path / "data", eval_age_shift=20)
    frame = pd.read_csv(dataset.eval_path)
    stamps = pd.Timestamp("2024-05-01 10:00", tz="UTC") + pd.to_timedelta(
        np.arange(len(frame)) * 15, unit="min"
    )  # 200 rows over about two days
    frame.assign(ts=stamps.strftime("%Y-%m-%d %H:%M:%S")).to_csv(dataset.eval_path, index=False)
    thresholds = {"abnormality_rate": [0.011, 0.022, 0.033]}
    config = dataset.config(
        monitoring_info={"timestamp_col": "ts", "bin_size": "day", "thresholds": thresholds}
    )
    request = model_testing_pb2.StartFirewallFromReferenceRequest(
        test_run_config_json=json.dumps(config), disable_firewall_events=False
    )
    job = jobs_stub(rime_channel).StartFirewallFromReference(request).job
    job = wait_for_status(rime_channel, job.id)
    assert job.status == common_pb2.JOB_STATUS_SUCCEEDED
    base = f"http://127.0.0.1:{rime_server.web_port}"
    bins = rime_server.store.firewalls.bins(job.firewall_id)
    assert len(bins) >= 2

    page = fetch(f"{base}/firewalls/{job.firewall_id}")
    assert page.status == 200
    assert 'id="timeline"' in page.text and 'id="bins"' in page.text
    assert '{"label": "high", "value": 0.033}' in page.text  # the reference config's thresholds
    for stored in bins:
        run_link = f"/projects/{job.project_id}/test-runs/{stored.test_run_id}"
        assert f'href="{run_link}"' in page.text
        assert fetch(base + run_link).status == 200
    project = fetch(f"{base}/projects/{job.project_id}")
    assert f'href="/firewalls/{job.firewall_id}"' in project.text

    report = fetch(f"{base}/reports/firewalls/{job.firewall_id}.html")
    assert report.status == 200 and "attachment" in report.header("Content-Disposition")
    assert f"{rime_server.web_base_url}/projects/{job.project_id}/test-runs/" in report.text


def test_job_page_and_its_log_tail(rime_server: RunningServer, web_run: WebRun) -> None:
    page = fetch(f"{web_run.base}/jobs/{web_run.job_id}")
    assert page.status == 200
    assert 'id="job-log"' in page.text and 'id="job-status"' in page.text

    url = f"{web_run.base}/jobs/{web_run.job_id}/log"
    text, last = tail_log(url)
    log = (rime_server.data_dir / "jobs" / web_run.job_id / "log.txt").read_bytes()
    assert text == log.decode() and text.endswith("[rime server] job succeeded\n")
    assert last["offset"] == len(log) and last["status"] == "SUCCEEDED" and not last["reset"]
    assert last["progress"].endswith("test batches completed")
    tail = fetch(f"{url}?offset={len(log) - 20}").json()
    assert tail["text"] == log[-20:].decode() and tail["offset"] == len(log) and tail["done"]
    rewritten = fetch(f"{url}?offset={len(log) + 1}").json()  # the log was capped since
    assert rewritten["reset"] and rewritten["text"] == log.decode()
    assert fetch(f"{web_run.base}/jobs/{web_run.job_id}/log?offset=-1").status == 400


def test_the_log_of_a_running_job_is_tailed_until_done(
    rime_server: RunningServer,
    rime_channel: grpc.Channel,
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    gate = Gate(tmp_path / "gate")
    config = write_tabular_dataset(tmp_path / "data", model_prelude=gate.prelude).config()
    job = start_stress_test(rime_channel, config)
    url = f"http://127.0.0.1:{rime_server.web_port}/jobs/{job.id}/log"
    with gate.held_open() as pipe:  # the model is importing: the job is running
        running = fetch(f"{url}?offset=0").json()
        assert running["status"] == "RUNNING" and not running["done"]
        pipe.write("go")
    rest, last = tail_log(url, running["offset"])
    assert last["status"] == "SUCCEEDED"
    log = (rime_server.data_dir / "jobs" / job.id / "log.txt").read_text()
    assert running["text"] + rest == log and last["offset"] == len(log.encode())


@pytest.mark.parametrize(
    "path",
    [
        "/static/../rime.db",
        "/static/..",
        "/static/.hidden",
        "/static/%2e%2e%2frime.db",
        "/static/nope.js",
        "/jobs/../rime.db",
        "/jobs/..%2f..%2frime.db/log",
        "/jobs/missing/log",
        "/jobs/missing",
        "/projects/missing",
        "/firewalls/missing",
        f"/nothing/{XSS}",
    ],
)
def test_unknown_paths_and_path_traversal_are_404_and_name_no_server_path(
    rime_server: RunningServer, path: str
) -> None:
    reply = fetch(f"http://127.0.0.1:{rime_server.web_port}{path}")
    assert reply.status == 404
    assert str(rime_server.data_dir) not in reply.text and XSS not in reply.text


def test_static_assets_are_served_with_their_type(rime_server: RunningServer) -> None:
    base = f"http://127.0.0.1:{rime_server.web_port}/static"
    script = fetch(f"{base}/rime.js", headers=PAGE)
    assert script.status == 200 and script.header("Content-Type").startswith("text/javascript")
    assert fetch(f"{base}/chart.umd.min.js").body.startswith(b"/*")
    assert fetch(f"{base}/rime.css").header("Content-Type").startswith("text/css")


def test_the_project_page_counts_each_run_as_its_run_page_and_pytest_do(web_run: WebRun) -> None:
    run = fetch(web_run.base + web_run.run_path)
    attribute = run.text.split("data-gate-counts='", 1)[1].split("'", 1)[0]
    run_counts = json.loads(html.unescape(attribute))
    assert run_counts["warned"] > 0 and run_counts["passed"] > 0  # a count of each kind
    project = fetch(f"{web_run.base}/projects/{web_run.project_id}").text
    row = project[project.index(f'href="{web_run.run_path}"') :].split("</tr>", 1)[0]
    for gate in ("failed", "error", "warned", "passed", "skipped"):
        cell = row.split(f'class="num count-{gate}">', 1)[1].split("<", 1)[0]
        assert int(cell) == run_counts[gate], gate
