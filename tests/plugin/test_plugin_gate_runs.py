"""End-to-end gate behaviour: real pytest subprocesses against a real server."""

from __future__ import annotations

import json
import re
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from plugin_helpers import RimeProject, failing, free_port

from pytest_rime.plugin.render import generic_reason
from pytest_rime.sdk import RIMEClient


def _ignore_high(cases: pd.DataFrame) -> list[str]:
    """Names of the tests that have a HIGH case (ignored to make a passing gate), and one more.

    A healthy model on clean data has no HIGH case; the first test of the run is ignored too,
    so the ignore list is never empty.
    """
    high = set(cases.loc[cases["severity"] == "HIGH", "test_batch_type"])
    return sorted(high | {cases["test_batch_type"].iloc[0]})


def test_passing_gate_with_warnings_and_skips(
    rime_project: RimeProject, clean_cases: pd.DataFrame
) -> None:
    ignored = _ignore_high(clean_cases)
    rime_project.write(extra=f"ignore: {{tests: {json.dumps(ignored)}}}\n")
    result = rime_project.run("-rs")
    kept = clean_cases[~clean_cases["test_batch_type"].isin(ignored)]
    below_gate = kept[kept["status"].isin(["WARNING", "FAIL"])]
    assert len(below_gate) > 0 and len(failing(kept)) == 0
    skipped = (kept["status"] == "SKIP").sum() + len(clean_cases) - len(kept)
    passed = len(kept) - (kept["status"] == "SKIP").sum()
    # Below-gate findings are folded into the rime summary, not one warning each.
    result.assert_outcomes(passed=passed, skipped=skipped, warnings=0)
    assert result.ret == pytest.ExitCode.OK
    output = result.stdout.str()
    assert "RimeWarning" not in output
    assert "FAIL" not in output  # a passing gate never reads as a failure
    assert "no test case reached its fail_on gate" in output
    summary = output[output.index("= rime =") :]
    assert "below the gate by feature (passed; -v or --rime-show-warnings lists each):" in summary
    skip_lines = [line for line in result.stdout.lines if line.startswith("SKIPPED [")]
    assert skip_lines and all(" rime.yaml:3: " in line for line in skip_lines)  # the entry
    assert "collect.py" not in output  # never the plugin's source
    for _, case in kept[kept["status"] == "SKIP"].iterrows():
        assert case["description"][:40] in output  # the skip reason is the case's description
        # The summary says why, reasons differing only by their feature grouped.
        assert f"x {generic_reason(case['description'], tuple(case['features']))[:40]}" in summary
    assert f"ignored by rime.yaml: test '{ignored[0]}' is in the ignore list" in output
    engine_skips = (kept["status"] == "SKIP").sum()
    assert f"skipped: {engine_skips} of {len(clean_cases)} test cases" in summary
    assert "rime: Tiny:" in output  # progress or cache line before the items
    shown = rime_project.run("--rime-show-warnings")
    shown.assert_outcomes(passed=passed, skipped=skipped, warnings=len(below_gate))
    lines = [line for line in shown.stdout.lines if "RimeWarning" in line]
    assert len(lines) == len(below_gate)
    assert all(" finding, below fail_on=high: " in line for line in lines)
    assert all(line.strip().startswith("rime.yaml:3: RimeWarning: Tiny::") for line in lines)
    assert "FAIL" not in shown.stdout.str()
    verbose = rime_project.run("-v")
    verbose.assert_outcomes(passed=passed, skipped=skipped, warnings=len(below_gate))


def test_failing_gate_names_the_broken_feature(
    rime_project: RimeProject, broken_cases: pd.DataFrame, tmp_path: Path
) -> None:
    rime_project.write(eval_file="eval_broken.csv")
    report = tmp_path / "report.json"
    result = rime_project.run("--rime-report", str(report))
    expected_failures = failing(broken_cases)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes()["failed"] == len(expected_failures)
    output = result.stdout.str()
    summary = output[output.index("= rime =") :]
    first_feature_line = summary.split("failing by feature:\n", 1)[1].splitlines()[0]
    assert first_feature_line.strip().startswith("x1:")  # the planted drift, worst first
    assert "Feature Drift" in first_feature_line and "worst HIGH" in first_feature_line
    assert summary.index("failing by feature") < summary.index("by category")
    # The failure text: test, features, status, severity, measured values, threshold, link.
    drift = output[output.index("Tiny::Drift::Feature Drift[x1]: severity HIGH") :]
    for label in (
        "test:",
        "features:    x1",
        "status:      FAIL",
        "severity:",
        "measured:",
        "threshold:",
        "link:        http://",
    ):
        assert label in drift.split("\n_")[0]
    data = json.loads(report.read_text())
    assert len(data["cases"]) == len(broken_cases)
    assert data["runs"][0]["failing_features"]["x1"] == "HIGH"


def test_warning_below_the_gate_and_fail_on_override(
    rime_project: RimeProject, clean_cases: pd.DataFrame
) -> None:
    low = clean_cases[
        (clean_cases["status"] == "WARNING") & (clean_cases["severity"] == "LOW")
    ].iloc[0]
    rime_project.write()
    features = ",".join(low["features"])
    nodeid = f"rime.yaml::Tiny::{low['category']}::{low['test_batch_type']}[{features}]"
    # node ids read <file>::<run>::<category>::<test>[<features>]
    below = rime_project.run(nodeid, "--rime-show-warnings")
    below.assert_outcomes(passed=1, warnings=1)
    assert "LOW finding, below fail_on=high" in below.stdout.str()
    at_gate = rime_project.run(nodeid, "--rime-fail-on", "low")
    at_gate.assert_outcomes(failed=1)
    per_category = {"categories": {low["category"]: "low"}}
    rime_project.write(extra=f"fail_on: {json.dumps(per_category)}\n")
    rime_project.run(nodeid).assert_outcomes(failed=1)


def test_marker_selection_by_category(rime_project: RimeProject, clean_cases: pd.DataFrame) -> None:
    rime_project.write()
    result = rime_project.run("-m", "rime_drift", "--strict-markers", "--collect-only", "-q")
    drift = clean_cases[clean_cases["category"] == "Drift"]
    assert len(drift) > 0
    lines = [line for line in result.stdout.lines if line.startswith("rime.yaml::")]
    assert len(lines) == len(drift)
    assert all(line.startswith("rime.yaml::Tiny::Drift::") for line in lines)
    assert f"{len(drift)}/{len(clean_cases)} tests collected" in result.stdout.str()
    assert "rime: Tiny:" not in result.stdout.str()  # no progress lines under -q


def test_junit_xml_properties(
    rime_project: RimeProject, broken_cases: pd.DataFrame, tmp_path: Path
) -> None:
    rime_project.write(eval_file="eval_broken.csv")
    junit = tmp_path / "junit.xml"
    rime_project.run("--junitxml", str(junit))
    testcases = ET.parse(junit).getroot().findall(".//testcase")
    assert len(testcases) == len(broken_cases)
    for testcase in testcases:
        props = {p.get("name"): p.get("value") for p in testcase.iter("property")}
        assert {
            "severity",
            "category",
            "features",
            "importance_score",
            "metrics",
            "test_run_id",
            "link",
        } <= set(props)
        json.loads(props["metrics"] or "")
        if testcase.find("failure") is not None:
            assert props["severity"] == "HIGH"


def test_bad_yaml_is_a_usage_error_naming_the_key(rime_project: RimeProject) -> None:
    rime_project.write(extra="fail_on: {categories: {Drift: sometimes}}\n")
    result = rime_project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "rime.yaml: stress_tests[0].fail_on.categories.Drift: "
        "expected one of low, medium, high, got 'sometimes'" in result.stderr.str()
    )
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_unreachable_server_is_one_clear_collection_error(rime_project: RimeProject) -> None:
    port = free_port()
    rime_project.write(server=f"server: {{address: '127.0.0.1:{port}', connect_timeout: 0.5}}")
    result = rime_project.run()
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection error
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert output.count(f"cannot reach the RIME server at 127.0.0.1:{port}") == 1
    assert "rime.yaml: stress_tests[0] (Tiny)" in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_cache_hit_on_rerun_starts_no_job(
    rime_project: RimeProject, sdk_client: RIMEClient
) -> None:
    rime_project.write()
    rime_project.run()  # fills the cache (or hits it)
    jobs = len(sdk_client.list_stress_test_jobs())
    again = rime_project.run()
    cached_run = re.search(r"reusing cached results of run (\w+)", again.stdout.str())
    assert cached_run is not None
    collect_only = rime_project.run("--collect-only", "-q")
    assert "rime.yaml::Tiny::Drift::Feature Drift[x1]" in collect_only.stdout.str()
    assert len(sdk_client.list_stress_test_jobs()) == jobs
    rerun = rime_project.run("--rime-rerun")
    assert "starting stress test" in rerun.stdout.str()
    assert len(sdk_client.list_stress_test_jobs()) == jobs + 1
    new_run = re.search(r"test cases in [\d.]+s \(run (\w+)\)", rerun.stdout.str())
    assert new_run is not None and new_run[1] != cached_run[1]
    # A cached run the server no longer has is run again.
    for entry in (rime_project.cache_dir / "d" / "rime" / "results").glob("*.json"):
        entry.write_text(entry.read_text().replace(new_run[1], "run-deleted-on-the-server"))
    assert "starting stress test" in rime_project.run().stdout.str()
    assert len(sdk_client.list_stress_test_jobs()) == jobs + 2


def test_failed_job_and_rejected_config_are_collection_errors(rime_project: RimeProject) -> None:
    ref, evaluation = rime_project.data / "ref.csv", rime_project.data / "eval.csv"
    (rime_project.pytester.path / "rime.yaml").write_text(
        textwrap.dedent(
            f"""\
            server: {{address: '{rime_project.server.address}'}}
            stress_tests:
              - name: NoLabel
                config:
                  data_info: {{label_col: nope, ref_path: {ref}, eval_path: {evaluation}}}
                  model_info: {{path: {rime_project.data / "model" / "model.py"}}}
              - name: Typo
                config:
                  data_info: {{lable_col: y, ref_path: {ref}, eval_path: {evaluation}}}
            """
        )
    )
    result = rime_project.run()
    result.assert_outcomes(errors=2)
    output = result.stdout.str()
    failed_job = output.split("rime.yaml: stress_tests[0] (NoLabel): stress test job ", 1)[1]
    # One line naming the user's file: no upload URI, no job log, no traceback.
    assert failed_job.split("\n", 1)[0].endswith(
        "FAILED: DataError: data_info.label_col: ref.csv has no column 'nope'"
    )
    assert "rime://" not in output and "uploads/" not in output
    assert "last lines of the job's log:" not in output and "Traceback" not in output
    assert output.count("has no column 'nope'") == 1
    assert "stress_tests[1] (Typo):" in output and "data_info.lable_col: unknown key" in output


def test_ini_rime_config_is_read_and_checked(rime_project: RimeProject) -> None:
    rime_project.write(name="gate.yaml", extra="ignore: {tests: Duplicate Rows}\n")
    rime_project.pytester.makeini("[pytest]\nrime_config = gate.yaml\n")
    result = rime_project.pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "gate.yaml: stress_tests[0].ignore.tests: expected a list of names" in result.stderr.str()
    )


def test_config_outside_the_collection_paths_is_collected(rime_project: RimeProject) -> None:
    rime_project.write()
    rime_project.pytester.makeini("[pytest]\ntestpaths = tests\n")
    rime_project.pytester.mkpydir("tests").joinpath("test_unit.py").write_text(
        "def test_unit():\n    pass\n"
    )
    result = rime_project.run("--collect-only", "-q")
    lines = result.stdout.lines
    assert "tests/test_unit.py::test_unit" in lines
    rime_items = [line for line in lines if line.startswith("rime.yaml::Tiny::")]
    assert rime_items and len(rime_items) == len(set(rime_items))  # each rime item once
