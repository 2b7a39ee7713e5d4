from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pytest_rime.plugin.gate import name_key
from pytest_rime.plugin.schema import RimeConfigError, load_rime_file, stress_test_from_call


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "ref.csv").write_text("a,y\n1,0\n")
    (tmp_path / "eval.csv").write_text("a,y\n1,0\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.py").write_text("def predict_df(df):\n    return df['a']\n")
    return tmp_path


def write(directory: Path, text: str, name: str = "rime.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


VALID = """
    project: {name: titanic, description: gate}
    defaults: {fail_on: medium, timeout: 60, poll_rate: 0.5}
    stress_tests:
      - name: Titanic
        config:
          data_info: {label_col: y, ref_path: ref.csv, eval_path: eval.csv}
          model_info: {path: model/model.py}
        fail_on:
          default: high
          categories: {Drift: low}
          tests: {"Feature Drift": medium}
        ignore: {features: [Fare], tests: [drift.label_drift]}
        ram_request_megabytes: 2000
"""


def test_valid_file(project_dir: Path) -> None:
    spec = load_rime_file(write(project_dir, VALID))
    assert spec.server.address is None  # embedded
    assert spec.project is not None and spec.project.name == "titanic"
    assert (spec.defaults.fail_on, spec.defaults.timeout, spec.defaults.poll_rate) == (
        "medium",
        60.0,
        0.5,
    )
    (test,) = spec.stress_tests
    assert test.name == "Titanic"
    assert test.config["run_name"] == "Titanic"
    assert test.config["data_info"]["ref_path"] == str(project_dir / "ref.csv")
    assert test.config["model_info"]["path"] == str(project_dir / "model" / "model.py")
    assert test.fail_on.categories == {"drift": "low"}
    assert test.fail_on.tests == {name_key("Feature Drift"): "medium"}
    assert test.ignore.features == frozenset({"fare"})
    assert test.ram_request_megabytes == 2000


def test_config_path_resolves_paths_against_the_config_file(project_dir: Path) -> None:
    (project_dir / "cfg").mkdir()
    (project_dir / "cfg" / "run.json").write_text(
        json.dumps(
            {
                "run_name": "From JSON",
                "data_info": {"ref_path": "../ref.csv", "eval_path": "s3://b/eval.csv"},
            }
        )
    )
    spec = load_rime_file(write(project_dir, "stress_tests: [{config_path: cfg/run.json}]"))
    (test,) = spec.stress_tests
    assert test.name == "From JSON"
    assert test.config["data_info"] == {
        "ref_path": str(project_dir / "ref.csv"),
        "eval_path": "s3://b/eval.csv",
    }


_ONE_TEST = "stress_tests: [{name: a, config: {}}]"


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("stress_tests: []", "stress_tests", "non-empty list"),
        (
            "defaults: {fail_on: hgh}\nstress_tests: [{name: a, config: {}}]",
            "defaults.fail_on",
            "low, medium, high",
        ),
        (
            "stress_tests: [{name: a, config: {}, fail_on: {tests: {X: never}}}]",
            "stress_tests[0].fail_on.tests.X",
            "low, medium, high",
        ),
        ("stress_tests: [{name: a, confg: {}}]", "stress_tests[0].confg", "unknown key"),
        ("stress_tests: [{name: a}]", "stress_tests[0]", "exactly one of 'config'"),
        (
            "stress_tests: [{name: a, config: {data_info: {ref_path: missing.csv}}}]",
            "stress_tests[0].config.data_info.ref_path",
            "file not found",
        ),
        (
            "stress_tests: [{name: a, config: {}, ram_request_megabytes: -1}]",
            "stress_tests[0].ram_request_megabytes",
            "positive integer",
        ),
        (
            "stress_tests: [{name: a, config: {}}, {name: a, config: {}}]",
            "stress_tests[1].name",
            "duplicate run name",
        ),
        ("stress_tests: [{config: {}}]", "stress_tests[0].name", "required"),
        (
            "stress_tests: [{config: {run_name: 3}}]",
            "stress_tests[0].config.run_name",
            "non-empty string",
        ),
        (
            "server: {api_key_env: X}\nstress_tests: [{name: a, config: {}}]",
            "server.address",
            "required",
        ),
        (
            "server: {address: 'h:1', api_key_env: RIME_TEST_UNSET_VARIABLE}\n"
            "stress_tests: [{name: a, config: {}}]",
            "server.api_key_env",
            "RIME_TEST_UNSET_VARIABLE is not set",
        ),
        ("firewalls: []\nstress_tests: [{name: a, config: {}}]", "firewalls", "non-empty list"),
        (
            "firewalls: [{name: f, reference: a, eval_path: eval.csv}]\n" + _ONE_TEST,
            "firewalls[0].timestamp_col",
            "required key is missing",
        ),
        (
            "firewalls: [{name: f, reference: b, eval_path: eval.csv, timestamp_col: ts}]\n"
            + _ONE_TEST,
            "firewalls[0].reference",
            "no stress test named 'b' in this file (stress tests: 'a')",
        ),
        (
            "firewalls: [{name: f, reference: a, eval_path: eval.csv, timestamp_col: ts,\n"
            "  bin_size: week}]\n" + _ONE_TEST,
            "firewalls[0].bin_size",
            "expected one of hour, day, got 'week'",
        ),
        (
            "firewalls: [{name: f, reference: a, eval_path: days.csv, timestamp_col: ts}]\n"
            + _ONE_TEST,
            "firewalls[0].eval_path",
            "file not found",
        ),
        (
            "firewalls: [{name: f, reference: a, eval_path: eval.csv, timestamp_col: ts,\n"
            "  thresholds: {abnormality_rate: [0.1, 0.2]}}]\n" + _ONE_TEST,
            "firewalls[0].thresholds.abnormality_rate",
            "[low, medium, high] of 3 numbers",
        ),
        (
            "firewalls: [{name: a, reference: a, eval_path: eval.csv, timestamp_col: ts}]\n"
            + _ONE_TEST,
            "firewalls[0].name",
            "duplicate name 'a'",
        ),
        (
            "project: {name: p}\n"
            "firewalls: [{name: f, reference: a, eval_path: eval.csv, timestamp_col: ts},\n"
            "  {name: g, reference: a, eval_path: eval.csv, timestamp_col: ts}]\n" + _ONE_TEST,
            "firewalls[1].project",
            "project 'p' already holds firewalls[0]",
        ),
        ("stress_test: []", "stress_test", "unknown key"),
        ("- just a list", "", "expected a mapping"),
    ],
)
def test_errors_name_file_key_and_expectation(
    project_dir: Path, text: str, key: str, expected: str
) -> None:
    path = write(project_dir, text)
    with pytest.raises(RimeConfigError) as info:
        load_rime_file(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert info.value.key == key
    assert expected in message


def test_bad_yaml_and_missing_file(project_dir: Path) -> None:
    with pytest.raises(RimeConfigError, match="not valid YAML"):
        load_rime_file(write(project_dir, "stress_tests: [unclosed"))
    with pytest.raises(RimeConfigError, match="file not found"):
        load_rime_file(project_dir / "nope.yaml")


def test_stress_test_from_call(project_dir: Path) -> None:
    config = {"run_name": "Inline", "data_info": {"ref_path": "ref.csv", "eval_path": "eval.csv"}}
    spec = stress_test_from_call(config, {"fail_on": "low"}, "rime.stress_test()", project_dir)
    assert spec.fail_on.default == "low"
    assert spec.config["data_info"]["eval_path"] == str(project_dir / "eval.csv")
    with pytest.raises(RimeConfigError, match=r"rime.stress_test\(\): fail_on: expected"):
        stress_test_from_call(config, {"fail_on": "sometimes"}, "rime.stress_test()", project_dir)


def test_firewall_entry(project_dir: Path) -> None:
    text = VALID + textwrap.indent(
        textwrap.dedent(
            """
        firewalls:
          - name: Daily
            reference: Titanic
            eval_path: eval.csv
            timestamp_col: ts
            thresholds: {abnormality_rate: [0.1, 0.2, 0.3]}
            fail_on: {categories: {Monitoring: medium}}
            ignore: {features: [Fare]}
          - name: Hourly
            reference: Titanic
            project: hourly
            eval_path: s3://bucket/prod.csv
            timestamp_col: ts
            bin_size: hour
            """
        ),
        "    ",
    )
    spec = load_rime_file(write(project_dir, text))
    daily, hourly = spec.firewalls
    assert daily.reference is spec.stress_tests[0]
    assert daily.project.name == "titanic"  # the file's project by default
    assert (daily.bin_size, daily.bin_size_seconds) == ("day", 86400)
    assert daily.eval_path == str(project_dir / "eval.csv")
    assert daily.thresholds == {"abnormality_rate": (0.1, 0.2, 0.3)}
    assert daily.fail_on.categories == {"monitoring": "medium"}
    assert daily.source == f"{project_dir / 'rime.yaml'}: firewalls[0]"
    assert (hourly.project.name, hourly.bin_size_seconds) == ("hourly", 3600)
    assert hourly.eval_path == "s3://bucket/prod.csv"


def test_max_skipped_and_entry_lines(project_dir: Path) -> None:
    text = """\
        defaults: {max_skipped: 10%}
        stress_tests:
          - name: A
            config:
              data_info: {label_col: y, ref_path: ref.csv, eval_path: eval.csv}
            max_skipped: 0.25
          - name: B
            config:
              data_info: {label_col: y, ref_path: ref.csv, eval_path: eval.csv}
        firewalls:
          - {name: F, reference: B, eval_path: eval.csv, timestamp_col: ts, max_skipped: 0}
    """
    spec = load_rime_file(write(project_dir, text), "rime.yaml")
    assert spec.defaults.max_skipped == pytest.approx(0.1)
    first, second = spec.stress_tests
    assert (first.max_skipped, second.max_skipped) == (0.25, None)
    assert (first.line, second.line) == (2, 6)  # 0-based lines of the entries
    assert spec.firewalls[0].line == 10 and spec.firewalls[0].max_skipped == 0.0
    assert spec.firewalls[0].reference is second
    assert first.source == "rime.yaml: stress_tests[0]"  # named as the user gave it
    bad = text.replace("max_skipped: 0.25", "max_skipped: lots")
    with pytest.raises(RimeConfigError) as info:
        load_rime_file(write(project_dir, bad), "rime.yaml")
    assert str(info.value) == (
        "rime.yaml: stress_tests[0].max_skipped: expected a fraction of test cases in 0..1 "
        "or a percentage, got 'lots'"
    )
