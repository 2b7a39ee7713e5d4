"""Firewall results as the plugin sees them: time bins with their cases and events.

A :class:`FirewallRecord` is what one firewall job produced (the bins whose ``job_id`` is that
job's), reduced to JSON-simple values so it can be cached like a stress test's
:class:`~pytest_rime.plugin.cases.RunRecord`. Each bin becomes a ``RunRecord`` named
``<firewall name>::<bin label>`` whose cases are the bin's test cases plus one
``Monitoring::Monitored Metrics`` case standing for the bin's monitored metrics and events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pytest_rime.plugin.cases import CaseRecord, RunRecord, json_ready, severity_rank
from pytest_rime.vocabulary import HOURLY
from pytest_rime.vocabulary import MONITORING_CATEGORY as MONITORING_CATEGORY  # re-exported

MONITORING_TEST = "Monitored Metrics"
MONITORING_TEST_ID = "firewall.monitored_metrics"
"""Category, display name and id of the case standing for a bin's monitored metrics."""


def bin_label(start_secs: int, end_secs: int) -> str:
    """``2024-05-03`` for a daily bin, ``2024-05-03 14:00`` for an hourly one (UTC)."""
    start = datetime.fromtimestamp(start_secs, UTC)
    return start.strftime("%Y-%m-%d %H:%M" if end_secs - start_secs <= HOURLY else "%Y-%m-%d")


def iso_time(secs: int) -> str:
    """``2024-05-03T00:00:00+00:00``."""
    return datetime.fromtimestamp(secs, UTC).isoformat()


@dataclass(frozen=True)
class BinRecord:
    """One time bin produced by a firewall job.

    Attributes:
        start_secs: Bin start, seconds since the epoch (UTC).
        end_secs: Bin end (exclusive).
        test_run_id: Id of the bin's test run on the server.
        link: Web app URL of the bin's run.
        num_rows: Rows of the data that fell in the bin.
        severity: Highest level a monitored metric reached (``NONE`` .. ``HIGH``).
        metrics: Monitored metric values by name (``num_drifting_features``, ...).
        events: Firewall events of the bin: ``metric``, ``value``, ``threshold``,
            ``severity``, ``description``.
        cases: The test cases of the bin's run (named ``<firewall>::<bin label>::...``).
    """

    start_secs: int
    end_secs: int
    test_run_id: str
    link: str
    num_rows: int
    severity: str
    metrics: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[Mapping[str, Any], ...] = ()
    cases: tuple[CaseRecord, ...] = ()

    @property
    def label(self) -> str:
        """The bin's name in item names."""
        return bin_label(self.start_secs, self.end_secs)

    def monitoring_case(self, run_name: str) -> CaseRecord:
        """The case of the bin's monitored metrics: as severe as its worst event."""
        events = sorted(self.events, key=lambda e: -severity_rank(str(e["severity"])))
        worst = str(events[0]["severity"]) if events else "NONE"
        description = " ".join(str(e["description"]) for e in events)
        return CaseRecord(
            run_name=run_name,
            test_id=MONITORING_TEST_ID,
            test_batch_type=MONITORING_TEST,
            category=MONITORING_CATEGORY,
            features=(),
            status="FAIL" if self.events else "PASS",
            severity=worst,
            importance_score=0.0,
            metrics={**self.metrics, "events": [dict(e) for e in events]},
            description=description or "no monitored metric crossed its threshold",
        )

    def run_record(self, firewall: FirewallRecord) -> RunRecord:
        """The bin as a run named ``<firewall name>::<bin label>`` (cases plus monitoring)."""
        name = f"{firewall.name}::{self.label}"
        return RunRecord(
            name=name,
            test_run_id=self.test_run_id,
            job_id=firewall.job_id,
            link=self.link,
            cases=(*self.cases, self.monitoring_case(name)),
            session=firewall.session,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of :meth:`from_dict`)."""
        return json_ready(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BinRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(
            start_secs=int(data["start_secs"]),
            end_secs=int(data["end_secs"]),
            test_run_id=data["test_run_id"],
            link=data["link"],
            num_rows=int(data["num_rows"]),
            severity=data["severity"],
            metrics=dict(data["metrics"]),
            events=tuple(dict(e) for e in data["events"]),
            cases=tuple(CaseRecord.from_dict(case) for case in data["cases"]),
        )


@dataclass(frozen=True)
class FirewallRecord:
    """The bins one firewall job produced (cached as JSON).

    Attributes:
        name: Firewall name in rime.yaml (first segment of the item names).
        firewall_id: Id of the firewall on the server.
        link: Web app URL of the firewall.
        job_id: Id of the job that produced the bins.
        progress: The job's final progress text (it counts rows in no bin).
        bins: The bins, ordered by start.
        session: Token of the pytest session that ran it.
    """

    name: str
    firewall_id: str
    link: str
    job_id: str
    progress: str
    bins: tuple[BinRecord, ...]
    session: str = ""

    @property
    def num_cases(self) -> int:
        """Test cases over all bins."""
        return sum(len(b.cases) for b in self.bins)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of :meth:`from_dict`)."""
        return json_ready(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FirewallRecord:
        """Inverse of :meth:`to_dict`."""
        bins: Sequence[Mapping[str, Any]] = data["bins"]
        return cls(
            name=data["name"],
            firewall_id=data["firewall_id"],
            link=data["link"],
            job_id=data["job_id"],
            progress=data["progress"],
            bins=tuple(BinRecord.from_dict(b) for b in bins),
            session=data["session"],
        )
