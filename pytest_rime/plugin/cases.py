"""Test case records as the plugin sees them: plain data, item names and their order.

A :class:`CaseRecord` is one row of ``get_test_cases_result()`` (DESIGN.md 3.3) reduced to
JSON-simple values, so it can be cached in the pytest cache dir and turned into an item
without pandas. Item names follow ``<run_name>::<category>::<test_batch_type>[<features>]``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_rime.report.gating import severity_rank as severity_rank  # re-exported
from pytest_rime.vocabulary import REPORT_CATEGORIES
from pytest_rime.vocabulary import SEVERITIES as SEVERITIES  # re-exported

STATUSES = ("PASS", "WARNING", "FAIL", "SKIP", "ERROR")
"""Statuses of a test case (``ERROR``: the test's own code raised, an engine error)."""

CATEGORIES = REPORT_CATEGORIES
"""Display names of the known categories, in report order (``Monitoring``: the monitored
metrics and events of a firewall bin)."""


def category_slug(category: str) -> str:
    """``"Bias and Fairness"`` -> ``"bias_and_fairness"``."""
    return re.sub(r"[^0-9a-z]+", "_", category.lower()).strip("_")


def category_marker(category: str) -> str:
    """Name of the marker an item of ``category`` carries, e.g. ``rime_drift``."""
    return f"rime_{category_slug(category)}"


def json_ready(record: Any) -> dict[str, Any]:
    """The fields of the dataclass ``record`` as JSON-simple values, for its ``to_dict``.

    Tuples become lists (of the ``to_dict`` of records, of plain dicts of mappings), mappings
    plain dicts; the record's ``from_dict`` turns them back.
    """

    def ready(value: Any) -> Any:
        if hasattr(value, "to_dict"):
            return value.to_dict()
        if isinstance(value, Mapping):
            return dict(value)
        if isinstance(value, tuple):
            return [ready(item) for item in value]
        return value

    return {f.name: ready(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _enum_value(raw: Any, allowed: Sequence[str], column: str) -> str:
    text = str(raw).upper().rsplit("_", 1)[-1] if raw is not None else ""
    if text == "WARN":
        text = "WARNING"
    if text not in allowed:
        raise ValueError(f"test case column {column!r}: unexpected value {raw!r}")
    return text


def _features(raw: Any) -> tuple[str, ...]:
    if raw is None or isinstance(raw, float):  # missing value in a DataFrame
        return ()
    if isinstance(raw, str):
        return (raw,) if raw else ()
    return tuple(str(f) for f in raw)


def _metrics(raw: Any) -> dict[str, Any]:
    if raw is None or isinstance(raw, float):
        return {}
    if isinstance(raw, str):
        loaded = json.loads(raw) if raw else {}
        return dict(loaded) if isinstance(loaded, Mapping) else {"value": loaded}
    return {str(k): v for k, v in dict(raw).items()}


@dataclass(frozen=True)
class CaseRecord:
    """One test case of a stress test run.

    Attributes:
        run_name: Name of the run the case belongs to (first segment of the item name).
        test_id: Stable engine id of the test, e.g. ``drift.feature_drift`` (may be empty).
        test_batch_type: Display name of the test, e.g. ``Feature Drift``.
        category: Display name of the category, e.g. ``Drift``.
        features: Features the case is about (empty for dataset-level cases).
        status: ``PASS``, ``WARNING``, ``FAIL``, ``SKIP`` or ``ERROR`` (an engine error).
        severity: ``NONE``, ``LOW``, ``MEDIUM`` or ``HIGH``.
        importance_score: Model impact of the case in 0..1.
        metrics: Measured values (observed statistic, threshold, counts, deltas).
        description: One sentence a person can act on.
    """

    run_name: str
    test_id: str
    test_batch_type: str
    category: str
    features: tuple[str, ...]
    status: str
    severity: str
    importance_score: float
    metrics: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @classmethod
    def from_row(cls, run_name: str, row: Mapping[str, Any]) -> CaseRecord:
        """Build a record from one row of ``get_test_cases_result()`` (a mapping of columns)."""
        score = row.get("importance_score")
        return cls(
            run_name=run_name,
            test_id=str(row.get("test_id") or ""),
            test_batch_type=str(row["test_batch_type"]),
            category=str(row["category"]),
            features=_features(row.get("features")),
            status=_enum_value(row.get("status"), STATUSES, "status"),
            severity=_enum_value(row.get("severity"), SEVERITIES, "severity"),
            importance_score=float(score) if score is not None and score == score else 0.0,
            metrics=_metrics(row.get("metrics")),
            description=str(row.get("description") or ""),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of :meth:`from_dict`)."""
        return json_ready(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(
            run_name=data["run_name"],
            test_id=data["test_id"],
            test_batch_type=data["test_batch_type"],
            category=data["category"],
            features=tuple(data["features"]),
            status=data["status"],
            severity=data["severity"],
            importance_score=float(data["importance_score"]),
            metrics=dict(data["metrics"]),
            description=data["description"],
        )

    @property
    def label(self) -> str:
        """``<test_batch_type>[<features>]``: the item's own name inside its category."""
        if not self.features:
            return self.test_batch_type
        return f"{self.test_batch_type}[{','.join(self.features)}]"

    @property
    def full_name(self) -> str:
        """``<run_name>::<category>::<test_batch_type>[<features>]`` (DESIGN.md 3.4)."""
        return f"{self.run_name}::{self.category}::{self.label}"


def _category_position(category: str) -> tuple[int, str]:
    known = CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES)
    return known, category


def sort_key(case: CaseRecord) -> tuple[Any, ...]:
    """Deterministic order: category (report order), test, features, test id."""
    return (
        _category_position(case.category),
        case.test_batch_type,
        case.features,
        case.test_id,
    )


def ordered(cases: Iterable[CaseRecord]) -> list[tuple[str, CaseRecord]]:
    """Cases in deterministic order, each with a label unique within its category.

    Two cases with the same test name and features (two tests sharing a display name) get
    ``#2``, ``#3``... appended in order, so every item has its own node id.
    """
    seen: dict[tuple[str, str], int] = {}
    labelled: list[tuple[str, CaseRecord]] = []
    for case in sorted(cases, key=sort_key):
        count = seen.get((case.category, case.label), 0) + 1
        seen[(case.category, case.label)] = count
        labelled.append((case.label if count == 1 else f"{case.label}#{count}", case))
    return labelled


@dataclass(frozen=True)
class RunRecord:
    """A finished stress test run as the plugin keeps it (cached as JSON).

    Attributes:
        name: Run name (first segment of the item names).
        test_run_id: Id of the run on the server.
        job_id: Id of the job that produced it.
        link: Web app URL of the run.
        cases: Its test cases.
        summary: The row of ``get_test_run_result()`` as a flat dict of JSON-simple values.
        session: Token of the pytest session that ran it (xdist workers share it).
    """

    name: str
    test_run_id: str
    job_id: str
    link: str
    cases: tuple[CaseRecord, ...]
    summary: Mapping[str, Any] = field(default_factory=dict)
    session: str = ""

    def renamed(self, name: str) -> RunRecord:
        """This run under another run name (a cached run shared by specs naming it apart)."""
        if name == self.name:
            return self
        cases = tuple(dataclasses.replace(case, run_name=name) for case in self.cases)
        return dataclasses.replace(self, name=name, cases=cases)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of :meth:`from_dict`)."""
        return json_ready(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            test_run_id=data["test_run_id"],
            job_id=data["job_id"],
            link=data["link"],
            cases=tuple(CaseRecord.from_dict(case) for case in data["cases"]),
            summary=dict(data["summary"]),
            session=data["session"],
        )
