"""Firewalls in rime.yaml: real pytest subprocesses sending multi-day data to a real server.

The expectations come from elsewhere: a KS test (scipy) shows which day drifts, and the
firewall's bins, events and per-bin test cases are read back through the SDK.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from plugin_helpers import BAD_DAY, DAYS, FIRST_DAY, RimeProject, day_label, failing
from scipy import stats

from pytest_rime.plugin.bins import bin_label, iso_time
from pytest_rime.sdk import RIMEClient, RIMEFirewall


def firewall_section(data: Path, eval_file: str, project_name: str, extra: str = "") -> str:
    """A ``firewalls:`` section with one daily firewall on the Tiny stress test."""
    return (
        f"firewalls:\n"
        f"  - name: Daily\n"
        f"    reference: Tiny\n"
        f"    project: {project_name}\n"
        f"    eval_path: {data / eval_file}\n"
        f"    timestamp_col: ts\n"
    ) + extra


def project_firewall(client: RIMEClient, name: str) -> RIMEFirewall:
    """The firewall of the project called ``name`` (read through the SDK)."""
    projects, _ = client.list_projects()
    (project_id,) = [p.project_id for p in projects if p.name == name]
    return client.get_firewall_for_project(project_id)


def day_start(day: int) -> int:
    return int((FIRST_DAY + pd.Timedelta(days=day)).timestamp())


def summary_of(result: pytest.RunResult) -> str:
    output = result.stdout.str()
    return output[output.index("= rime firewalls =") :]


def test_planted_bad_day_fails_and_the_summary_names_it(
    rime_project: RimeProject, days_data: Path, sdk_client: RIMEClient, tmp_path: Path
) -> None:
    frame = pd.read_csv(days_data / "days_bad.csv")
    ref_x1 = pd.read_csv(days_data / "ref.csv")["x1"]
    day_of_row = pd.to_datetime(frame["ts"], utc=True).dt.floor("D")
    for day in range(DAYS):
        rows = frame.loc[day_of_row == FIRST_DAY + pd.Timedelta(days=day), "x1"]
        p_value = stats.ks_2samp(ref_x1, rows).pvalue
        assert (p_value < 1e-6) if day == BAD_DAY else (p_value > 1e-3)

    rime_project.write(sections=firewall_section(days_data, "days_bad.csv", "fw-bad"))
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    result = rime_project.run(
        "rime.yaml::Daily", "--junitxml", str(junit), "--rime-report", str(report)
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED

    bad, healthy = day_label(BAD_DAY), [day_label(d) for d in range(DAYS) if d != BAD_DAY]
    summary = summary_of(result)
    bad_lines = re.findall(r"^    (\d{4}-\d\d-\d\d): (.*)$", summary, re.MULTILINE)
    assert [label for label, _ in bad_lines] == [bad]
    assert "worst HIGH" in bad_lines[0][1] and "x1 (" in bad_lines[0][1]
    assert not any(label in summary for label in healthy)
    failed = re.findall(r"^FAILED rime\.yaml::Daily::([^:]+)::", result.stdout.str(), re.M)
    assert failed and set(failed) == {bad}
    assert f"FAILED rime.yaml::Daily::{bad}::Monitoring::Monitored Metrics" in result.stdout.str()

    # The server's own view: events at HIGH only for the bad day; its cases fail the gate.
    firewall = project_firewall(sdk_client, "fw-bad")
    bins = firewall.get_bins().set_index("bin_start_secs")
    events = firewall.get_events()
    assert set(events.loc[events["severity"] == "HIGH", "bin_start_secs"]) == {day_start(BAD_DAY)}
    expected_failures = 1  # the bad day's Monitored Metrics item
    for day in range(DAYS):
        run_id = str(bins.loc[day_start(day), "test_run_id"])
        cases = sdk_client.get_test_run(run_id).get_test_cases_result()
        if day == BAD_DAY:
            expected_failures += len(failing(cases))
        else:
            assert failing(cases).empty
    assert result.parseoutcomes()["failed"] == expected_failures

    testcases = ET.parse(junit).getroot().findall(".//testcase")
    assert testcases
    for testcase in testcases:
        props = {p.get("name"): p.get("value") for p in testcase.iter("property")}
        assert props["firewall"] == "Daily"
        start = pd.Timestamp(props["bin_start"] or "")
        assert props["bin"] == bin_label(int(start.timestamp()), int(start.timestamp()) + 86400)
        assert pd.Timestamp(props["bin_end"] or "") - start == pd.Timedelta(days=1)
        assert props["test_run_id"] == bins.loc[int(start.timestamp()), "test_run_id"]
        if testcase.find("failure") is not None:
            assert props["bin"] == bad
    data = json.loads(report.read_text())
    (firewall_report,) = data["firewalls"]
    assert list(firewall_report["bad_bins"]) == [bad]
    assert "x1" in firewall_report["bad_bins"][bad]["failing_features"]
    assert [b["bin"] for b in firewall_report["bins"]] == [day_label(d) for d in range(DAYS)]


def test_healthy_days_pass_and_rerun_from_the_cache(
    rime_project: RimeProject, days_data: Path, sdk_client: RIMEClient
) -> None:
    rime_project.write(sections=firewall_section(days_data, "days.csv", "fw-healthy"))
    result = rime_project.run("rime.yaml::Daily", "-p", "no:warnings")
    assert result.ret == pytest.ExitCode.OK
    assert "no bin reached its fail_on gate" in summary_of(result)
    firewall = project_firewall(sdk_client, "fw-healthy")
    bins = firewall.get_bins()
    assert bins["bin_start_secs"].tolist() == [day_start(d) for d in range(DAYS)]
    (job_id,) = set(bins["job_id"])
    cases = sum(
        len(sdk_client.get_test_run(r).get_test_cases_result()) for r in bins["test_run_id"]
    )
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] + outcomes.get("skipped", 0) == cases + DAYS  # + Monitored Metrics

    marked = "rime_firewall and rime_monitoring"
    again = rime_project.run("-q", "--co", "--strict-markers", "-m", marked, "-p", "no:warnings")
    assert [line for line in again.stdout.lines if line.startswith("rime.yaml::")] == [
        f"rime.yaml::Daily::{day_label(day)}::Monitoring::Monitored Metrics" for day in range(DAYS)
    ]
    assert set(firewall.get_bins()["job_id"]) == {job_id}  # no new job: the bins were reused


def test_bin_size_other_than_the_project_firewall_is_a_collection_error(
    rime_project: RimeProject, days_data: Path, sdk_client: RIMEClient
) -> None:
    rime_project.write(sections=firewall_section(days_data, "days.csv", "fw-sizes"))
    rime_project.run("rime.yaml::Daily", "--co", "-q")  # creates the project's daily firewall
    rime_project.write(
        sections=firewall_section(days_data, "days.csv", "fw-sizes", "    bin_size: hour\n")
    )
    result = rime_project.run("rime.yaml::Daily")
    result.assert_outcomes(errors=1)
    assert (
        "firewalls[0] (Daily): bin_size: the firewall 'Daily' of project 'fw-sizes' has daily "
        "bins, not hourly bins" in result.stdout.str()
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "  - {name: Daily, reference: Tiny, eval_path: EVAL}\n",
            "firewalls[0].timestamp_col: required key is missing",
        ),
        (
            "  - {name: Daily, reference: Tiny, eval_path: EVAL, timestamp_col: ts, "
            "bin_size: minute}\n",
            "firewalls[0].bin_size: expected one of hour, day, got 'minute'",
        ),
        (
            "  - {name: Daily, reference: Tny, eval_path: EVAL, timestamp_col: ts}\n",
            "firewalls[0].reference: no stress test named 'Tny' in this file",
        ),
    ],
    ids=["timestamp_col", "bin_size", "reference"],
)
def test_bad_firewall_entry_is_a_usage_error_naming_the_key(
    rime_project: RimeProject, days_data: Path, entry: str, message: str
) -> None:
    rime_project.write(sections="firewalls:\n" + entry.replace("EVAL", str(days_data / "days.csv")))
    result = rime_project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"rime.yaml: {message}" in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


@pytest.mark.slow
def test_xdist_workers_share_one_firewall_job(
    rime_project: RimeProject, days_data: Path, sdk_client: RIMEClient, tmp_path: Path
) -> None:
    rime_project.write(sections=firewall_section(days_data, "days_bad.csv", "fw-xdist"))
    junit = tmp_path / "junit.xml"
    result = rime_project.run("rime.yaml::Daily", "-n", "2", "--junitxml", str(junit))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.stdout.str().count("= rime firewalls =") == 1  # from the controller only
    bins = project_firewall(sdk_client, "fw-xdist").get_bins()
    runs_by_bin: dict[str, set[str]] = {}
    for testcase in ET.parse(junit).getroot().findall(".//testcase"):
        props = {p.get("name"): p.get("value") for p in testcase.iter("property")}
        runs_by_bin.setdefault(props["bin_start"] or "", set()).add(props["test_run_id"] or "")
    # Both workers' items carry the runs of one job: the bins the server holds now.
    assert runs_by_bin == {
        iso_time(int(start)): {str(run)}
        for start, run in zip(bins["bin_start_secs"], bins["test_run_id"], strict=True)
    }


@pytest.mark.slow
def test_thresholds_reach_the_server(
    rime_project: RimeProject, days_data: Path, sdk_client: RIMEClient
) -> None:
    unknown = "    thresholds: {drifting_features: [1, 2, 3]}\n"
    rime_project.write(
        sections=firewall_section(days_data, "days_bad.csv", "fw-thresholds", unknown)
    )
    refused = rime_project.run("rime.yaml::Daily")
    refused.assert_outcomes(errors=1)
    assert "monitoring_info.thresholds.drifting_features: unknown monitored metric" in (
        refused.stdout.str()
    )
    loose = "    thresholds: {num_drifting_features: [5, 6, 7]}\n"
    rime_project.write(sections=firewall_section(days_data, "days_bad.csv", "fw-thresholds", loose))
    result = rime_project.run("rime.yaml::Daily")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the bad day still fails on other metrics
    events = project_firewall(sdk_client, "fw-thresholds").get_events()
    assert not events.empty and "num_drifting_features" not in set(events["metric"])
    assert "num_drifting_features" not in summary_of(result)


def test_data_without_a_parseable_timestamp_is_one_collection_error(
    rime_project: RimeProject, days_data: Path
) -> None:
    frame = pd.read_csv(days_data / "days.csv").head(20).assign(ts="not a time")
    frame.to_csv(rime_project.pytester.path / "no_times.csv", index=False)
    rime_project.write(
        sections=firewall_section(rime_project.pytester.path, "no_times.csv", "fw-no-times")
    )
    result = rime_project.run("rime.yaml::Daily")
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    failed_job = output.split("rime.yaml: firewalls[0] (Daily): firewall job ", 1)[1]
    # One line naming the user's file; a data error needs no job log.
    assert (
        "FAILED: DataError: timestamp_col: no value of column 'ts' in no_times.csv"
        in (failed_job.splitlines()[0])
    )
    assert "last lines of the job's log:" not in output and "rime://" not in output


def test_failed_reference_fails_its_firewall_and_runs_once(
    rime_project: RimeProject, days_data: Path, sdk_client: RIMEClient
) -> None:
    (rime_project.pytester.path / "rime.yaml").write_text(
        f"server: {{address: '{rime_project.server.address}'}}\n"
        "stress_tests:\n"
        "  - name: Tiny\n"
        "    config:\n"
        f"      data_info: {{label_col: nope, ref_path: {days_data / 'ref.csv'}, "
        f"eval_path: {days_data / 'eval.csv'}}}\n"
        f"      model_info: {{path: {days_data / 'model' / 'model.py'}}}\n"
        + firewall_section(days_data, "days.csv", "fw-no-reference")
    )
    jobs = len(sdk_client.list_stress_test_jobs())
    result = rime_project.run()
    result.assert_outcomes(errors=2)
    output = result.stdout.str()
    # The reason is printed once, under the stress test; the firewall points at it.
    assert "rime.yaml: firewalls[0] (Daily): its reference 'Tiny' failed (its error is above)" in (
        output
    )
    assert output.count("has no column 'nope'") == 1
    assert "rime.yaml: stress_tests[0] (Tiny): stress test job" in output
    assert len(sdk_client.list_stress_test_jobs()) == jobs + 1
