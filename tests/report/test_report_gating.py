"""The gating rule the pages count by is the plugin's: one function, same counts as pytest."""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict

import pytest

from pytest_rime.plugin.cases import STATUSES, CaseRecord
from pytest_rime.plugin.gate import Verdict, verdict
from pytest_rime.plugin.report import CaseOutcome, to_json
from pytest_rime.report.gating import GATES, gate_of, is_at_or_above
from pytest_rime.report.views import run_view
from pytest_rime.vocabulary import FAIL_ON_LEVELS, SEVERITIES

COMBINATIONS = list(itertools.product(STATUSES, SEVERITIES, FAIL_ON_LEVELS))


@pytest.mark.parametrize(
    ("status", "severity", "fail_on", "expected"),
    [
        ("FAIL", "HIGH", "high", "failed"),
        ("FAIL", "MEDIUM", "high", "warned"),
        ("FAIL", "MEDIUM", "medium", "failed"),
        ("WARNING", "LOW", "low", "failed"),
        ("WARNING", "LOW", "medium", "warned"),
        ("PASS", "NONE", "low", "passed"),
        ("PASS", "LOW", "low", "failed"),  # the severity decides, not the status
        ("SKIP", "HIGH", "low", "skipped"),
        ("ERROR", "NONE", "high", "error"),
        ("error", "none", "LOW", "error"),  # case-insensitive
    ],
)
def test_gate_of(status: str, severity: str, fail_on: str, expected: str) -> None:
    assert gate_of(status, severity, fail_on) == expected


def test_bad_levels_are_named() -> None:
    with pytest.raises(ValueError, match="unknown severity 'SEVERE'"):
        gate_of("FAIL", "SEVERE", "high")
    with pytest.raises(ValueError, match=r"unknown fail_on 'none'.*low, medium, high"):
        is_at_or_above("HIGH", "none")


def record(status: str, severity: str, i: int = 0) -> CaseRecord:
    return CaseRecord(
        run_name="T",
        test_id=f"drift.t{i}",
        test_batch_type=f"Test {i}",
        category="Drift",
        features=("Age",) if i % 2 else (),
        status=status,
        severity=severity,
        importance_score=0.5,
    )


@pytest.mark.parametrize(("status", "severity", "fail_on"), COMBINATIONS)
def test_plugin_verdict_is_the_report_gate(status: str, severity: str, fail_on: str) -> None:
    assert verdict(record(status, severity), fail_on) is Verdict(gate_of(status, severity, fail_on))


def test_run_view_counts_equal_the_plugin_report_counts() -> None:
    fail_on = "medium"
    records = [record(s, sev, i) for i, (s, sev, _) in enumerate(COMBINATIONS)]
    outcomes = [
        CaseOutcome(
            nodeid=f"n{i}",
            gate=verdict(r, fail_on).value,
            run_name=r.run_name,
            category=r.category,
            test_batch_type=r.test_batch_type,
            test_id=r.test_id,
            features=r.features,
            status=r.status,
            severity=r.severity,
            fail_on=fail_on,
            importance_score=r.importance_score,
        )
        for i, r in enumerate(records)
    ]
    plugin_counts = json.loads(to_json(outcomes))["runs"][0]["counts"]
    view = run_view({"run_name": "T"}, [asdict(r) for r in records], fail_on=fail_on)
    assert {g: view["counts"][g] for g in GATES} == plugin_counts
    assert view["counts"]["total"] == len(records)
    assert view["verdict"] == "failed"


def test_a_given_gate_or_fail_on_wins_over_the_default() -> None:
    cases = [
        {"status": "FAIL", "severity": "LOW", "gate": "failed"},  # the plugin's own verdict
        {"status": "FAIL", "severity": "LOW", "fail_on": "low"},  # its own gate level
        {"status": "FAIL", "severity": "LOW"},  # the run's default: high
    ]
    view = run_view({"run_name": "T"}, cases)
    assert [c["gate"] for c in view["cases"]] == ["failed", "failed", "warned"]
    assert [c["fail_on"] for c in view["cases"]] == ["high", "low", "high"]
