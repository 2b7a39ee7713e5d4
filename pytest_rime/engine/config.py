"""The test run config (DESIGN.md 3.2) as frozen dataclasses: the schema, nothing more.

The raw config is the RIME 0.x dict given to ``start_stress_test``::

    {
        "run_name": "Titanic",
        "data_info": {"label_col": "Survived", "ref_path": "ref.csv", "eval_path": "eval.csv"},
        "model_info": {"path": "model.py"},
        "model_task": "Binary Classification",  # optional: inferred from the label when absent
        "tests_config": {"drift.feature_drift": {"thresholds": [0.1, 0.2, 0.3]}},
        "random_seed": 0,
    }

Build a :class:`TestRunConfig` with :func:`pytest_rime.engine.validation.validate_config`,
which checks the raw dict against this schema, the test catalog and the monitored metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pytest_rime.vocabulary import TABULAR

SIGNIFICANCE_KEY = "significance_level"
"""The run-wide key of ``tests_config`` (beside the test ids) setting the significance level."""

DEFAULT_SIGNIFICANCE_LEVEL = 0.01
"""False discovery rate under which MEDIUM and HIGH findings must fall (README, "What a HIGH
means"): a gate runs on every commit, so at most 1 run in 100 with nothing changed may show a
significant case, while a material fault at a few hundred rows gives p-values far below it."""


@dataclass(frozen=True)
class DataInfo:
    """Where the data is and what its special columns are."""

    ref_path: str
    eval_path: str
    text_col: str | None = None
    image_col: str | None = None
    label_col: str | None = None
    pred_col: str | None = None
    timestamp_col: str | None = None
    ref_pred_path: str | None = None
    eval_pred_path: str | None = None
    categorical_features: tuple[str, ...] = ()
    protected_features: tuple[str, ...] = ()
    features_not_in_model: tuple[str, ...] = ()
    nrows: int | None = None


@dataclass(frozen=True)
class ModelInfo:
    """Where the model is: a ``.py`` file, a directory with ``model.py``, or a pickled model."""

    path: str


@dataclass(frozen=True)
class MonitoringInfo:
    """Time binning and monitored metric thresholds for firewall runs.

    Attributes:
        timestamp_col: The column holding each evaluation row's timestamp.
        bin_size: ``"hour"``, ``"day"``, 3600 or 86400 (``None``: the firewall default).
        thresholds: Monitored metric -> ``(low, medium, high)`` overrides of the defaults of
            :mod:`pytest_rime.engine.monitoring` (``None``: the defaults).
    """

    timestamp_col: str | None = None
    bin_size: str | int | None = None
    thresholds: Mapping[str, tuple[float, float, float]] | None = None


@dataclass(frozen=True)
class TestOverride:
    """Per-test overrides from ``tests_config``: thresholds, enabled flag, parameters."""

    __test__ = False  # not a pytest test class

    thresholds: tuple[float, float, float] | None = None
    enabled: bool = True
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class TestRunConfig:
    """A validated test run config. Build it with :func:`validate_config`."""

    __test__ = False  # not a pytest test class

    run_name: str
    data_info: DataInfo
    model_info: ModelInfo | None = None
    model_task: str | None = None
    monitoring_info: MonitoringInfo | None = None
    tests_config: Mapping[str, TestOverride] = field(default_factory=lambda: MappingProxyType({}))
    random_seed: int = 0
    data_type: str = TABULAR
    significance_level: float = DEFAULT_SIGNIFICANCE_LEVEL

    def override(self, test_id: str) -> TestOverride:
        """The overrides of ``test_id`` (defaults when the config has none)."""
        return self.tests_config.get(test_id, TestOverride())

    def to_dict(self) -> dict[str, Any]:
        """The canonical raw form: ``validate_config(c.to_dict()) == c``."""
        data_info = {k: v for k, v in _fields(self.data_info).items() if v not in (None, ())}
        raw: dict[str, Any] = {
            "run_name": self.run_name,
            "data_info": {k: list(v) if isinstance(v, tuple) else v for k, v in data_info.items()},
            "random_seed": self.random_seed,
            "data_type": self.data_type,
        }
        if self.model_info is not None:
            raw["model_info"] = {"path": self.model_info.path}
        if self.model_task is not None:
            raw["model_task"] = self.model_task
        if self.monitoring_info is not None:
            monitoring = {k: v for k, v in _fields(self.monitoring_info).items() if v is not None}
            if "thresholds" in monitoring:
                monitoring["thresholds"] = {
                    name: list(levels) for name, levels in monitoring["thresholds"].items()
                }
            raw["monitoring_info"] = monitoring
        tests: dict[str, Any] = {
            test_id: _override_to_dict(o) for test_id, o in self.tests_config.items()
        }
        if self.significance_level != DEFAULT_SIGNIFICANCE_LEVEL:
            tests[SIGNIFICANCE_KEY] = self.significance_level
        if tests:
            raw["tests_config"] = tests
        return raw


def _fields(obj: object) -> dict[str, Any]:
    return dict(vars(obj))


def _override_to_dict(override: TestOverride) -> dict[str, Any]:
    out: dict[str, Any] = dict(override.params)
    out["enabled"] = override.enabled
    if override.thresholds is not None:
        out["thresholds"] = list(override.thresholds)
    return out
