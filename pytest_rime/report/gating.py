"""The quality gate of one test case: what its item does under a ``fail_on`` level.

The one rule shared by the pytest plugin (its items pass, warn, fail, skip or error) and the
pages (their counts must equal pytest's): an ERROR case (the test's own code raised) is an
engine error whatever the gate; a SKIP case is skipped; a case whose severity is at or above
``fail_on`` fails; a WARNING or FAIL case below the gate is "warned" (it passes, with a
finding); anything else passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from pytest_rime.vocabulary import DEFAULT_FAIL_ON, FAIL_ON_LEVELS, SEVERITIES

GATES: Final = ("failed", "error", "warned", "passed", "skipped")
"""What a case's item did, worst first (``error``: an engine error, which fails the gate too)."""


def severity_rank(severity: str) -> int:
    """Position of ``severity`` in NONE < LOW < MEDIUM < HIGH (case-insensitive).

    Raises:
        ValueError: ``severity`` is not one of :data:`pytest_rime.vocabulary.SEVERITIES`.
    """
    key = severity.upper()
    if key not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}")
    return SEVERITIES.index(key)


def is_at_or_above(severity: str, fail_on: str) -> bool:
    """Whether ``severity`` (NONE..HIGH) reaches the gate ``fail_on`` (low..high).

    Raises:
        ValueError: ``fail_on`` is not one of :data:`pytest_rime.vocabulary.FAIL_ON_LEVELS`.
    """
    if fail_on.lower() not in FAIL_ON_LEVELS:
        raise ValueError(
            f"unknown fail_on {fail_on!r}; expected one of {', '.join(FAIL_ON_LEVELS)}"
        )
    return severity_rank(severity) >= severity_rank(fail_on)


def gate_of(status: str, severity: str, fail_on: str = DEFAULT_FAIL_ON) -> str:
    """What the item of a case with ``status`` and ``severity`` does under ``fail_on``.

    Returns:
        One of :data:`GATES`: ``error`` (status ERROR, whatever the gate), ``skipped`` (SKIP),
        ``failed`` (severity at or above ``fail_on``), ``warned`` (WARNING or FAIL below the
        gate) or ``passed``.
    """
    status = status.upper()
    if status == "ERROR":
        return "error"
    if status == "SKIP":
        return "skipped"
    if is_at_or_above(severity, fail_on):
        return "failed"
    if status in ("WARNING", "FAIL"):
        return "warned"
    return "passed"


def gate_counts(
    cases: Iterable[tuple[str, str, int]], fail_on: str = DEFAULT_FAIL_ON
) -> dict[str, int]:
    """Cases per gate (and ``total``) of ``(status, severity, number of cases)`` groups."""
    counts = dict.fromkeys(GATES, 0)
    for status, severity, number in cases:
        counts[gate_of(status, severity, fail_on)] += number
    return {**counts, "total": sum(counts.values())}
