"""The quality gate: which ``fail_on`` level applies to a case, and what the case's item does.

A case fails its item when its severity is at or above its ``fail_on`` level; a WARNING or
FAIL case below the gate passes (its finding is listed in the summary); a SKIP case (or an
ignored one) is skipped; an ERROR case (the test's own code raised) fails its item as an
engine error whatever the gate. ``max_skipped`` bounds the share of SKIP cases of a run.
``fail_on`` is resolved from the most specific setting: per test (display name or test id),
per category, per stress test, then the global default (``--rime-fail-on``, else
``defaults.fail_on``, else ``high``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pytest_rime.plugin.cases import CaseRecord, category_slug
from pytest_rime.report.gating import gate_of
from pytest_rime.vocabulary import DEFAULT_FAIL_ON as DEFAULT_FAIL_ON  # re-exported
from pytest_rime.vocabulary import FAIL_ON_LEVELS as FAIL_ON_LEVELS  # re-exported


def name_key(name: str) -> str:
    """Case- and spacing-insensitive form of a test, category or feature name."""
    return " ".join(name.casefold().replace("_", " ").split())


class Verdict(enum.Enum):
    """What a case's item does."""

    PASS = "passed"
    WARN = "warned"
    FAIL = "failed"
    SKIP = "skipped"
    ERROR = "error"


@dataclass(frozen=True)
class FailOnPolicy:
    """``fail_on`` settings of one stress test; keys are already :func:`name_key` normalised.

    Attributes:
        default: Level for the whole stress test (``None``: use the global default).
        categories: Level per category (display name or slug).
        tests: Level per test (display name or test id).
    """

    default: str | None = None
    categories: Mapping[str, str] = field(default_factory=dict)
    tests: Mapping[str, str] = field(default_factory=dict)

    def level_for(self, case: CaseRecord, global_default: str) -> str:
        """The ``fail_on`` level that applies to ``case``."""
        for key in (case.test_id, case.test_batch_type):
            if key and name_key(key) in self.tests:
                return self.tests[name_key(key)]
        for key in (case.category, category_slug(case.category)):
            if name_key(key) in self.categories:
                return self.categories[name_key(key)]
        return self.default or global_default


@dataclass(frozen=True)
class IgnoreRules:
    """Tests and features whose cases are skipped (keys :func:`name_key` normalised)."""

    tests: frozenset[str] = frozenset()
    features: frozenset[str] = frozenset()

    def reason(self, case: CaseRecord) -> str | None:
        """Why ``case`` is ignored, or ``None`` when it is not."""
        for key in (case.test_id, case.test_batch_type):
            if key and name_key(key) in self.tests:
                return f"test {key!r} is in the ignore list"
        for feature in case.features:
            if name_key(feature) in self.features:
                return f"feature {feature!r} is in the ignore list"
        return None


def verdict(case: CaseRecord, fail_on: str) -> Verdict:
    """What the item of ``case`` does under the gate ``fail_on`` (ERROR: always an error).

    The rule is :func:`pytest_rime.report.gating.gate_of`, shared with the pages so that
    their counts equal pytest's.
    """
    return Verdict(gate_of(case.status, case.severity, fail_on))


def parse_fraction(value: object) -> float:
    """``max_skipped`` as a fraction of cases: ``0.1``, ``"0.1"`` or ``"10%"``.

    Raises:
        ValueError: Not a number in 0..1 (or a percentage in 0..100%).
    """
    if isinstance(value, bool):
        raise ValueError(
            f"expected a fraction of test cases in 0..1 or a percentage, got {value!r}"
        )
    text = str(value).strip() if isinstance(value, str | int | float) else ""
    try:
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise ValueError(
            f"expected a fraction of test cases in 0..1 or a percentage, got {value!r}"
        )
    return number


def percent(fraction: float) -> str:
    """``0.125`` -> ``12.5%``."""
    return f"{100 * fraction:.3g}%"


def counted_skips(cases: Iterable[CaseRecord], ignore: IgnoreRules) -> list[CaseRecord]:
    """The SKIP cases ``max_skipped`` counts: those not skipped by the ``ignore`` rules."""
    return [c for c in cases if c.status == "SKIP" and ignore.reason(c) is None]


def skipped_over_limit(skipped: int, total: int, max_skipped: float | None) -> bool:
    """Whether ``skipped`` of ``total`` cases exceed ``max_skipped`` (``None``: no limit)."""
    return max_skipped is not None and total > 0 and skipped / total > max_skipped
