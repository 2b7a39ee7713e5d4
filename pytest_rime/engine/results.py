"""Plain result objects of a test run (DESIGN.md 3.3): what the engine returns.

These types are the contract between the engine, the job worker and the server store. They
know nothing of gRPC or pytest and round-trip through JSON with :meth:`RunResult.to_dict` and
:meth:`RunResult.from_dict` (NaN and infinities become ``None``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pytest_rime import vocabulary
from pytest_rime.engine.codec import JSONRecord
from pytest_rime.engine.codec import JSONValue as JSONValue  # re-exported
from pytest_rime.engine.codec import json_safe as json_safe  # re-exported


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


@dataclass(frozen=True)
class TestCaseResult(JSONRecord):
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
class TestBatchResult(JSONRecord):
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


@dataclass(frozen=True)
class ModelPerf(JSONRecord):
    """One model metric on the reference and the evaluation set (None when not computable)."""

    name: str
    ref_metric: float | None
    eval_metric: float | None


@dataclass(frozen=True)
class RunResult(JSONRecord):
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
