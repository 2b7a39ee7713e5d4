"""Standalone HTML reports open from ``file://`` in headless Chromium with the network blocked.

One is the plugin's (``--rime-report report.html`` in a copy of examples/titanic, embedded
server), one the SDK's (``write_report`` of the run the plugin gated on a real server); both
render their charts and show the plugin's counts without a server or any outside request.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser_helpers import GatedServer, Tab, number_in, open_a_closed_chart
from standalone_pages import outside_urls

from pytest_rime.report.gating import GATES

pytestmark = pytest.mark.browser

TITANIC = Path(__file__).resolve().parents[2] / "examples" / "titanic"


def _open_offline(tab: Tab, report: Path) -> list[str]:
    """Open ``report`` with every request but file/data/blob ones aborted; those tried."""
    tried = tab.offline()
    response = tab.page.goto(report.as_uri())
    assert response is not None and response.ok
    return tried


def _assert_renders(tab: Tab, counts: dict[str, int]) -> None:
    """The run's verdict shows ``counts``; a case's chart is drawn when it opens."""
    page = tab.page
    verdict = page.locator("[id^=verdict]").first
    assert {g: number_in(verdict.locator(f".count-{g}").inner_text()) for g in GATES} == counts
    assert page.locator(".case").count() == sum(counts.values())
    open_a_closed_chart(page)


def test_plugin_report_of_the_titanic_example_renders_offline(
    tab: Tab, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = tmp_path / "titanic"
    shutil.copytree(TITANIC, project, ignore=shutil.ignore_patterns(".pytest_cache", "__pycache__"))
    command = [
        sys.executable, "-m", "pytest", "--rime-config", "rime.yaml", "--rime-report",
        "report.html", "--rime-report", "report.json", "-p", "no:randomly",
        "-o", f"cache_dir={tmp_path / 'cache'}",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600)
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
    report = project / "report.html"
    assert outside_urls(report.read_text()) == []
    (run,) = json.loads((project / "report.json").read_text())["runs"]

    # The file alone: copied away from the project, the embedded server long gone.
    alone = tmp_path_factory.mktemp("artifact") / "report.html"
    shutil.copy(report, alone)
    tried = _open_offline(tab, alone)
    _assert_renders(tab, run["counts"])
    assert tried == []


def test_sdk_report_of_the_gated_run_renders_offline(
    gated: GatedServer, tab: Tab, tmp_path: Path
) -> None:
    report = gated.client.get_test_run(gated.run["test_run_id"]).write_report(tmp_path / "run.html")
    assert outside_urls(report.read_text()) == []
    tried = _open_offline(tab, report)
    _assert_renders(tab, gated.run["counts"])
    failing = tab.page.locator("[id^=failing] .feature-group").first
    assert failing.get_attribute("data-feature") == "age"
    assert tried == []
