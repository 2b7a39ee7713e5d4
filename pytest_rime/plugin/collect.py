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
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_rime.plugin.bins import iso_time
from pytest_rime.plugin.cases import CATEGORIES, CaseRecord, RunRecord, category_marker, ordered
from pytest_rime.plugin.gate import DEFAULT_FAIL_ON, FailOnPolicy, IgnoreRules, Verdict, verdict
from pytest_rime.plugin.render import failure_text
from pytest_rime.plugin.runner import RunFailed
from pytest_rime.plugin.schema import FirewallSpec, StressTestSpec
from pytest_rime.plugin.session import Backend, get_session


class RimeWarning(UserWarning):
    """A test case found a problem whose severity is below its ``fail_on`` gate."""


class RimeGateFailure(Exception):
    """A test case's severity reached its ``fail_on`` gate."""


def _error_text(excinfo: pytest.ExceptionInfo[BaseException]) -> str | None:
    return str(excinfo.value) if isinstance(excinfo.value, RunFailed) else None


class RimeFile(pytest.File):
    """A rime.yaml given by ``--rime-config`` or the ``rime_config`` ini key."""

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
    """

    fail_on: FailOnPolicy
    ignore: IgnoreRules
    default: str
    properties: tuple[tuple[str, str], ...] = ()


def _global_default(config: pytest.Config, backend: Backend) -> str:
    return get_session(config).settings.fail_on or backend.defaults.fail_on or DEFAULT_FAIL_ON


def _categories(parent: pytest.Collector, record: RunRecord, gate: Gate) -> Iterator[RimeCategory]:
    """One collector per category of ``record``'s test cases, in report order."""
    by_category: dict[str, list[tuple[str, CaseRecord]]] = {}
    for label, case in ordered(record.cases):
        by_category.setdefault(case.category, []).append((label, case))
    for category, cases in by_category.items():
        yield RimeCategory.from_parent(parent, name=category, cases=cases, record=record, gate=gate)


class RimeRun(pytest.Collector):
    """One stress test of a rime.yaml; collecting it produces (or reuses) its results."""

    def __init__(self, *, spec: StressTestSpec, backend: Backend, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.backend = backend

    def collect(self) -> Iterator[RimeCategory]:
        """One collector per category of the run's test cases, in report order."""
        record = get_session(self.config).result_for(self.spec, self.backend)
        gate = Gate(self.spec.fail_on, self.spec.ignore, _global_default(self.config, self.backend))
        yield from _categories(self, record, gate)

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | Any:
        """The run's failure as one message (plus the job's log tail), not a traceback."""
        return _error_text(excinfo) or super().repr_failure(excinfo)


class RimeFirewall(pytest.Collector):
    """One firewall of a rime.yaml; collecting it sends its data and gathers its bins."""

    def __init__(self, *, spec: FirewallSpec, backend: Backend, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.backend = backend
        self.add_marker("rime_firewall")

    def collect(self) -> Iterator[RimeBin]:
        """One collector per bin the firewall job produced, in time order."""
        record = get_session(self.config).firewall_result_for(self.spec, self.backend)
        default = _global_default(self.config, self.backend)
        for time_bin in sorted(record.bins, key=lambda b: b.start_secs):
            properties = (
                ("firewall", record.name),
                ("firewall_id", record.firewall_id),
                ("firewall_link", record.link),
                ("bin", time_bin.label),
                ("bin_start", iso_time(time_bin.start_secs)),
                ("bin_end", iso_time(time_bin.end_secs)),
                ("bin_rows", str(time_bin.num_rows)),
            )
            yield RimeBin.from_parent(
                self,
                name=time_bin.label,
                record=time_bin.run_record(record),
                gate=Gate(self.spec.fail_on, self.spec.ignore, default, properties),
            )

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | Any:
        """The firewall's failure as one message (plus the job's log tail), not a traceback."""
        return _error_text(excinfo) or super().repr_failure(excinfo)


class RimeBin(pytest.Collector):
    """One time bin of a firewall: its test cases and its monitored metrics."""

    def __init__(self, *, record: RunRecord, gate: Gate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record = record
        self.gate = gate

    def collect(self) -> Iterator[RimeCategory]:
        """One collector per category of the bin's cases (``Monitoring`` last)."""
        yield from _categories(self, self.record, self.gate)


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


class RimeItem(pytest.Item):
    """One test case; passes, warns, fails or skips by the gate."""

    def __init__(
        self,
        *,
        case: CaseRecord,
        record: RunRecord,
        fail_on: str,
        ignored: str | None,
        properties: tuple[tuple[str, str], ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.record = record
        self.fail_on = fail_on
        self.ignored = ignored
        self.add_marker("rime")
        self.add_marker(ensure_category_marker(self.config, case.category))
        self.user_properties.extend(case_properties(case, record, fail_on))
        self.user_properties.extend(properties)

    def runtest(self) -> None:
        """Apply the gate to the case."""
        if self.ignored:
            self.user_properties.append(("gate", Verdict.SKIP.value))
            pytest.skip(f"ignored by rime.yaml: {self.ignored}")
        outcome = verdict(self.case, self.fail_on)
        self.user_properties.append(("gate", outcome.value))
        if outcome is Verdict.SKIP:
            pytest.skip(self.case.description or "skipped by the stress test")
        if outcome is Verdict.FAIL:
            raise RimeGateFailure(self.case.full_name)
        if outcome is Verdict.WARN:
            # The first sentence only; the whole description is in --rime-report.
            finding = self.case.description.split(". ", 1)[0].rstrip(".")
            message = (
                f"{self.case.full_name}: {self.case.status}, severity {self.case.severity} "
                f"is below fail_on={self.fail_on}: {finding}."
            )
            # Attributed to the rime.yaml (line 0: no source line is printed under it).
            warnings.warn_explicit(RimeWarning(message), RimeWarning, str(self.path), 0)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """The failing case: features, status, severity, measured values, threshold, link."""
        if isinstance(excinfo.value, RimeGateFailure):
            return failure_text(self.case, self.fail_on, self.record.link)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Location shown in reports: the rime.yaml and the case's full name."""
        return self.path, None, self.case.full_name
