"""Collection: a rime.yaml becomes runs, categories and one item per test case.

``rime.yaml`` (:class:`RimeFile`) -> one :class:`RimeRun` per stress test -> one
:class:`RimeCategory` per category -> one :class:`RimeItem` per test case, so node ids read
``rime.yaml::<run_name>::<category>::<test_batch_type>[<features>]`` (DESIGN.md 3.4). A run's
stress test executes when its :class:`RimeRun` is collected (or comes from the cache); an
infrastructure failure is that collector's error, shown as one message and the job's log tail.

Firewalls follow the stress tests: :class:`RimeFirewall` -> one :class:`RimeBin` per bin its
job produced -> categories -> items, i.e.
``rime.yaml::<firewall>::<bin label>::<category>::<test_batch_type>[<features>]``, plus
``<firewall>::<bin label>::Monitoring::Monitored Metrics`` for the bin's firewall events.

With a ``max_skipped`` limit, a run (or bin) also gets the item ``<run>::Skipped test cases``,
which fails when more than that share of its cases were skipped. Items report the rime.yaml
entry of their run as their location (skips, warnings).
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pytest

from pytest_rime.plugin.bins import iso_time
from pytest_rime.plugin.cases import CATEGORIES, CaseRecord, RunRecord, category_marker, ordered
from pytest_rime.plugin.gate import (
    FailOnPolicy,
    IgnoreRules,
    Verdict,
    counted_skips,
    percent,
    skipped_over_limit,
    verdict,
)
from pytest_rime.plugin.kinds import FIREWALLS, STRESS_TESTS, Backend
from pytest_rime.plugin.render import engine_error_text, failure_text, finding, group_reasons
from pytest_rime.plugin.runner import RunFailed
from pytest_rime.plugin.schema import FirewallSpec, StressTestSpec
from pytest_rime.plugin.session import get_session
from pytest_rime.report.fields import firewall_anchor, run_anchor

SKIP_LIMIT_ITEM = "Skipped test cases"
"""Name of the item that checks a run's (or bin's) share of skipped cases."""


class RimeWarning(UserWarning):
    """A test case found a problem whose severity is below its ``fail_on`` gate."""


class RimeGateFailure(Exception):
    """A test case's severity reached its ``fail_on`` gate."""


class RimeEngineError(Exception):
    """A test case is an engine error (the test's own code raised): it fails every gate."""


class RimeSkipLimitExceeded(Exception):
    """More of a run's test cases were skipped than its ``max_skipped`` allows."""


def _error_text(excinfo: pytest.ExceptionInfo[BaseException]) -> str | None:
    return str(excinfo.value) if isinstance(excinfo.value, RunFailed) else None


class RimeFile(pytest.File):
    """A rime.yaml given by ``--rime-config``, the ``rime_config`` ini key or as an argument."""

    def collect(self) -> Iterator[RimeRun | RimeFirewall]:
        """One collector per stress test, then one per firewall (each runs when collected)."""
        spec = get_session(self.config).files[self.path.resolve()]
        backend = Backend(spec.server, spec.project, spec.defaults)
        for stress_test in spec.stress_tests:
            yield RimeRun.from_parent(
                self, name=stress_test.name, spec=stress_test, backend=backend
            )
        for firewall in spec.firewalls:
            yield RimeFirewall.from_parent(self, name=firewall.name, spec=firewall, backend=backend)


@dataclass(frozen=True)
class Gate:
    """How the cases of a run (or firewall bin) are gated and what their items carry.

    Attributes:
        fail_on: The spec's ``fail_on`` overrides.
        ignore: The spec's ignore list.
        default: The global gate (``--rime-fail-on``, ``defaults.fail_on``, ``high``).
        properties: Extra JUnit properties of every item (the firewall bin).
        max_skipped: Largest share of skipped cases that passes (``None``: no limit).
        line: 0-based line of the run's entry in the rime.yaml (items' location).
    """

    fail_on: FailOnPolicy
    ignore: IgnoreRules
    default: str
    properties: tuple[tuple[str, str], ...] = ()
    max_skipped: float | None = None
    line: int = 0


def _children(
    parent: pytest.Collector, record: RunRecord, gate: Gate
) -> Iterator[RimeCategory | RimeSkipLimit]:
    """One collector per category of ``record``'s cases, then the ``max_skipped`` item.

    The categories come in report order; the ``max_skipped`` item only when a limit applies.
    """
    by_category: dict[str, list[tuple[str, CaseRecord]]] = {}
    for label, case in ordered(record.cases):
        by_category.setdefault(case.category, []).append((label, case))
    for category, cases in by_category.items():
        yield RimeCategory.from_parent(parent, name=category, cases=cases, record=record, gate=gate)
    if gate.max_skipped is not None:
        yield RimeSkipLimit.from_parent(parent, name=SKIP_LIMIT_ITEM, record=record, gate=gate)


_SpecT = TypeVar("_SpecT", StressTestSpec, FirewallSpec)


class _SpecCollector(pytest.Collector, Generic[_SpecT]):
    """A stress test or firewall entry of a rime.yaml; collecting it produces its record."""

    def __init__(self, *, spec: _SpecT, backend: Backend, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec: _SpecT = spec
        self.backend = backend

    def _gate(self, properties: tuple[tuple[str, str], ...] = ()) -> Gate:
        """How the entry's cases are gated (the items of a firewall bin carry ``properties``)."""
        session = get_session(self.config)
        return Gate(
            self.spec.fail_on,
            self.spec.ignore,
            session.default_fail_on(self.backend),
            properties,
            max_skipped=session.max_skipped(self.spec.max_skipped, self.backend),
            line=self.spec.line or 0,
        )

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | Any:
        """The run's failure as one message (plus the job's log tail), not a traceback."""
        return _error_text(excinfo) or super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Location: the entry in the rime.yaml."""
        return self.path, self.spec.line or 0, self.name


class RimeRun(_SpecCollector[StressTestSpec]):
    """One stress test of a rime.yaml; collecting it produces (or reuses) its results."""

    def collect(self) -> Iterator[RimeCategory | RimeSkipLimit]:
        """One collector per category of the run's test cases, in report order."""
        session = get_session(self.config)
        record = session.result_for(STRESS_TESTS, self.spec, self.backend)
        link = session.link(self.backend, record.link, run_anchor(record.test_run_id))
        yield from _children(self, dataclasses.replace(record, link=link), self._gate())


class RimeFirewall(_SpecCollector[FirewallSpec]):
    """One firewall of a rime.yaml; collecting it sends its data and gathers its bins."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker("rime_firewall")

    def collect(self) -> Iterator[RimeBin]:
        """One collector per bin the firewall job produced, in time order."""
        session = get_session(self.config)
        record = session.result_for(FIREWALLS, self.spec, self.backend)
        firewall_link = session.link(self.backend, record.link, firewall_anchor(record.firewall_id))
        for time_bin in sorted(record.bins, key=lambda b: b.start_secs):
            link = session.link(self.backend, time_bin.link, run_anchor(time_bin.test_run_id))
            properties = (
                ("firewall", record.name),
                ("firewall_id", record.firewall_id),
                ("firewall_link", firewall_link),
                ("bin", time_bin.label),
                ("bin_start", iso_time(time_bin.start_secs)),
                ("bin_end", iso_time(time_bin.end_secs)),
                ("bin_rows", str(time_bin.num_rows)),
            )
            yield RimeBin.from_parent(
                self,
                name=time_bin.label,
                record=dataclasses.replace(time_bin, link=link).run_record(record),
                gate=self._gate(properties),
            )


class RimeBin(pytest.Collector):
    """One time bin of a firewall: its test cases and its monitored metrics."""

    def __init__(self, *, record: RunRecord, gate: Gate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record = record
        self.gate = gate

    def collect(self) -> Iterator[RimeCategory | RimeSkipLimit]:
        """One collector per category of the bin's cases (``Monitoring`` last)."""
        yield from _children(self, self.record, self.gate)


class RimeCategory(pytest.Collector):
    """The test cases of one category of a run or bin."""

    def __init__(
        self,
        *,
        cases: list[tuple[str, CaseRecord]],
        record: RunRecord,
        gate: Gate,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.cases = cases
        self.record = record
        self.gate = gate

    def collect(self) -> Iterator[RimeItem]:
        """One item per test case."""
        for label, case in self.cases:
            yield RimeItem.from_parent(
                self,
                name=label,
                case=case,
                record=self.record,
                fail_on=self.gate.fail_on.level_for(case, self.gate.default),
                ignored=self.gate.ignore.reason(case),
                properties=self.gate.properties,
                line=self.gate.line,
            )


def case_properties(case: CaseRecord, record: RunRecord, fail_on: str) -> list[tuple[str, str]]:
    """JUnit XML properties of a case's item (they ride in the reports, also under xdist)."""
    return [
        ("run_name", case.run_name),
        ("category", case.category),
        ("test_batch_type", case.test_batch_type),
        ("test_id", case.test_id),
        ("features", json.dumps(list(case.features))),
        ("status", case.status),
        ("severity", case.severity),
        ("fail_on", fail_on),
        ("importance_score", f"{case.importance_score:.6g}"),
        ("metrics", json.dumps(dict(case.metrics), sort_keys=True, default=str)),
        ("description", case.description),
        ("test_run_id", record.test_run_id),
        ("link", record.link),
    ]


def ensure_category_marker(config: pytest.Config, category: str) -> str:
    """The marker of ``category``, registered first when it is not a known category."""
    marker = category_marker(category)
    if category not in CATEGORIES:
        config.addinivalue_line("markers", f"{marker}: rime test cases of category {category}")
    return marker


def skip_reason(case: CaseRecord, ignored: str | None) -> str:
    """Why the item of a skipped case skips, on one line."""
    if ignored:
        return f"ignored by rime.yaml: {ignored}"
    text = " ".join(case.description.split())
    return text or "skipped by the stress test"


class RimeItem(pytest.Item):
    """One test case; passes, fails, skips or errors by the gate.

    A case below its gate passes; its finding is listed in the rime summary (and shown as a
    :class:`RimeWarning` with ``-v`` or ``--rime-show-warnings``). A skipped case's report
    points at the run's entry in the rime.yaml (:attr:`rime_location`, see
    ``pytest_runtest_makereport`` in :mod:`.plugin`).
    """

    def __init__(
        self,
        *,
        case: CaseRecord,
        record: RunRecord,
        fail_on: str,
        ignored: str | None,
        properties: tuple[tuple[str, str], ...] = (),
        line: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.record = record
        self.fail_on = fail_on
        self.ignored = ignored
        self.line = line
        self.verdict = Verdict.SKIP if ignored else verdict(case, fail_on)
        self.add_marker("rime")
        self.add_marker(ensure_category_marker(self.config, case.category))
        self.user_properties.extend(case_properties(case, record, fail_on))
        self.user_properties.extend(properties)
        self.user_properties.append(("gate", self.verdict.value))
        if self.verdict is Verdict.SKIP:
            self.skip_reason = skip_reason(case, ignored)
            self.user_properties.append(("skip_reason", self.skip_reason))
            self.user_properties.append(("ignored", "true" if ignored else "false"))

    @property
    def rime_location(self) -> tuple[str, int]:
        """``(path, 1-based line)`` of the run's entry: where skips are reported."""
        return str(self.path), self.line + 1

    @property
    def where(self) -> str:
        """``rime.yaml:12``: the run's entry in the rime.yaml."""
        return f"{self.path.name}:{self.line + 1}"

    def runtest(self) -> None:
        """Apply the gate to the case."""
        if self.verdict is Verdict.SKIP:
            pytest.skip(self.skip_reason)
        if self.verdict is Verdict.ERROR:
            raise RimeEngineError(self.case.full_name)
        if self.verdict is Verdict.FAIL:
            raise RimeGateFailure(self.case.full_name)
        session = get_session(self.config)
        if self.verdict is Verdict.WARN and session.settings.show_warnings:
            message = (
                f"{self.case.full_name}: {self.case.severity} finding, below "
                f"fail_on={self.fail_on}: {finding(self.case)}"
            )
            # Attributed to the run's entry in the rime.yaml (pytest shows that line).
            where = session.display(self.path)
            warnings.warn_explicit(RimeWarning(message), RimeWarning, where, self.line + 1)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """The failing case: features, status, severity, measured values, threshold, link."""
        if isinstance(excinfo.value, RimeGateFailure):
            return failure_text(self.case, self.fail_on, self.record.link)
        if isinstance(excinfo.value, RimeEngineError):
            return engine_error_text(self.case, self.where, self.record.link)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Location shown in reports: the run's entry in the rime.yaml, the case's name."""
        return self.path, self.line, self.case.full_name


class RimeSkipLimit(pytest.Item):
    """Fails when more of a run's (or bin's) cases were skipped than ``max_skipped`` allows.

    Cases skipped by the rime.yaml's ``ignore`` list do not count: they were not meant to run.
    """

    def __init__(self, *, record: RunRecord, gate: Gate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record = record
        self.line = gate.line
        self.max_skipped = gate.max_skipped
        self.skipped = counted_skips(record.cases, gate.ignore)
        self.total = len(record.cases)
        self.exceeded = skipped_over_limit(len(self.skipped), self.total, self.max_skipped)
        self.add_marker("rime")
        self.run_name = record.cases[0].run_name if record.cases else record.name
        self.user_properties.extend(
            [
                ("run_name", self.run_name),
                ("skipped", str(len(self.skipped))),
                ("total", str(self.total)),
                ("max_skipped", f"{self.max_skipped:g}"),
                ("skip_limit", "exceeded" if self.exceeded else "ok"),
                ("test_run_id", record.test_run_id),
                ("link", record.link),
                *gate.properties,
            ]
        )

    def message(self) -> str:
        """``12 of 99 test cases (12.1%) were skipped, above max_skipped=10%``."""
        share = len(self.skipped) / self.total if self.total else 0.0
        limit = percent(self.max_skipped or 0.0)
        relation = "above" if self.exceeded else "within"
        return (
            f"{len(self.skipped)} of {self.total} test cases ({percent(share)}) were skipped, "
            f"{relation} max_skipped={limit}"
        )

    def runtest(self) -> None:
        """Fail when the share of skipped cases is above the limit."""
        if self.exceeded:
            raise RimeSkipLimitExceeded(self.message())

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """The share of skipped cases, the limit, and the reasons by category."""
        if not isinstance(excinfo.value, RimeSkipLimitExceeded):
            return super().repr_failure(excinfo, style=style)
        lines = [f"{self.run_name}: {self.message()}"]
        lines += ["  skipped (a case that was not tested is not a pass):"]
        groups = group_reasons(
            [(c.category, skip_reason(c, None), c.features) for c in self.skipped]
        )
        lines += [
            f"    {category}: {count} x {reason}"
            for category, reason, count in sorted(groups, key=lambda g: -g[2])
        ]
        lines.append("  (max_skipped in rime.yaml, or --rime-max-skipped)")
        return "\n".join(lines)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Location: the run's entry in the rime.yaml."""
        return self.path, self.line, self.nodeid.split("::", 1)[-1]
