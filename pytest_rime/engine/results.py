"""Plain result objects of a test run (DESIGN.md 3.3): what the engine returns.

These types are the contract between the engine, the job worker and the server store. They
know nothing of gRPC or pytest and round-trip through JSON with :meth:`RunResult.to_dict` and
:meth:`RunResult.from_dict` (NaN and infinities become ``None``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeAlias

from pytest_rime import vocabulary

JSONValue: TypeAlias = Any
"""A value that json.dumps accepts after :func:`json_safe`."""


class Status(StrEnum):
    """Outcome of one test case."""

    PASS = "PASS"
    WARNING = "WARNING"
    FAIL = "FAIL"
    SKIP = "SKIP"
    ERROR = "ERROR"


class Severity(StrEnum):
    """Consequence of a test case for the model, ordered NONE < LOW < MEDIUM < HIGH."""

    NONE = "NONE"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"

    @property
    def rank(self) -> int:
        """Position in the order NONE=0, LOW=1, MEDIUM=2, HIGH=3."""
        return _SEVERITY_ORDER.index(self)

    @classmethod
    def worst(cls, severities: Iterable[Severity]) -> Severity:
        """The highest severity of ``severities`` (NONE when empty)."""
        return max(severities, key=lambda s: s.rank, default=cls.NONE)


_SEVERITY_ORDER = (Severity.NONE, Severity.LOW, Severity.MEDIUM, Severity.HIGH)

CATEGORIES = vocabulary.CATEGORIES
"""Display names of the test categories, in report order (see :mod:`pytest_rime.vocabulary`)."""


def json_safe(value: JSONValue) -> JSONValue:
    """Return ``value`` with numpy scalars made Python and non-finite floats made ``None``."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class TestCaseResult:
    """One test case: one test applied to one feature (or feature set, or the whole dataset)."""

    __test__ = False  # not a pytest test class

    test_id: str
    test_batch_type: str
    category: str
    features: tuple[str, ...]
    status: Status
    severity: Severity
    importance_score: float
    metrics: Mapping[str, JSONValue]
    description: str

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready form."""
        return {
            "test_id": self.test_id,
            "test_batch_type": self.test_batch_type,
            "category": self.category,
            "features": list(self.features),
            "status": self.status.value,
            "severity": self.severity.value,
            "importance_score": json_safe(float(self.importance_score)) or 0.0,
            "metrics": json_safe(dict(self.metrics)),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, JSONValue]) -> TestCaseResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            test_id=data["test_id"],
            test_batch_type=data["test_batch_type"],
            category=data["category"],
            features=tuple(data["features"]),
            status=Status(data["status"]),
            severity=Severity(data["severity"]),
            importance_score=float(data["importance_score"] or 0.0),
            metrics=dict(data["metrics"]),
            description=data["description"],
        )


def count_statuses(cases: Iterable[TestCaseResult]) -> dict[str, int]:
    """Summary counts ``{total, pass, warning, fail, skip, error}`` of ``cases``."""
    counts = {"total": 0, "pass": 0, "warning": 0, "fail": 0, "skip": 0, "error": 0}
    for case in cases:
        counts["total"] += 1
        counts[case.status.value.lower()] += 1
    return counts


def count_severities(cases: Iterable[TestCaseResult]) -> dict[str, int]:
    """Severity counts ``{none, low, medium, high}`` of ``cases``."""
    counts = {"none": 0, "low": 0, "medium": 0, "high": 0}
    for case in cases:
        counts[case.severity.value.lower()] += 1
    return counts


@dataclass(frozen=True)
class TestBatchResult:
    """All cases of one test (one registry entry) in a run."""

    __test__ = False

    test_id: str
    test_batch_type: str
    category: str
    description: str
    duration_millis: int
    cases: tuple[TestCaseResult, ...]

    @property
    def summary_counts(self) -> dict[str, int]:
        """Status counts of the batch's cases."""
        return count_statuses(self.cases)

    @property
    def severity(self) -> Severity:
        """Worst severity among the batch's cases."""
        return Severity.worst(c.severity for c in self.cases)

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready form."""
        return {
            "test_id": self.test_id,
            "test_batch_type": self.test_batch_type,
            "category": self.category,
            "description": self.description,
            "duration_millis": int(self.duration_millis),
            "cases": [c.to_dict() for c in self.cases],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, JSONValue]) -> TestBatchResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            test_id=data["test_id"],
            test_batch_type=data["test_batch_type"],
            category=data["category"],
            description=data["description"],
            duration_millis=int(data["duration_millis"]),
            cases=tuple(TestCaseResult.from_dict(c) for c in data["cases"]),
        )


@dataclass(frozen=True)
class ModelPerf:
    """One model metric on the reference and the evaluation set (None when not computable)."""

    name: str
    ref_metric: float | None
    eval_metric: float | None


@dataclass(frozen=True)
class RunResult:
    """Everything a finished test run produced."""

    run_name: str
    model_task: str
    data_type: str
    num_inputs: int
    num_failing_inputs: int
    duration_millis: int
    batches: tuple[TestBatchResult, ...]
    model_perf: tuple[ModelPerf, ...] = ()
    metadata: Mapping[str, JSONValue] = field(default_factory=dict)

    @property
    def test_cases(self) -> list[TestCaseResult]:
        """All cases of all batches, in batch order."""
        return [case for batch in self.batches for case in batch.cases]

    @property
    def summary_counts(self) -> dict[str, int]:
        """Status counts over all cases."""
        return count_statuses(self.test_cases)

    @property
    def severity_counts(self) -> dict[str, int]:
        """Severity counts over all cases."""
        return count_severities(self.test_cases)

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready form."""
        return {
            "run_name": self.run_name,
            "model_task": self.model_task,
            "data_type": self.data_type,
            "num_inputs": int(self.num_inputs),
            "num_failing_inputs": int(self.num_failing_inputs),
            "duration_millis": int(self.duration_millis),
            "batches": [b.to_dict() for b in self.batches],
            "model_perf": [
                {
                    "name": p.name,
                    "ref_metric": json_safe(p.ref_metric),
                    "eval_metric": json_safe(p.eval_metric),
                }
                for p in self.model_perf
            ],
            "metadata": json_safe(dict(self.metadata)),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, JSONValue]) -> RunResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            run_name=data["run_name"],
            model_task=data["model_task"],
            data_type=data["data_type"],
            num_inputs=int(data["num_inputs"]),
            num_failing_inputs=int(data["num_failing_inputs"]),
            duration_millis=int(data["duration_millis"]),
            batches=tuple(TestBatchResult.from_dict(b) for b in data["batches"]),
            model_perf=tuple(
                ModelPerf(p["name"], p["ref_metric"], p["eval_metric"]) for p in data["model_perf"]
            ),
            metadata=dict(data["metadata"]),
        )
