"""Config validation: dotted keys in errors, types, tests_config against the registry."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pytest_rime.engine.config import TestRunConfig
from pytest_rime.engine.errors import ConfigError
from pytest_rime.engine.validation import validate_config


def raw_config(**top: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "run_name": "Titanic",
        "data_info": {"label_col": "Survived", "ref_path": "ref.csv", "eval_path": "eval.csv"},
    }
    config.update(top)
    return config


def test_valid_config_is_frozen_and_round_trips() -> None:
    raw = raw_config(
        model_info={"path": "model.py"},
        model_task="Regression",
        monitoring_info={"timestamp_col": "ts", "bin_size": "Day"},
        tests_config={"drift.feature_drift": {"thresholds": [0.1, 0.2, 0.4], "enabled": True}},
        random_seed=7,
    )
    raw["data_info"].update(categorical_features=["a"], nrows=100, pred_col="p")
    config = validate_config(raw)
    assert isinstance(config, TestRunConfig)
    assert config.data_info.categorical_features == ("a",)
    assert config.monitoring_info is not None and config.monitoring_info.bin_size == "day"
    assert config.override("drift.feature_drift").thresholds == (0.1, 0.2, 0.4)
    assert config.override("drift.label_drift").enabled
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.run_name = "x"  # type: ignore[misc]
    assert validate_config(config.to_dict()) == config
    assert validate_config(config) is config


@pytest.mark.parametrize(("bin_size", "stored"), [("Hour", "hour"), ("day", "day"), (3600, 3600)])
def test_supported_bin_sizes(bin_size: Any, stored: Any) -> None:
    config = validate_config(raw_config(monitoring_info={"bin_size": bin_size}))
    assert config.monitoring_info is not None
    assert config.monitoring_info.bin_size == stored


def test_monitoring_thresholds_are_validated_and_round_trip() -> None:
    thresholds = {"abnormality_rate": [0.1, 0.2, 0.3], "model_perf.AUC": [0.01, 0.02, 0.05]}
    config = validate_config(raw_config(monitoring_info={"thresholds": thresholds}))
    assert config.monitoring_info is not None and config.monitoring_info.thresholds == {
        "abnormality_rate": (0.1, 0.2, 0.3),
        "model_perf.AUC": (0.01, 0.02, 0.05),
    }
    assert config.to_dict()["monitoring_info"] == {"thresholds": thresholds}
    assert validate_config(config.to_dict()) == config


def test_model_task_is_optional() -> None:
    assert validate_config(raw_config()).model_task is None


@pytest.mark.parametrize(
    ("mutate", "key", "text"),
    [
        (lambda c: c["data_info"].update(lable_col="x"), "data_info.lable_col", "unknown key"),
        (lambda c: c.update(colour="red"), "colour", "unknown key"),
        (lambda c: c["data_info"].update(label_col=3), "data_info.label_col", "string"),
        (lambda c: c["data_info"].pop("ref_path"), "data_info.ref_path", "missing"),
        (lambda c: c.pop("data_info"), "data_info", "missing"),
        (lambda c: c.update(data_info=[1]), "data_info", "mapping"),
        (lambda c: c["data_info"].update(nrows=0), "data_info.nrows", "positive"),
        (lambda c: c["data_info"].update(nrows=True), "data_info.nrows", "positive"),
        (
            lambda c: c["data_info"].update(categorical_features="a"),
            "data_info.categorical_features",
            "list",
        ),
        (
            lambda c: c["data_info"].update(protected_features=[1]),
            "data_info.protected_features",
            "list",
        ),
        (lambda c: c.update(model_task="Ranking"), "model_task", "Binary Classification"),
        (lambda c: c.update(model_info={"path": "m.py", "x": 1}), "model_info.x", "unknown key"),
        (lambda c: c.update(model_info={}), "model_info.path", "missing"),
        (lambda c: c.update(random_seed="1"), "random_seed", "integer"),
        (lambda c: c.update(random_seed=-1), "random_seed", "non-negative"),
        (lambda c: c.update(run_name=""), "run_name", "non-empty"),
        (
            lambda c: c.update(monitoring_info={"bin_size": "fortnight"}),
            "monitoring_info.bin_size",
            "day",
        ),
        (
            lambda c: c.update(monitoring_info={"bin_size": "week"}),
            "monitoring_info.bin_size",
            "3600",
        ),
        (
            lambda c: c.update(monitoring_info={"bin_size": 7200}),
            "monitoring_info.bin_size",
            "86400",
        ),
        (
            lambda c: c.update(monitoring_info={"bin_size": True}),
            "monitoring_info.bin_size",
            "hour",
        ),
        (
            lambda c: c.update(monitoring_info={"thresholds": [0.1, 0.2, 0.3]}),
            "monitoring_info.thresholds",
            "mapping",
        ),
        (
            lambda c: c.update(monitoring_info={"thresholds": {"nope": [1, 2, 3]}}),
            "monitoring_info.thresholds.nope",
            "unknown monitored metric",
        ),
        (
            lambda c: c.update(monitoring_info={"thresholds": {"test_pass_rate": [0.5, 0.6, 0.7]}}),
            "monitoring_info.thresholds.test_pass_rate",
            "descending",
        ),
        (lambda c: c.update(data_type="audio"), "data_type", "tabular, nlp, images"),
    ],
)
def test_bad_keys_name_their_dotted_path(mutate: Any, key: str, text: str) -> None:
    config = raw_config()
    mutate(config)
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")
    assert text in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_key_lists_the_expected_ones() -> None:
    config = raw_config()
    config["data_info"]["lable_col"] = "y"
    with pytest.raises(ConfigError, match=r"expected one of .*label_col"):
        validate_config(config)


@pytest.mark.parametrize(
    ("tests_config", "key", "text"),
    [
        ({"drift.no_such_test": {}}, "tests_config.drift.no_such_test", "unknown test id"),
        (
            {"drift.feature_drift": {"thresholds": [0.3, 0.2, 0.1]}},
            "tests_config.drift.feature_drift.thresholds",
            "ascending",
        ),
        (
            {"drift.feature_drift": {"thresholds": [0.1, 0.2]}},
            "tests_config.drift.feature_drift.thresholds",
            "3 numbers",
        ),
        (
            {"drift.feature_drift": {"thresholds": [0.1, "a", 0.3]}},
            "tests_config.drift.feature_drift.thresholds",
            "finite",
        ),
        (
            {"drift.feature_drift": {"enabled": "no"}},
            "tests_config.drift.feature_drift.enabled",
            "true or false",
        ),
        (
            {"drift.feature_drift": {"bins": 3}},
            "tests_config.drift.feature_drift.bins",
            "unknown key",
        ),
        (
            {"drift.feature_drift": {"numeric_statistic": "wasserstein"}},
            "tests_config.drift.feature_drift.numeric_statistic",
            "psi",
        ),
        (
            {"drift.feature_drift": {"numeric_statistic": 3}},
            "tests_config.drift.feature_drift.numeric_statistic",
            "str",
        ),
        (
            {"abnormal_inputs.rare_categories": {"min_frequency": "0.1"}},
            "tests_config.abnormal_inputs.rare_categories.min_frequency",
            "float",
        ),
        ({"drift.feature_drift": 5}, "tests_config.drift.feature_drift", "mapping"),
    ],
)
def test_tests_config_is_checked_against_the_registry(
    tests_config: dict[str, Any], key: str, text: str
) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(raw_config(tests_config=tests_config))
    assert info.value.key == key
    assert text in str(info.value)


def test_params_are_typed_and_merged() -> None:
    config = validate_config(
        raw_config(
            tests_config={
                "abnormal_inputs.rare_categories": {"min_frequency": 1, "enabled": False},
                "drift.feature_drift": {"categorical_statistic": "js"},
            }
        )
    )
    rare = config.override("abnormal_inputs.rare_categories")
    assert rare.params == {"min_frequency": 1.0} and not rare.enabled
    assert isinstance(rare.params["min_frequency"], float)
    assert config.override("drift.feature_drift").params == {"categorical_statistic": "js"}
