"""The config of a firewall batch job (``RunFirewallIncrementalData``), checked before the job.

The reference data, model and ``tests_config`` come from the firewall's stress test run; the
incremental config only says where the new data is and how to bin it::

    {"eval_path": "rime://uploads/<id>/day.csv", "timestamp_col": "ts"}

``eval_path`` may also sit in ``data_info`` and ``timestamp_col`` in ``data_info`` or
``monitoring_info`` (the RIME 0.x shapes); ``monitoring_info.thresholds`` overrides the
monitored metric thresholds for this run. Any other key is refused, naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_rime.engine.errors import ConfigError
from pytest_rime.engine.monitoring import resolve_thresholds
from pytest_rime.server.convert import config_from_json
from pytest_rime.server.errors import InvalidArgumentError

ALLOWED_KEYS: Mapping[str, tuple[str, ...]] = {
    "": ("eval_path", "timestamp_col", "data_info", "monitoring_info"),
    "data_info": ("eval_path", "timestamp_col"),
    "monitoring_info": ("timestamp_col", "thresholds"),
}
"""Keys an incremental config may have, per section (``""`` is the top level)."""


@dataclass(frozen=True)
class IncrementalConfig:
    """Where a firewall batch job's data is, and its optional threshold overrides."""

    eval_path: str
    timestamp_col: str
    thresholds: dict[str, Any] | None = None

    def run_config(self, reference: Mapping[str, Any]) -> dict[str, Any]:
        """``reference`` reading this data: the config stored with each bin's run."""
        config = dict(reference)
        config["data_info"] = {
            **reference.get("data_info", {}),
            "eval_path": self.eval_path,
        }
        config["data_info"].pop("eval_pred_path", None)
        config["monitoring_info"] = {
            **reference.get("monitoring_info", {}),
            "timestamp_col": self.timestamp_col,
        }
        return config


def _section(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            f"incremental config: {name}: expected an object, got {type(value).__name__}"
        )
    return value


def _check_keys(section: Mapping[str, Any], name: str) -> None:
    allowed = ALLOWED_KEYS[name]
    for key in section:
        if key not in allowed:
            path = f"{name}.{key}" if name else key
            raise InvalidArgumentError(
                f"incremental config: unknown key {path!r} (expected {', '.join(allowed)}; the "
                "reference data and model come from the firewall's stress test run)"
            )


def _find(key: str, sections: Mapping[str, Mapping[str, Any]]) -> str:
    for name, section in sections.items():
        value = section.get(key)
        if value is None:
            continue
        path = f"{name}.{key}" if name else key
        if not isinstance(value, str) or not value:
            raise InvalidArgumentError(
                f"incremental config: {path}: expected a non-empty string, got {value!r}"
            )
        return value
    raise InvalidArgumentError(
        f"incremental config: required key {key!r} is missing (give it at the top level or in "
        f"{' / '.join(name for name in sections if name and key in ALLOWED_KEYS[name])})"
    )


def parse_incremental_config(config_json: str) -> IncrementalConfig:
    """Parse and check the config of ``RunFirewallIncrementalData``.

    Raises:
        InvalidArgumentError: Not a JSON object, an unknown key, a missing or empty
            ``eval_path`` / ``timestamp_col``, or a bad threshold; the message names the key.
    """
    raw = config_from_json(config_json)
    sections = {"": raw, **{name: _section(raw, name) for name in ("data_info", "monitoring_info")}}
    for name, section in sections.items():
        _check_keys(section, name)
    thresholds = sections["monitoring_info"].get("thresholds")
    if thresholds is not None:
        if not isinstance(thresholds, Mapping):
            raise InvalidArgumentError(
                "incremental config: monitoring_info.thresholds: expected an object of "
                "[low, medium, high] lists"
            )
        try:
            resolve_thresholds(thresholds, key="monitoring_info.thresholds")
        except ConfigError as exc:
            raise InvalidArgumentError(f"incremental config: {exc}") from exc
    return IncrementalConfig(
        eval_path=_find("eval_path", sections),
        timestamp_col=_find("timestamp_col", sections),
        thresholds=dict(thresholds) if thresholds is not None else None,
    )
