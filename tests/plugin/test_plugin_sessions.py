"""The embedded server's life cycle, xdist, and the rime fixture and marker."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from plugin_helpers import RimeProject, failing, run_config

from pytest_rime.sdk import RIMEClient
from pytest_rime.sdk.embedded import start_embedded_server


def _embedded_dir(cache_dir: Path) -> Path:
    return cache_dir / "d" / "rime" / "server"


def _assert_stopped(cache_dir: Path) -> None:
    pid = json.loads((_embedded_dir(cache_dir) / "server.port.json").read_text())["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _jobs_on(data_dir: Path) -> int:
    with (
        start_embedded_server(data_dir) as server,
        RIMEClient(server.address, disable_tls=True) as client,
    ):
        return len(client.list_stress_test_jobs())


@pytest.mark.slow
def test_embedded_server_started_and_stopped(
    rime_project: RimeProject, clean_cases: pd.DataFrame, tmp_path: Path
) -> None:
    rime_project.write(server="")  # no server section: the embedded server
    rime_project.cache_dir = tmp_path / "cache"
    result = rime_project.run()
    outcomes = result.parseoutcomes()
    assert sum(outcomes.get(k, 0) for k in ("passed", "failed", "skipped")) == len(clean_cases)
    _assert_stopped(rime_project.cache_dir)
    assert _jobs_on(_embedded_dir(rime_project.cache_dir)) == 1


@pytest.mark.slow
def test_xdist_workers_share_one_run(
    rime_project: RimeProject, broken_cases: pd.DataFrame, tmp_path: Path
) -> None:
    rime_project.write(eval_file="eval_broken.csv", server="")
    rime_project.cache_dir = tmp_path / "cache"
    result = rime_project.run("-n", "2")
    result.assert_outcomes(
        failed=len(failing(broken_cases)),
        passed=len(broken_cases)
        - len(failing(broken_cases))
        - (broken_cases["status"] == "SKIP").sum(),
        skipped=(broken_cases["status"] == "SKIP").sum(),
        warnings=result.parseoutcomes().get("warnings", 0),
    )
    assert result.stdout.str().count("= rime =") == 1  # the summary comes from the controller
    _assert_stopped(rime_project.cache_dir)
    assert _jobs_on(_embedded_dir(rime_project.cache_dir)) == 1  # one run for both workers


def test_fixture_and_marker(
    rime_project: RimeProject, tiny_data: Path, clean_cases: pd.DataFrame
) -> None:
    rime_project.write()
    (rime_project.pytester.path / "run.json").write_text(
        json.dumps(run_config(tiny_data, "eval.csv"))
    )
    broken = run_config(tiny_data, "eval_broken.csv")
    kept = clean_cases[~clean_cases["features"].map(lambda f: "x1" in list(f))]
    rime_project.pytester.makepyfile(
        test_gates=textwrap.dedent(
            f"""
            import pytest

            BROKEN = {broken!r}

            def test_fixture(rime):
                result = rime.stress_test(BROKEN, name="Broken")
                assert result.test_run_id and result.link.startswith("http")
                assert result.summary["metrics.summary_counts.total"] == len(result.test_cases)
                assert result.by_feature().index[0] == "x1"
                assert "x1" in set(result.failures().explode("features")["features"])
                with pytest.raises(AssertionError) as info:
                    result.assert_passing()
                assert "Broken::Drift::Feature Drift[x1]: HIGH >= fail_on=high" in str(info.value)
                assert rime.client.list_projects()[0]

            @pytest.mark.rime(config="run.json", ignore={{"features": ["x1"]}})
            def test_marker(rime):
                assert len(rime.result.test_cases) == {len(clean_cases)}
                assert len(rime.result.failures()) == {len(failing(kept))}
                assert len(rime.result.failures(fail_on="low")) == {len(failing(kept, "low"))}

            @pytest.mark.rime(config="run.json", fail_on="hgh")
            def test_bad_marker_value(rime):
                pass

            @pytest.mark.rime(config="run.json", bogus=1)
            def test_bad_marker_key(rime):
                pass
            """
        )
    )
    result = rime_project.run("-k", "test_")
    result.assert_outcomes(passed=2, errors=2)
    output = result.stdout.str()
    assert "@pytest.mark.rime: fail_on: expected one of low, medium, high, got 'hgh'" in output
    assert (
        "@pytest.mark.rime: unknown keyword(s) bogus (accepted: config, name, data_type" in output
    )
