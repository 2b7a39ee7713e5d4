"""The standalone HTML report of a session (``--rime-report report.html``) and its links."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from plugin_helpers import RimeProject
from standalone_pages import counts_without_total, outside_urls, page_data, read_page
from test_plugin_report import FIREWALL_OUTCOMES, OUTCOMES

from pytest_rime.plugin.htmlreport import report_link
from pytest_rime.plugin.report import GATES, write_report

TITANIC = Path(__file__).resolve().parents[2] / "examples" / "titanic"

_RUN_LINE = re.compile(r"^(?P<name>\S.*?): (?P<total>\d+) test cases: (?P<counts>.+)$", re.M)


def terminal_counts(output: str) -> dict[str, dict[str, int]]:
    """``{run name: {gate: count}}`` from the terminal's ``rime`` summary lines."""
    summary = output[output.index("= rime =") :]
    counts = {}
    for match in _RUN_LINE.finditer(summary):
        found = dict.fromkeys(GATES, 0)
        for part in match["counts"].split(", "):
            number, word = part.split(" ", 1)
            found["error" if word.startswith("engine error") else word] = int(number)
        assert sum(found.values()) == int(match["total"])
        counts[match["name"]] = found
    return counts


def _junit_links(junit: Path) -> set[str]:
    return {
        str(p.get("value"))
        for p in ET.parse(junit).getroot().iter("property")
        if p.get("name") == "link"
    }


def test_page_of_outcomes_has_every_run_and_firewall_with_the_plugins_counts(
    tmp_path: Path,
) -> None:
    bins = [
        replace(
            o,
            test_run_id=f"bin-{o.bin}",
            firewall_id="fw-1",
            bin_rows="150",
            link="",
            metrics={**o.metrics, "num_drifting_features": 1.0},
        )
        for o in FIREWALL_OUTCOMES
    ]
    path = tmp_path / "out" / "report.html"
    write_report(path, [*OUTCOMES, *bins])
    html = path.read_text(encoding="utf-8")
    page = read_page(html)
    # One section per run (stress test, then each bin), with the plugin's own counts.
    expected = [OUTCOMES, bins[:2], bins[2:]]
    assert [counts_without_total(c) for c in page.gate_counts] == [
        {gate: sum(o.gate == gate for o in run) for gate in GATES} for run in expected
    ]
    # Nothing leaves the file; the server page of the run is named as text.
    assert outside_urls(html) == []
    assert "http://web/runs/run-1" in html
    assert {"#run-bin-2024-05-01", "#run-bin-2024-05-02"} <= set(page.urls)  # bins -> runs
    sections = {"run-run-1", "run-bin-2024-05-01", "run-bin-2024-05-02", "firewall-fw-1"}
    assert sections <= set(page.ids)  # what the items' links point at
    charts = page_data(html)["charts"]
    assert any(chart["type"] == "line" for chart in charts.values())  # the firewall timeline


def test_report_links_are_relative_to_the_junit_directory(tmp_path: Path) -> None:
    report = tmp_path / "ci out" / "report.html"
    assert report_link(report, "run-abc", tmp_path / "ci out") == "report.html#run-abc"
    assert report_link(report, "run-abc", tmp_path) == "ci%20out/report.html#run-abc"
    assert report_link(report, "firewall-f", tmp_path / "x") == (
        "../ci%20out/report.html#firewall-f"
    )


def test_html_and_json_reports_together_and_server_links(
    rime_project: RimeProject, tmp_path: Path
) -> None:
    rime_project.write(eval_file="eval_broken.csv")
    html_path, json_path, junit = tmp_path / "r.html", tmp_path / "r.json", tmp_path / "j.xml"
    result = rime_project.run(
        "--rime-report", str(html_path), "--rime-report", str(json_path), "--junitxml", str(junit)
    )
    output = result.stdout.str()
    html = html_path.read_text(encoding="utf-8")
    data = json.loads(json_path.read_text())
    [section] = read_page(html).gate_counts
    assert counts_without_total(section) == data["runs"][0]["counts"]
    assert terminal_counts(output) == {"Tiny": data["runs"][0]["counts"]}
    assert f"rime HTML report: {html_path}" in output
    # The server outlives the session: items link to its page (get_link()).
    assert _junit_links(junit) == {data["runs"][0]["link"]}
    assert data["runs"][0]["link"].startswith("http://")


@pytest.mark.slow
def test_titanic_html_report_on_the_embedded_server(pytester: pytest.Pytester) -> None:
    shutil.copytree(
        TITANIC,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".pytest_cache", "__pycache__"),
    )
    result = pytester.runpytest_subprocess(
        "--rime-config", "rime.yaml", "--rime-report", "report.html",
        "--junitxml", "junit.xml", timeout=300,
    )  # fmt: skip
    html = (pytester.path / "report.html").read_text(encoding="utf-8")
    assert outside_urls(html) == []  # renders with no server and no network
    page = read_page(html)
    [counts] = page.gate_counts
    assert {"Titanic": counts_without_total(counts)} == terminal_counts(result.stdout.str())
    outcomes = result.parseoutcomes()
    assert counts["total"] == sum(outcomes.get(k, 0) for k in ("passed", "failed", "skipped"))
    default = pytester.path / ".pytest_cache" / "d" / "rime" / "report.html"
    assert not default.exists()  # one file: the one asked for
    [link] = _junit_links(pytester.path / "junit.xml")
    assert re.fullmatch(r"report\.html#run-\S+", link)
    assert link.split("#", 1)[1] in page.ids  # the anchor is the run's section
    assert any(
        chart["datasets"][0]["label"] == "reference" for chart in page_data(html)["charts"].values()
    )  # a drift case's ref vs eval distribution
    # Without an HTML --rime-report, an embedded session writes one to the cache dir.
    again = pytester.runpytest_subprocess(
        "--rime-config", "rime.yaml", "--junitxml", "out/junit.xml", timeout=300
    )
    assert f"rime HTML report: {default}" in again.stdout.str()
    assert read_page(default.read_text(encoding="utf-8")).gate_counts == [counts]
    [link] = _junit_links(pytester.path / "out" / "junit.xml")
    assert link.startswith("../.pytest_cache/d/rime/report.html#run-")
