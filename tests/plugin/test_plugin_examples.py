"""The example projects run as documented: `pytest --rime-config rime.yaml` in their directory."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats
from standalone_pages import read_page

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _copy_example(pytester: pytest.Pytester, name: str) -> None:
    shutil.copytree(
        EXAMPLES / name,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".pytest_cache", "__pycache__"),
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", ["titanic", "apartments"])
def test_example_gate_passes(pytester: pytest.Pytester, name: str) -> None:
    _copy_example(pytester, name)
    result = pytester.runpytest_subprocess("--rime-config", "rime.yaml", timeout=300)
    assert result.ret == pytest.ExitCode.OK
    output = result.stdout.str()
    assert "starting stress test on 127.0.0.1:" in output  # progress while the run goes
    assert "test batches done" in output
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] > 50 and "failed" not in outcomes
    items = outcomes["passed"] + outcomes.get("skipped", 0)
    assert f"collected {items} items" in output  # exactly the rime items
    assert all(
        line.startswith(("rime.yaml ", ".", "s"))
        for line in result.stdout.lines
        if line.endswith("%]")
    )
    summary = output[output.index("= rime =") :]
    assert "no test case reached its fail_on gate" in summary and "by category:" in summary


@pytest.mark.slow
def test_titanic_regression_fails_naming_the_feature(pytester: pytest.Pytester) -> None:
    _copy_example(pytester, "titanic")
    result = pytester.runpytest_subprocess("--rime-config", "rime_regression.yaml", timeout=300)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    summary = result.stdout.str().split("= rime =", 1)[1]
    first_feature = summary.split("failing by feature:\n", 1)[1].splitlines()[0].strip()
    assert first_feature.startswith("gender:") and "Feature Drift" in first_feature


@pytest.mark.slow
def test_titanic_firewall_fails_naming_the_bad_day(pytester: pytest.Pytester) -> None:
    _copy_example(pytester, "titanic")
    days = pd.read_csv(pytester.path / "eval_days.csv")
    ref_gender = pd.read_csv(pytester.path / "ref.csv")["gender"].value_counts()
    labels = pd.to_datetime(days["timestamp"], utc=True).dt.strftime("%Y-%m-%d")
    drifting = [
        label
        for label, rows in days.groupby(labels)
        if stats.chi2_contingency([ref_gender, rows["gender"].value_counts()[ref_gender.index]])[1]
        < 1e-6
    ]
    assert len(drifting) == 1 and labels.nunique() > 1
    result = pytester.runpytest_subprocess(
        "--rime-config", "rime_firewall.yaml", "--rime-report", "report.html",
        "--junitxml", "junit.xml", timeout=300,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    summary = result.stdout.str().split("= rime firewalls =", 1)[1]
    assert re.findall(r"^    (\d{4}-\d\d-\d\d): worst", summary, re.MULTILINE) == drifting
    assert not any(label in summary for label in set(labels) - set(drifting))
    assert "gender (" in summary
    # The HTML report has the firewall, every bin's run, and the links items carry.
    page = read_page((pytester.path / "report.html").read_text(encoding="utf-8"))
    props = [
        {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    ]
    bin_links = {p["link"] for p in props if p.get("firewall")}
    assert len(bin_links) == labels.nunique()
    [firewall_link] = {p["firewall_link"] for p in props if p.get("firewall")}
    for link in (*bin_links, firewall_link):
        assert link.startswith("report.html#") and link.split("#")[1] in page.ids
        assert f"#{link.split('#')[1]}" in page.urls  # the firewall's bins table, the runs'
