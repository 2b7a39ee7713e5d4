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

from pytest_rime.plugin.bins import MONITORING_TEST_ID
from pytest_rime.plugin.cases import CATEGORIES, SEVERITIES, severity_rank

DATASET = "(whole dataset)"
"""Feature group name of dataset-level cases."""

GATES = ("failed", "warned", "passed", "skipped")

_FIREWALL_PROPERTIES = ("firewall", "firewall_link", "bin", "bin_start", "bin_end")
"""Properties an item of a firewall bin carries beyond a stress test case's."""


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
    firewall: str = ""
    firewall_link: str = ""
    bin: str = ""
    bin_start: str = ""
    bin_end: str = ""

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
            **{key: str(props.get(key, "")) for key in _FIREWALL_PROPERTIES},
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


def stress_test_outcomes(outcomes: Iterable[CaseOutcome]) -> list[CaseOutcome]:
    """The outcomes of stress test cases (not of firewall bins)."""
    return [o for o in outcomes if not o.firewall]


def summary_lines(outcomes: Sequence[CaseOutcome]) -> list[str]:
    """The terminal summary: per run its counts, failures by feature, then by category."""
    lines: list[str] = []
    for run_name, run in _by_run(stress_test_outcomes(outcomes)).items():
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


@dataclass(frozen=True)
class BadBin:
    """A firewall bin with a failing item.

    Attributes:
        firewall: Firewall name.
        bin: Bin label (``2024-05-03`` or ``2024-05-03 14:00``).
        worst: Worst severity among the bin's failing items.
        events: ``(metric, severity)`` of the bin's firewall events.
        features: Failing features and the tests that flagged them.
        outcomes: All outcomes of the bin.
    """

    firewall: str
    bin: str
    worst: str
    events: tuple[tuple[str, str], ...]
    features: tuple[tuple[str, str], ...]
    outcomes: tuple[CaseOutcome, ...]


def _events(outcomes: Iterable[CaseOutcome]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (str(event["metric"]), str(event["severity"]))
        for o in outcomes
        if o.test_id == MONITORING_TEST_ID
        for event in o.metrics.get("events", [])
    )


def by_firewall(
    outcomes: Iterable[CaseOutcome],
) -> dict[str, dict[str, list[CaseOutcome]]]:
    """Outcomes of firewall bins: firewall name -> bin label -> outcomes (in test order)."""
    firewalls: dict[str, dict[str, list[CaseOutcome]]] = {}
    for outcome in outcomes:
        if outcome.firewall:
            firewalls.setdefault(outcome.firewall, {}).setdefault(outcome.bin, []).append(outcome)
    return firewalls


def bad_bins(bins: Mapping[str, Sequence[CaseOutcome]], firewall: str) -> list[BadBin]:
    """The bins with a failing item (a case or an event at or above its gate), in time order."""
    bad: list[BadBin] = []
    for label, run in sorted(bins.items()):
        failed = [o for o in run if o.gate == "failed"]
        if failed:
            cases = [o for o in run if o.test_id != MONITORING_TEST_ID]
            features = tuple((f, _tests_of(group)) for f, group in by_feature(cases))
            bad.append(BadBin(firewall, label, _worst(failed), _events(run), features, tuple(run)))
    return bad


def _bad_bin_text(bad: BadBin) -> str:
    events = ", ".join(f"{metric} {severity}" for metric, severity in bad.events)
    features = ", ".join(f"{feature} ({tests})" for feature, tests in bad.features)
    parts = [f"worst {bad.worst}", f"events: {events or 'none'}", f"failing: {features}"]
    return f"{bad.bin}: " + "; ".join(parts)


def firewall_summary_lines(outcomes: Sequence[CaseOutcome]) -> list[str]:
    """Per firewall: its bins' counts and each bad bin with its worst severity and causes."""
    lines: list[str] = []
    for name, bins in by_firewall(outcomes).items():
        every = [o for run in bins.values() for o in run]
        bad = bad_bins(bins, name)
        lines.append(f"{name}: {len(bins)} bins, {len(bad)} bad; items: {_counts_text(every)}")
        lines.append(f"  firewall {every[0].firewall_link}".rstrip())
        if bad:
            lines.append("  bad bins:")
            lines += [f"    {_bad_bin_text(b)}" for b in bad]
        else:
            lines.append("  no bin reached its fail_on gate")
    return lines


def to_json(outcomes: Sequence[CaseOutcome]) -> str:
    """The results as JSON: runs and firewalls with their counts, and every case."""
    runs = [
        {
            "run_name": name,
            "test_run_id": run[0].test_run_id,
            "link": run[0].link,
            "counts": _counts(run),
            "failing_features": {f: _worst(cases) for f, cases in by_feature(run)},
        }
        for name, run in _by_run(stress_test_outcomes(outcomes)).items()
    ]
    firewalls = [
        {
            "name": name,
            "link": next(iter(bins.values()))[0].firewall_link,
            "bins": [
                {
                    "bin": label,
                    "bin_start": run[0].bin_start,
                    "bin_end": run[0].bin_end,
                    "test_run_id": run[0].test_run_id,
                    "counts": _counts(run),
                }
                for label, run in sorted(bins.items())
            ],
            "bad_bins": {
                b.bin: {
                    "worst": b.worst,
                    "events": [list(e) for e in b.events],
                    "failing_features": [f for f, _ in b.features],
                }
                for b in bad_bins(bins, name)
            },
        }
        for name, bins in by_firewall(outcomes).items()
    ]
    cases = [{**asdict(o), "features": list(o.features)} for o in outcomes]
    return json.dumps(
        {"runs": runs, "firewalls": firewalls, "cases": cases},
        indent=2,
        sort_keys=True,
        default=str,
    )


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(outcomes: Sequence[CaseOutcome]) -> str:
    """The results as Markdown: runs and their problem cases, firewalls and their bad bins."""
    lines = ["# RIME stress test results", ""]
    for name, run in _by_run(stress_test_outcomes(outcomes)).items():
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
    for name, bins in by_firewall(outcomes).items():
        bad = bad_bins(bins, name)
        lines += [f"## Firewall {name}", "", f"{len(bins)} bins, {len(bad)} bad."]
        if bad:
            lines += [
                "",
                "| bin | worst severity | events | failing features |",
                "|---|---|---|---|",
            ]
            lines += [
                f"| {b.bin} | {b.worst} | "
                f"{_md_cell(', '.join(f'{m} {sev}' for m, sev in b.events))} | "
                f"{_md_cell(', '.join(f for f, _ in b.features))} |"
                for b in bad
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
        """The ``rime`` and ``rime firewalls`` sections of the terminal summary."""
        for title, lines in (
            ("rime", summary_lines(self.outcomes)),
            ("rime firewalls", firewall_summary_lines(self.outcomes)),
        ):
            if lines:
                terminalreporter.section(title)
                for line in lines:
                    terminalreporter.write_line(line)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write ``--rime-report``."""
        if self.report_path is not None and self.outcomes:
            write_report(self.report_path, self.outcomes)
