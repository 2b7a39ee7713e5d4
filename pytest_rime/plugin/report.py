"""Reports built from the items' test reports: terminal summary, JSON and Markdown files.

The data comes from ``report.user_properties`` (set by each item), so it reaches the xdist
controller like any report; only the controller (or a run without xdist) writes summaries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_rime.plugin.cases import CATEGORIES, SEVERITIES, severity_rank

DATASET = "(whole dataset)"
"""Feature group name of dataset-level cases."""

GATES = ("failed", "warned", "passed", "skipped")


@dataclass(frozen=True)
class CaseOutcome:
    """What happened to one test case's item."""

    nodeid: str
    gate: str
    run_name: str
    category: str
    test_batch_type: str
    test_id: str
    features: tuple[str, ...]
    status: str
    severity: str
    fail_on: str
    importance_score: float
    metrics: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    test_run_id: str = ""
    link: str = ""

    @classmethod
    def from_report(cls, report: pytest.TestReport) -> CaseOutcome | None:
        """The outcome carried by a call-phase report of a rime item (else ``None``)."""
        props = {str(k): v for k, v in report.user_properties}
        if "gate" not in props or "run_name" not in props:
            return None
        return cls(
            nodeid=report.nodeid,
            gate="failed" if report.failed else str(props["gate"]),
            run_name=str(props["run_name"]),
            category=str(props["category"]),
            test_batch_type=str(props["test_batch_type"]),
            test_id=str(props["test_id"]),
            features=tuple(json.loads(str(props["features"]))),
            status=str(props["status"]),
            severity=str(props["severity"]),
            fail_on=str(props["fail_on"]),
            importance_score=float(str(props["importance_score"])),
            metrics=json.loads(str(props["metrics"])),
            description=str(props["description"]),
            test_run_id=str(props["test_run_id"]),
            link=str(props["link"]),
        )

    @property
    def name(self) -> str:
        """``<test_batch_type>[<features>]``."""
        if not self.features:
            return self.test_batch_type
        return f"{self.test_batch_type}[{','.join(self.features)}]"


def _worst(outcomes: Iterable[CaseOutcome]) -> str:
    return max((o.severity for o in outcomes), key=severity_rank, default=SEVERITIES[0])


def _counts(outcomes: Sequence[CaseOutcome]) -> dict[str, int]:
    return {gate: sum(o.gate == gate for o in outcomes) for gate in GATES}


def _counts_text(outcomes: Sequence[CaseOutcome]) -> str:
    counts = _counts(outcomes)
    return ", ".join(f"{counts[g]} {g}" for g in GATES if counts[g]) or "nothing ran"


def _by_run(outcomes: Iterable[CaseOutcome]) -> dict[str, list[CaseOutcome]]:
    runs: dict[str, list[CaseOutcome]] = {}
    for outcome in outcomes:
        runs.setdefault(outcome.run_name, []).append(outcome)
    return runs


def by_feature(outcomes: Iterable[CaseOutcome]) -> list[tuple[str, list[CaseOutcome]]]:
    """Failed cases grouped by feature: worst severity first, then most failures.

    Dataset-level cases (no feature) come last: they show a consequence, not a cause.
    """
    groups: dict[str, list[CaseOutcome]] = {}
    for outcome in outcomes:
        if outcome.gate == "failed":
            for feature in outcome.features or (DATASET,):
                groups.setdefault(feature, []).append(outcome)
    return sorted(
        groups.items(),
        key=lambda item: (
            item[0] == DATASET,
            -severity_rank(_worst(item[1])),
            -len(item[1]),
            item[0],
        ),
    )


def by_category(outcomes: Iterable[CaseOutcome]) -> list[tuple[str, list[CaseOutcome]]]:
    """All cases grouped by category, in report order."""
    groups: dict[str, list[CaseOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.category, []).append(outcome)
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return sorted(groups.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))


def _tests_of(outcomes: Iterable[CaseOutcome]) -> str:
    return ", ".join(dict.fromkeys(o.test_batch_type for o in outcomes))


def summary_lines(outcomes: Sequence[CaseOutcome]) -> list[str]:
    """The terminal summary: per run its counts, failures by feature, then by category."""
    lines: list[str] = []
    for run_name, run in _by_run(outcomes).items():
        lines.append(f"{run_name}: {len(run)} test cases: {_counts_text(run)}")
        lines.append(f"  run {run[0].test_run_id}  {run[0].link}".rstrip())
        features = by_feature(run)
        if features:
            lines.append("  failing by feature:")
            for feature, failed in features:
                noun = "test" if len(failed) == 1 else "tests"
                lines.append(
                    f"    {feature}: {len(failed)} failing {noun}, worst {_worst(failed)} "
                    f"({_tests_of(failed)})"
                )
        else:
            lines.append("  no test case reached its fail_on gate")
        lines.append("  by category:")
        for category, cases in by_category(run):
            gated = [c for c in cases if c.gate != "skipped"]
            lines.append(f"    {category}: {_counts_text(cases)}; worst severity {_worst(gated)}")
    return lines


def to_json(outcomes: Sequence[CaseOutcome]) -> str:
    """The results as JSON: runs with their counts, and every case."""
    runs = [
        {
            "run_name": name,
            "test_run_id": run[0].test_run_id,
            "link": run[0].link,
            "counts": _counts(run),
            "failing_features": {f: _worst(cases) for f, cases in by_feature(run)},
        }
        for name, run in _by_run(outcomes).items()
    ]
    cases = [{**asdict(o), "features": list(o.features)} for o in outcomes]
    return json.dumps({"runs": runs, "cases": cases}, indent=2, sort_keys=True, default=str)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(outcomes: Sequence[CaseOutcome]) -> str:
    """The results as Markdown: per run its counts, failing features, and the problem cases."""
    lines = ["# RIME stress test results", ""]
    for name, run in _by_run(outcomes).items():
        lines += [f"## {name}", "", f"{len(run)} test cases: {_counts_text(run)}."]
        if run[0].link:
            lines += ["", f"Run [{run[0].test_run_id}]({run[0].link})"]
        features = by_feature(run)
        if features:
            lines += ["", "| feature | failing tests | worst severity |", "|---|---|---|"]
            lines += [
                f"| {_md_cell(f)} | {_md_cell(_tests_of(c))} | {_worst(c)} |" for f, c in features
            ]
        problems = [o for o in run if o.gate in ("failed", "warned")]
        if problems:
            lines += ["", "| case | outcome | severity | description |", "|---|---|---|---|"]
            lines += [
                f"| {_md_cell(f'{o.category} :: {o.name}')} | {o.gate} | {o.severity} | "
                f"{_md_cell(o.description)} |"
                for o in problems
            ]
        lines.append("")
    return "\n".join(lines)


def write_report(path: Path, outcomes: Sequence[CaseOutcome]) -> None:
    """Write JSON, or Markdown when ``path`` ends in ``.md``."""
    text = to_markdown(outcomes) if path.suffix.lower() == ".md" else to_json(outcomes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


class ReportPlugin:
    """Controller-side plugin: gathers outcomes, prints the summary, writes the report file."""

    def __init__(self, report_path: Path | None) -> None:
        self.report_path = report_path
        self.outcomes: list[CaseOutcome] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep the outcome of each rime item's call phase."""
        if report.when == "call":
            outcome = CaseOutcome.from_report(report)
            if outcome is not None:
                self.outcomes.append(outcome)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """The ``rime`` section of the terminal summary."""
        if self.outcomes:
            terminalreporter.section("rime")
            for line in summary_lines(self.outcomes):
                terminalreporter.write_line(line)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write ``--rime-report``."""
        if self.report_path is not None and self.outcomes:
            write_report(self.report_path, self.outcomes)
