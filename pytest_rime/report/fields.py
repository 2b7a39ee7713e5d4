"""Small helpers shared by the view builders: the view type, text of a field, worst severity.

Also the ids of a report's sections, which the plugin and the SDK link to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pytest_rime.report.gating import severity_rank
from pytest_rime.vocabulary import SEVERITIES

View = dict[str, Any]
"""A JSON-ready view dict."""


def text_of(mapping: Mapping[str, Any], key: str, default: str = "") -> str:
    """``mapping[key]`` as text (``default`` when missing or ``None``)."""
    value = mapping.get(key)
    return default if value is None else str(value)


def worst(severities: Iterable[str]) -> str:
    """The worst of ``severities`` (``NONE`` when there is none)."""
    return max(severities, key=severity_rank, default=SEVERITIES[0])


def run_anchor(test_run_id: str) -> str:
    """The id of a run's section in a report, what links point at: ``run-<test_run_id>``."""
    return f"run-{test_run_id}"


def firewall_anchor(firewall_id: str) -> str:
    """The id of a firewall's section in a report: ``firewall-<firewall_id>``."""
    return f"firewall-{firewall_id}"
