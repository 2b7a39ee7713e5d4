"""Reports built from the items' test reports: terminal summary, JSON and Markdown files.

The data comes from ``report.user_properties`` (set by each item), so it reaches the xdist
controller like any report; only the controller (or a run without xdist) writes summaries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_rime.plugin.bins import MONITORING_TEST_ID
from pytest_rime.plugin.cases import CATEGORIES, SEVERITIES, severity_rank
from pytest_rime.plugin.gate import percent
from pytest_rime.plugin.htmlreport import is_web_link
from pytest_rime.plugin.render import group_reasons
from pytest_rime.report.gating import GATES

DATASET = "(whole dataset)"
"""Feature group name of dataset-level cases."""


_GATE_WORDS = {"error": ("engine error", "engine errors")}

_FIREWALL_PROPERTIES = (
    "firewall",
    "firewall_id",
    "firewall_link",
    "bin",
    "bin_start",
    "bin_end",
    "bin_rows",
)
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
    firewall_id: str = ""
    firewall_link: str = ""
    bin: str = ""
    bin_start: str = ""
    bin_end: str = ""
    bin_rows: str = ""
    skip_reason: str = ""
    ignored: bool = False

    @classmethod
    def from_report(cls, report: pytest.TestReport) -> CaseOutcome | None:
        """The outcome carried by the final report of a rime case item (else ``None``)."""
        props = {str(k): v for k, v in report.user_properties}
        if "gate" not in props or "test_batch_type" not in props:
            return None
        gate = str(props["gate"])
        if report.failed and gate != "error":
            gate = "failed"
        return cls(
            nodeid=report.nodeid,
            gate=gate,
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
            skip_reason=str(props.get("skip_reason", "")),
            ignored=str(props.get("ignored", "")) == "true",
            **{key: str(props.get(key, "")) for key in _FIREWALL_PROPERTIES},
        )

    @property
    def name(self) -> str:
        """``<test_batch_type>[<features>]``."""
        if not self.features:
            return self.test_batch_type
        return f"{self.test_batch_type}[{','.join(self.features)}]"


@dataclass(frozen=True)
class SkipLimit:
    """The ``max_skipped`` check of a run or firewall bin.

    Attributes:
        run_name: The run (``<firewall>::<bin>`` for a bin).
        skipped: Cases the stress test skipped (ignored ones not counted).
        total: All cases of the run.
        max_skipped: The limit, a fraction of ``total``.
        exceeded: Whether ``skipped`` is above the limit (the check failed).
    """

    run_name: str
    skipped: int
    total: int
    max_skipped: float
    exceeded: bool

    @classmethod
    def from_report(cls, report: pytest.TestReport) -> SkipLimit | None:
        """The check carried by the call-phase report of a skip-limit item (else ``None``)."""
        props = {str(k): v for k, v in report.user_properties}
        if "skip_limit" not in props:
            return None
        return cls(
            run_name=str(props["run_name"]),
            skipped=int(str(props["skipped"])),
            total=int(str(props["total"])),
            max_skipped=float(str(props["max_skipped"])),
            exceeded=report.failed,
        )

    def text(self) -> str:
        """``above max_skipped=10%: the gate fails`` or ``within max_skipped=10%``."""
        limit = f"max_skipped={percent(self.max_skipped)}"
        return f"above {limit}: the gate fails" if self.exceeded else f"within {limit}"


def _web(link: str) -> str:
    """``link`` if it is a server's page, else nothing (the summary ends with the report's path).

    A link into the HTML report is relative to the JUnit file's folder, not to the terminal's.
    """
    return link if is_web_link(link) else ""


def _worst(outcomes: Iterable[CaseOutcome]) -> str:
    return max((o.severity for o in outcomes), key=severity_rank, default=SEVERITIES[0])


def _counts(outcomes: Sequence[CaseOutcome]) -> dict[str, int]:
    return {gate: sum(o.gate == gate for o in outcomes) for gate in GATES}


def _gate_text(gate: str, count: int) -> str:
    singular, plural = _GATE_WORDS.get(gate, (gate, gate))
    return f"{count} {singular if count == 1 else plural}"


def _counts_text(outcomes: Sequence[CaseOutcome]) -> str:
    counts = _counts(outcomes)
    return ", ".join(_gate_text(g, counts[g]) for g in GATES if counts[g]) or "nothing ran"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _by_run(outcomes: Iterable[CaseOutcome]) -> dict[str, list[CaseOutcome]]:
    runs: dict[str, list[CaseOutcome]] = {}
    for outcome in outcomes:
        runs.setdefault(outcome.run_name, []).append(outcome)
    return runs


def by_feature(
    outcomes: Iterable[CaseOutcome], gate: str = "failed"
) -> list[tuple[str, list[CaseOutcome]]]:
    """Cases of ``gate`` (failed, or warned: below the gate) grouped by feature.

    Worst severity first, then most cases. Dataset-level cases (no feature) come last: they
    show a consequence, not a cause.
    """
    groups: dict[str, list[CaseOutcome]] = {}
    for outcome in outcomes:
        if outcome.gate == gate:
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


def skip_groups(outcomes: Iterable[CaseOutcome]) -> list[tuple[str, str, int]]:
    """``(category, reason, count)`` of the skipped cases, identical reasons grouped.

    Reasons that differ only by the feature they name are one group. In category order,
    then most cases first.
    """
    order = {c: i for i, c in enumerate(CATEGORIES)}
    groups = group_reasons(
        [
            (o.category, o.skip_reason or "skipped", o.features)
            for o in outcomes
            if o.gate == "skipped"
        ]
    )
    return sorted(groups, key=lambda g: (order.get(g[0], len(order)), g[0], -g[2]))


def _skipped_lines(run: Sequence[CaseOutcome], limit: SkipLimit | None) -> list[str]:
    groups = skip_groups(run)
    if not groups:
        return []
    ignored = sum(o.gate == "skipped" and o.ignored for o in run)
    skipped = sum(count for _, _, count in groups) - ignored
    head = f"  skipped: {skipped} of {len(run)} test cases ({percent(skipped / len(run))}"
    head += f"; {ignored} more ignored by rime.yaml)" if ignored else ")"
    lines = [head + (f", {limit.text()}" if limit else "") + ":"]
    lines += [f"    {category}: {count} x {reason}" for category, reason, count in groups]
    return lines


def _engine_error_lines(run: Sequence[CaseOutcome]) -> list[str]:
    errors = [o for o in run if o.gate == "error"]
    if not errors:
        return []
    lines = ["  engine errors (the test itself raised; not tested, so the gate fails):"]
    for outcome in errors:
        error = str(outcome.metrics.get("error") or outcome.description)
        lines.append(f"    {outcome.category}::{outcome.name}: {error}")
    return lines


def _below_gate_lines(run: Sequence[CaseOutcome]) -> list[str]:
    features = by_feature(run, gate="warned")
    if not features:
        return []
    lines = ["  below the gate by feature (passed; -v or --rime-show-warnings lists each):"]
    for feature, warned in features:
        lines.append(
            f"    {feature}: {_plural(len(warned), 'finding')}, worst {_worst(warned)} "
            f"({_tests_of(warned)})"
        )
    return lines


def summary_lines(
    outcomes: Sequence[CaseOutcome], limits: Mapping[str, SkipLimit] | None = None
) -> list[str]:
    """The terminal summary of each run.

    Its counts, failures by feature, engine errors, findings below the gate by feature,
    skipped cases by category and reason, then counts by category.
    """
    lines: list[str] = []
    limits = limits or {}
    for run_name, run in _by_run(stress_test_outcomes(outcomes)).items():
        lines.append(f"{run_name}: {len(run)} test cases: {_counts_text(run)}")
        lines.append(f"  run {run[0].test_run_id}  {_web(run[0].link)}".rstrip())
        features = by_feature(run)
        if features:
            lines.append("  failing by feature:")
            for feature, failed in features:
                noun = "test" if len(failed) == 1 else "tests"
                lines.append(
                    f"    {feature}: {len(failed)} failing {noun}, worst {_worst(failed)} "
                    f"({_tests_of(failed)})"
                )
        elif not any(o.gate == "error" for o in run):
            lines.append("  no test case reached its fail_on gate")
        lines += _engine_error_lines(run)
        lines += _below_gate_lines(run)
        lines += _skipped_lines(run, limits.get(run_name))
        limit = limits.get(run_name)
        if limit is not None and not any(o.gate == "skipped" for o in run):
            lines.append(f"  skipped: none ({limit.text()})")
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
        failed = [o for o in run if o.gate in ("failed", "error")]
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


def firewall_summary_lines(
    outcomes: Sequence[CaseOutcome], limits: Mapping[str, SkipLimit] | None = None
) -> list[str]:
    """Per firewall: its bins' counts, each bad bin with its worst severity and causes.

    Then the bins above ``max_skipped`` and the skipped cases by category and reason.
    """
    lines: list[str] = []
    limits = limits or {}
    for name, bins in by_firewall(outcomes).items():
        every = [o for run in bins.values() for o in run]
        bad = bad_bins(bins, name)
        lines.append(f"{name}: {len(bins)} bins, {len(bad)} bad; items: {_counts_text(every)}")
        lines.append(f"  firewall {every[0].firewall_id}  {_web(every[0].firewall_link)}".rstrip())
        if bad:
            lines.append("  bad bins:")
            lines += [f"    {_bad_bin_text(b)}" for b in bad]
        else:
            lines.append("  no bin reached its fail_on gate")
        over = [
            label
            for label in sorted(bins)
            if (lim := limits.get(f"{name}::{label}")) and lim.exceeded
        ]
        if over:
            lines.append(f"  bins above max_skipped: {', '.join(over)}")
        lines += _skipped_lines(every, None)
    return lines


def _skipped_json(run: Sequence[CaseOutcome], limit: SkipLimit | None) -> dict[str, Any]:
    skipped = sum(o.gate == "skipped" and not o.ignored for o in run)
    return {
        "count": skipped,
        "ignored": sum(o.gate == "skipped" and o.ignored for o in run),
        "share": skipped / len(run) if run else 0.0,
        "max_skipped": limit.max_skipped if limit else None,
        "exceeded": limit.exceeded if limit else False,
        "reasons": [
            {"category": category, "reason": reason, "count": count}
            for category, reason, count in skip_groups(run)
        ],
    }


def to_json(outcomes: Sequence[CaseOutcome], limits: Mapping[str, SkipLimit] | None = None) -> str:
    """The results as JSON: runs and firewalls with their counts, and every case."""
    limits = limits or {}
    runs = [
        {
            "run_name": name,
            "test_run_id": run[0].test_run_id,
            "link": run[0].link,
            "counts": _counts(run),
            "failing_features": {f: _worst(cases) for f, cases in by_feature(run)},
            "below_gate_features": {
                f: _worst(cases) for f, cases in by_feature(run, gate="warned")
            },
            "engine_errors": [
                {"case": f"{o.category}::{o.name}", "error": o.metrics.get("error", "")}
                for o in run
                if o.gate == "error"
            ],
            "skipped": _skipped_json(run, limits.get(name)),
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
                    "skipped": _skipped_json(run, limits.get(f"{name}::{label}")),
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


def to_markdown(
    outcomes: Sequence[CaseOutcome], limits: Mapping[str, SkipLimit] | None = None
) -> str:
    """The results as Markdown: runs and their problem cases, firewalls and their bad bins."""
    limits = limits or {}
    lines = ["# RIME stress test results", ""]
    for name, run in _by_run(stress_test_outcomes(outcomes)).items():
        lines += [f"## {name}", "", f"{len(run)} test cases: {_counts_text(run)}."]
        limit = limits.get(name)
        if limit is not None:
            lines += ["", f"Skipped test cases: {limit.skipped} of {limit.total}, {limit.text()}."]
        if run[0].link:
            lines += ["", f"Run [{run[0].test_run_id}]({run[0].link})"]
        features = by_feature(run)
        if features:
            lines += ["", "| feature | failing tests | worst severity |", "|---|---|---|"]
            lines += [
                f"| {_md_cell(f)} | {_md_cell(_tests_of(c))} | {_worst(c)} |" for f, c in features
            ]
        problems = [o for o in run if o.gate in ("failed", "error", "warned")]
        if problems:
            lines += ["", "| case | outcome | severity | description |", "|---|---|---|---|"]
            lines += [
                f"| {_md_cell(f'{o.category} :: {o.name}')} | "
                f"{'engine error' if o.gate == 'error' else o.gate} | {o.severity} | "
                f"{_md_cell(o.description)} |"
                for o in problems
            ]
        skips = skip_groups(run)
        if skips:
            lines += ["", "| skipped in category | cases | why |", "|---|---|---|"]
            lines += [
                f"| {_md_cell(category)} | {count} | {_md_cell(reason)} |"
                for category, reason, count in skips
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


def write_report(
    path: Path, outcomes: Sequence[CaseOutcome], limits: Mapping[str, SkipLimit] | None = None
) -> None:
    """Write JSON; Markdown when ``path`` ends in ``.md``; the HTML page for ``.html``."""
    from pytest_rime.plugin.htmlreport import is_html, to_html

    suffix = path.suffix.lower()
    if is_html(path):
        text = to_html(outcomes)
    elif suffix == ".md":
        text = to_markdown(outcomes, limits)
    else:
        text = to_json(outcomes, limits)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


class ReportPlugin:
    """Controller-side plugin: gathers outcomes, prints the summary, writes the report files.

    Args:
        report_paths: The ``--rime-report`` files.
        default_html: Where the HTML report goes when none of ``report_paths`` is one, called
            once at the end (``None``: nowhere; see :mod:`pytest_rime.plugin.htmlreport`).
    """

    def __init__(
        self,
        report_paths: Sequence[Path] = (),
        default_html: Callable[[], Path | None] = lambda: None,
    ) -> None:
        self.report_paths = tuple(report_paths)
        self.default_html = default_html
        self.written_html: Path | None = None
        self.outcomes: list[CaseOutcome] = []
        self.limits: dict[str, SkipLimit] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep the outcome of each rime item's call phase (setup phase: skipped items)."""
        if report.when == "call" or (report.when == "setup" and report.skipped):
            outcome = CaseOutcome.from_report(report)
            if outcome is not None:
                self.outcomes.append(outcome)
            limit = SkipLimit.from_report(report) if report.when == "call" else None
            if limit is not None:
                self.limits[limit.run_name] = limit

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """The ``rime`` and ``rime firewalls`` sections of the terminal summary."""
        for title, lines in (
            ("rime", summary_lines(self.outcomes, self.limits)),
            ("rime firewalls", firewall_summary_lines(self.outcomes, self.limits)),
        ):
            if lines:
                terminalreporter.section(title)
                for line in lines:
                    terminalreporter.write_line(line)
        if self.written_html is not None:
            terminalreporter.write_line(f"rime HTML report: {self.written_html}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write ``--rime-report`` (and the default HTML report; before the terminal summary)."""
        if not self.outcomes:
            return
        from pytest_rime.plugin.htmlreport import is_html

        paths = list(self.report_paths)
        if not any(is_html(path) for path in paths):
            paths += [path for path in [self.default_html()] if path is not None]
        for path in paths:
            write_report(path, self.outcomes, self.limits)
        self.written_html = next((path for path in paths if is_html(path)), None)
