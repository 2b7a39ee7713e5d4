"""Validation of a raw test run config (DESIGN.md 3.2) into a frozen :class:`TestRunConfig`.

Every unknown key and every wrong type raises :class:`ConfigError` whose ``.key`` is the dotted
path of the offending key (``data_info.lable_col``,
``tests_config.drift.feature_drift.thresholds``). ``tests_config`` is checked against the test
catalog: unknown test ids, unknown parameters, parameter values of the wrong type and numbers
outside their range (:data:`pytest_rime.engine.registry.PARAM_RANGES`) are rejected before a
job starts; ``data_type`` against the registered data types.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, get_type_hints

from pytest_rime.engine.catalog import all_tests, get_test, supported_data_types
from pytest_rime.engine.catalog import data_type as get_data_type
from pytest_rime.engine.config import (
    DEFAULT_SIGNIFICANCE_LEVEL,
    SIGNIFICANCE_KEY,
    DataInfo,
    ModelInfo,
    MonitoringInfo,
    TestOverride,
    TestRunConfig,
)
from pytest_rime.engine.errors import ConfigError
from pytest_rime.engine.monitoring import resolve_thresholds
from pytest_rime.engine.registry import PARAM_RANGES
from pytest_rime.vocabulary import (
    BIN_SIZES,
    TABULAR,
    VocabularyError,
    join_key,
    parse_thresholds,
)

MONITORING_KEYS = ("timestamp_col", "bin_size", "thresholds")
"""Keys of ``monitoring_info``."""

MAX_RANDOM_SEED = 2**32 - 2
"""Largest ``random_seed``: numpy and pandas seeds are 32-bit, and the run derives ``seed + 1``."""

MAX_JOB_TIMEOUT_SECS = 30 * 24 * 3600
"""Largest ``job_timeout_secs`` (a server job's wall-clock limit; the engine ignores it)."""

_TOP_KEYS = (
    "run_name",
    "data_info",
    "model_info",
    "model_task",
    "monitoring_info",
    "tests_config",
    "random_seed",
    "data_type",
    "job_timeout_secs",
)
_DATA_HINTS = get_type_hints(DataInfo)
_DATA_STR_KEYS = tuple(key for key, hint in _DATA_HINTS.items() if hint in (str, str | None))
_DATA_LIST_KEYS = tuple(key for key, hint in _DATA_HINTS.items() if hint == tuple[str, ...])
_DATA_REQUIRED_KEYS = tuple(
    f.name for f in dataclasses.fields(DataInfo) if f.default is dataclasses.MISSING
)
"""The ``data_info`` keys by their type in :class:`DataInfo` (their one declaration): strings,
lists of strings, and the required ones among the strings; ``nrows`` is checked on its own."""


def _check_mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"expected a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(path, f"keys must be strings, got {key!r}")
    return value


def _check_keys(section: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
    for key in section:
        if key not in allowed:
            raise ConfigError(
                join_key(path, key), f"unknown key (expected one of {', '.join(allowed)})"
            )


def _type_name(value: Any) -> str:
    return type(value).__name__


def _opt_str(section: Mapping[str, Any], key: str, path: str) -> str | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(join_key(path, key), f"expected a non-empty string, got {value!r}")
    return value


def _req_str(section: Mapping[str, Any], key: str, path: str) -> str:
    value = _opt_str(section, key, path)
    if value is None:
        raise ConfigError(join_key(path, key), "required key is missing")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str_list(section: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = section.get(key)
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(
            join_key(path, key), f"expected a list of strings, got {_type_name(value)}"
        )
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(join_key(path, key), f"expected a list of strings, got item {item!r}")
    return tuple(value)


def _data_info(raw: Any, allowed: tuple[str, ...]) -> DataInfo:
    path = "data_info"
    if raw is None:
        raise ConfigError(path, "required key is missing")
    section = _check_mapping(raw, path)
    _check_keys(section, allowed, path)
    nrows = section.get("nrows")
    if nrows is not None and (not _is_int(nrows) or nrows <= 0):
        raise ConfigError(join_key(path, "nrows"), f"expected a positive integer, got {nrows!r}")
    values: dict[str, Any] = {key: _opt_str(section, key, path) for key in _DATA_STR_KEYS}
    values.update({key: _str_list(section, key, path) for key in _DATA_LIST_KEYS})
    values.update({key: _req_str(section, key, path) for key in _DATA_REQUIRED_KEYS})
    return DataInfo(**values, nrows=nrows)


def _model_info(raw: Any) -> ModelInfo | None:
    if raw is None:
        return None
    section = _check_mapping(raw, "model_info")
    _check_keys(section, ("path",), "model_info")
    return ModelInfo(path=_req_str(section, "path", "model_info"))


def _bin_size(value: Any, path: str) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in BIN_SIZES:
        return value.lower()
    if _is_int(value) and value in BIN_SIZES.values():
        return int(value)
    names = ", ".join(f"{name!r} ({secs})" for name, secs in BIN_SIZES.items())
    raise ConfigError(path, f"expected one of {names}, got {value!r}")


def _metric_thresholds(value: Any, path: str) -> Mapping[str, tuple[float, float, float]] | None:
    if value is None:
        return None
    section = _check_mapping(value, path)
    resolved = resolve_thresholds(section, key=path)
    return MappingProxyType(
        {name: (resolved[name].low, resolved[name].medium, resolved[name].high) for name in section}
    )


def _monitoring_info(raw: Any) -> MonitoringInfo | None:
    path = "monitoring_info"
    if raw is None:
        return None
    section = _check_mapping(raw, path)
    _check_keys(section, MONITORING_KEYS, path)
    return MonitoringInfo(
        timestamp_col=_opt_str(section, "timestamp_col", path),
        bin_size=_bin_size(section.get("bin_size"), join_key(path, "bin_size")),
        thresholds=_metric_thresholds(section.get("thresholds"), join_key(path, "thresholds")),
    )


def _thresholds(value: Any, path: str) -> tuple[float, float, float]:
    try:
        return parse_thresholds(value, path)
    except VocabularyError as exc:
        raise ConfigError.from_vocabulary(exc) from None


def _param_matches(value: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return _is_int(value)
    if isinstance(default, float):
        return _is_int(value) or isinstance(value, float)
    if default is None:
        return True
    return isinstance(value, type(default))


def _test_override(test_id: str, raw: Any) -> TestOverride:
    path = f"tests_config.{test_id}"
    spec = get_test(test_id)
    section = _check_mapping(raw, path)
    allowed = ("thresholds", "enabled", *spec.params)
    _check_keys(section, allowed, path)
    enabled = section.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(join_key(path, "enabled"), f"expected true or false, got {enabled!r}")
    thresholds = None
    if section.get("thresholds") is not None:
        thresholds = _thresholds(section["thresholds"], join_key(path, "thresholds"))
    params: dict[str, Any] = {}
    for name, default in spec.params.items():
        if name not in section:
            continue
        value = section[name]
        key = join_key(path, name)
        if not _param_matches(value, default):
            raise ConfigError(key, f"expected {_type_name(default)}, got {value!r}")
        choices = spec.param_choices.get(name)
        if choices is not None and value not in choices:
            raise ConfigError(key, f"expected one of {', '.join(map(str, choices))}, got {value!r}")
        bounds = PARAM_RANGES.get(name)
        if bounds is not None and value not in bounds:
            raise ConfigError(key, f"expected a number in {bounds}, got {value!r}")
        params[name] = float(value) if isinstance(default, float) else value
    return TestOverride(thresholds=thresholds, enabled=enabled, params=MappingProxyType(params))


def _significance_level(raw: Any) -> float:
    if not isinstance(raw, Mapping) or SIGNIFICANCE_KEY not in raw:
        return DEFAULT_SIGNIFICANCE_LEVEL
    value = raw[SIGNIFICANCE_KEY]
    key = f"tests_config.{SIGNIFICANCE_KEY}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, f"expected a number in (0, 1), got {_type_name(value)}")
    if not 0.0 < float(value) < 1.0:
        raise ConfigError(key, f"expected a number in (0, 1), got {value!r}")
    return float(value)


def _tests_config(raw: Any, data_type: str) -> Mapping[str, TestOverride]:
    if raw is None:
        return MappingProxyType({})
    section = _check_mapping(raw, "tests_config")
    known = {spec.test_id for spec in all_tests(data_type)}
    overrides: dict[str, TestOverride] = {}
    for test_id, value in section.items():
        if test_id == SIGNIFICANCE_KEY:
            continue
        if test_id not in known:
            raise ConfigError(
                f"tests_config.{test_id}",
                f"unknown test id {test_id!r} for data_type {data_type!r} "
                f"(known ids: {', '.join(sorted(known))})",
            )
        overrides[test_id] = _test_override(test_id, value)
    return MappingProxyType(overrides)


def validate_config(raw: Mapping[str, Any] | TestRunConfig) -> TestRunConfig:
    """Check a raw test run config and return it as a frozen :class:`TestRunConfig`.

    Args:
        raw: The config dict (DESIGN.md 3.2); a :class:`TestRunConfig` is returned as is.

    Returns:
        The validated config. ``model_task`` is ``None`` when absent: the engine infers it
        from the label (or the predictions) and records that in the results.

    Raises:
        ConfigError: A key is unknown, missing or of the wrong type; ``.key`` names it.
    """
    if isinstance(raw, TestRunConfig):
        return raw
    top = _check_mapping(raw, "")
    _check_keys(top, _TOP_KEYS, "")
    run_name = top.get("run_name", "Stress Test")
    if not isinstance(run_name, str) or not run_name:
        raise ConfigError("run_name", f"expected a non-empty string, got {run_name!r}")
    data_type = top.get("data_type", TABULAR)
    supported = supported_data_types()
    if data_type not in supported:
        raise ConfigError("data_type", f"expected one of {', '.join(supported)}, got {data_type!r}")
    kind = get_data_type(data_type)
    model_task = top.get("model_task")
    if model_task is not None and model_task not in kind.model_tasks:
        raise ConfigError(
            "model_task",
            f"expected one of {', '.join(kind.model_tasks)} for data_type {data_type!r}, "
            f"got {model_task!r}",
        )
    seed = top.get("random_seed", 0)
    if not _is_int(seed) or not 0 <= seed <= MAX_RANDOM_SEED:
        raise ConfigError(
            "random_seed",
            f"expected a non-negative integer of at most {MAX_RANDOM_SEED}, got {seed!r}",
        )
    timeout = top.get("job_timeout_secs", MAX_JOB_TIMEOUT_SECS)
    if not (_is_int(timeout) or isinstance(timeout, float)) or not 0 < timeout <= (
        MAX_JOB_TIMEOUT_SECS
    ):
        raise ConfigError(
            "job_timeout_secs",
            f"expected seconds in (0, {MAX_JOB_TIMEOUT_SECS}], got {timeout!r}",
        )
    return TestRunConfig(
        run_name=run_name,
        data_info=_data_info(top.get("data_info"), kind.data_info_keys),
        model_info=_model_info(top.get("model_info")),
        model_task=model_task,
        monitoring_info=_monitoring_info(top.get("monitoring_info")),
        tests_config=_tests_config(top.get("tests_config"), data_type),
        random_seed=seed,
        data_type=data_type,
        significance_level=_significance_level(top.get("tests_config")),
    )
