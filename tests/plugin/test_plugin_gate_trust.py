"""Gate trust (issue 8) end to end: what cannot be tested fails, and the output reads well.

Untestable models and data end the job FAILED; pytest then exits non-zero with the reason on
one line and no traceback. Engine errors fail their items whatever ``fail_on`` says, skips
are counted and explained, and ``max_skipped`` bounds them. Real pytest subprocesses against
the real server of the plugin tests.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from plugin_helpers import RimeProject

from pytest_rime.sdk.embedded import EmbeddedServer

TITANIC = Path(__file__).resolve().parents[2] / "examples" / "titanic"


def _titanic(pytester: pytest.Pytester, server: EmbeddedServer) -> Path:
    """The Titanic example in the pytester dir, pointed at the test server."""
    shutil.copytree(
        TITANIC,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".pytest_cache", "__pycache__"),
    )
    config = pytester.path / "rime.yaml"
    config.write_text(f"server: {{address: '{server.address}'}}\n" + config.read_text())
    return pytester.path


def _append_to_model(directory: Path, code: str) -> None:
    model = directory / "model" / "model.py"
    model.write_text(model.read_text() + "\n\n" + textwrap.dedent(code))


def _predict_raises(directory: Path) -> None:
    _append_to_model(
        directory,
        """\
        def predict_df(df):
            raise ValueError("model is broken")
        """,
    )


def _predict_too_short(directory: Path) -> None:
    _append_to_model(
        directory,
        """\
        _predict_all = predict_df


        def predict_df(df):
            return _predict_all(df)[:-3]
        """,
    )


def _predict_strings(directory: Path) -> None:
    _append_to_model(
        directory,
        """\
        def predict_df(df):
            return np.array(["yes"] * len(df))
        """,
    )


def _eval_without_rows(directory: Path) -> None:
    header = (directory / "eval.csv").read_text().splitlines()[0]
    (directory / "eval.csv").write_text(header + "\n")


def _label_all_missing(directory: Path) -> None:
    frame = pd.read_csv(directory / "eval.csv")
    frame.assign(survived=float("nan")).to_csv(directory / "eval.csv", index=False)


def _three_classes(directory: Path) -> None:
    frame = pd.read_csv(directory / "eval.csv")
    frame.loc[frame.index % 3 == 0, "survived"] = 2
    frame.to_csv(directory / "eval.csv", index=False)


UNTESTABLE = {
    "predict raises": (
        _predict_raises,
        "ModelError: model.py: predict_df raised ValueError: model is broken",
    ),
    "predict returns the wrong length": (
        _predict_too_short,
        "ModelError: model.py: predict_df returned shape (1119,) for 1122 rows",
    ),
    "predict returns strings": (_predict_strings, "ModelError: model.py: predict_df returned"),
    "eval has a header and no rows": (
        _eval_without_rows,
        "DataError: data_info.eval_path: eval.csv has a header",
    ),
    "label all missing": (
        _label_all_missing,
        "DataError: data_info.label_col: every value of 'survived' in eval.csv is missing",
    ),
    "3-class label under Binary Classification": (
        _three_classes,
        "DataError: data_info.label_col: 'survived' in eval.csv has 3 classes",
    ),
}


@pytest.mark.parametrize("break_it", UNTESTABLE, ids=list(UNTESTABLE))
def test_untestable_model_or_data_fails_with_one_line(
    pytester: pytest.Pytester, embedded_server: EmbeddedServer, break_it: str
) -> None:
    directory = _titanic(pytester, embedded_server)
    change, reason = UNTESTABLE[break_it]
    change(directory)
    result = pytester.runpytest_subprocess(
        "--rime-config", "rime.yaml", "-o", f"cache_dir={directory / '.cache'}", timeout=180
    )
    assert result.ret not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    result.assert_outcomes(errors=1)
    output = result.stdout.str() + result.stderr.str()
    lines = [line for line in output.splitlines() if "FAILED: " in line]
    assert len(lines) == 1, output  # the reason, printed once
    assert lines[0].startswith("rime.yaml: stress_tests[0] (Titanic): stress test job ")
    assert reason in lines[0]
    assert "Traceback" not in output and "pytest_rime/" not in output  # none of our code
    assert "rime://" not in output and "uploads/" not in output  # the user's file names


def test_unchanged_titanic_passes(
    pytester: pytest.Pytester, embedded_server: EmbeddedServer
) -> None:
    directory = _titanic(pytester, embedded_server)
    result = pytester.runpytest_subprocess(
        "--rime-config", "rime.yaml", "-o", f"cache_dir={directory / '.cache'}", timeout=180
    )
    assert result.ret == pytest.ExitCode.OK


def test_rime_yaml_as_an_argument(rime_project: RimeProject) -> None:
    rime_project.write()
    (rime_project.pytester.path / "other.yaml").write_text("just: data\n")  # not a rime file
    result = rime_project.pytester.runpytest_subprocess(
        "rime.yaml",
        "-o",
        f"cache_dir={rime_project.cache_dir}",
        "--collect-only",
        "-q",
        timeout=180,
    )
    assert result.ret == pytest.ExitCode.OK
    items = [line for line in result.stdout.lines if line.startswith("rime.yaml::Tiny::")]
    assert items and len(items) == len(set(items))
    node = rime_project.pytester.runpytest_subprocess(
        "rime.yaml::Tiny::Drift", "-o", f"cache_dir={rime_project.cache_dir}", "-q", timeout=180
    )
    assert node.ret == pytest.ExitCode.OK
    assert node.parseoutcomes()["passed"] > 0


ENGINE_ERROR_CONFTEST = '''
import pandas as pd

import pytest_rime.plugin.kinds as kinds

_case_records = kinds.case_records


def case_records(run_name, cases, names=None):
    """The run's cases plus one engine error, as the server reports it."""
    error = {
        "test_run_id": cases["test_run_id"].iloc[0],
        "test_id": "drift.broken",
        "test_batch_type": "Broken Test",
        "category": "Drift",
        "features": [],
        "status": "ERROR",
        "severity": "NONE",
        "importance_score": 0.0,
        "metrics": {"error": "ZeroDivisionError: division by zero"},
        "description": "Engine error: the test raised ZeroDivisionError: division by zero. "
        "The traceback is in the job log.",
    }
    extra = pd.DataFrame([{column: error.get(column) for column in cases.columns}])
    return _case_records(run_name, pd.concat([cases, extra], ignore_index=True), names)


kinds.case_records = case_records
'''


def test_engine_error_fails_the_gate_whatever_fail_on(
    rime_project: RimeProject, tmp_path: Path
) -> None:
    rime_project.write(extra="fail_on: {tests: {Broken Test: high}}\n")
    rime_project.pytester.makeconftest(ENGINE_ERROR_CONFTEST)
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    result = rime_project.pytester.runpytest_subprocess(
        "--rime-config", "rime.yaml", "-o", f"cache_dir={tmp_path / 'cache'}",
        "-p", "no:randomly", "--junitxml", str(junit), "--rime-report", str(report),
        "-k", "Broken or Model", timeout=180,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1 and "skipped" not in outcomes
    output = result.stdout.str()
    assert (
        "Tiny::Drift::Broken Test: engine error: the test itself raised "
        "ZeroDivisionError: division by zero" in output
    )
    assert "  where: rime.yaml:3" in output
    summary = output[output.index("= rime =") :]
    assert "1 engine error" in summary
    assert "    Drift::Broken Test: ZeroDivisionError: division by zero" in summary
    assert "FAILED rime.yaml::Tiny::Drift::Broken Test" in output
    testcase = next(
        t for t in ET.parse(junit).getroot().iter("testcase") if t.get("name") == "Broken Test"
    )
    props = {p.get("name"): p.get("value") for p in testcase.iter("property")}
    assert props["gate"] == "error" and props["status"] == "ERROR"
    assert testcase.find("failure") is not None
    data = json.loads(report.read_text())
    assert data["runs"][0]["counts"]["error"] == 1


def test_max_skipped_fails_the_gate_and_skips_are_reported(
    rime_project: RimeProject, clean_cases: pd.DataFrame, tmp_path: Path
) -> None:
    skips = clean_cases[clean_cases["status"] == "SKIP"]
    assert len(skips) > 0
    rime_project.write()
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    result = rime_project.run(
        "--rime-max-skipped", "0", "--junitxml", str(junit), "--rime-report", str(report)
    )
    output = result.stdout.str()
    share = f"{100 * len(skips) / len(clean_cases):.3g}%"
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "FAILED rime.yaml::Tiny::Skipped test cases" in output
    assert (
        f"Tiny: {len(skips)} of {len(clean_cases)} test cases ({share}) were skipped, "
        "above max_skipped=0%" in output
    )
    summary = output[output.index("= rime =") :]
    assert "above max_skipped=0%: the gate fails" in summary
    data = json.loads(report.read_text())["runs"][0]["skipped"]
    assert data["count"] == len(skips) and data["exceeded"]
    assert sum(group["count"] for group in data["reasons"]) == len(skips)
    skipped_cases = [
        t for t in ET.parse(junit).getroot().iter("testcase") if t.find("skipped") is not None
    ]
    assert len(skipped_cases) == len(skips)
    for testcase in skipped_cases:
        props = {p.get("name"): p.get("value") for p in testcase.iter("property")}
        assert props["gate"] == "skipped" and props["skip_reason"]
    # The run's own max_skipped wins over the command line; at the limit the item passes.
    rime_project.write(extra="max_skipped: 1.0\n")
    relaxed = rime_project.run("rime.yaml::Tiny::Skipped test cases", "--rime-max-skipped", "0")
    relaxed.assert_outcomes(passed=1)
    assert relaxed.ret == pytest.ExitCode.OK
    bad = rime_project.run("--rime-max-skipped", "most")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--rime-max-skipped / rime_max_skipped: expected a fraction" in bad.stderr.str()
