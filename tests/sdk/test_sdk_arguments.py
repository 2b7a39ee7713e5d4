"""Argument checks that run before any request: status filters, data type, bins, images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_rime.proto.v1 import common_pb2
from pytest_rime.sdk.arguments import (
    check_bin_size,
    check_resource_request,
    config_to_json,
    job_environment,
    parse_data_type,
    parse_status_filters,
    require_config_keys,
)


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("pending", common_pb2.JOB_STATUS_PENDING),
        ("RUNNING", common_pb2.JOB_STATUS_RUNNING),
        ("failed", common_pb2.JOB_STATUS_FAILED),
        ("failing", common_pb2.JOB_STATUS_FAILED),
        ("Succeeded", common_pb2.JOB_STATUS_SUCCEEDED),
        ("cancelled", common_pb2.JOB_STATUS_CANCELLED),
        ("JOB_STATUS_PENDING", common_pb2.JOB_STATUS_PENDING),
        ("job_status_succeeded", common_pb2.JOB_STATUS_SUCCEEDED),
        ("JOB_STATUS_FAILED", common_pb2.JOB_STATUS_FAILED),
        (" running ", common_pb2.JOB_STATUS_RUNNING),
    ],
)
def test_status_filter_spellings(spelling: str, expected: int) -> None:
    assert parse_status_filters([spelling]) == [expected]


def test_status_filters_union_without_duplicates() -> None:
    statuses = parse_status_filters(["failing", "JOB_STATUS_FAILED", "pending", "failed"])
    assert statuses == [common_pb2.JOB_STATUS_FAILED, common_pb2.JOB_STATUS_PENDING]


def test_no_status_filter_means_all() -> None:
    assert parse_status_filters(None) == []
    assert parse_status_filters([]) == []


def test_single_string_is_one_filter() -> None:
    assert parse_status_filters("running") == [common_pb2.JOB_STATUS_RUNNING]


@pytest.mark.parametrize("bad", ["done", "JOB_STATUS_UNSPECIFIED", "", "JOB_STATUS_", 3])
def test_invalid_status_filter_names_value_and_choices(bad: object) -> None:
    with pytest.raises(ValueError, match="Invalid status filter") as info:
        parse_status_filters(["pending", bad])  # type: ignore[list-item]
    message = str(info.value)
    assert repr(bad) in message
    for allowed in ("pending", "running", "failed", "succeeded", "cancelled", "JOB_STATUS_"):
        assert allowed in message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tabular", common_pb2.DATA_TYPE_TABULAR),
        ("NLP", common_pb2.DATA_TYPE_NLP),
        ("images", common_pb2.DATA_TYPE_IMAGES),
    ],
)
def test_data_types(name: str, expected: int) -> None:
    assert parse_data_type(name) == expected


@pytest.mark.parametrize("bad", ["text", "image", "", None])
def test_invalid_data_type(bad: object) -> None:
    with pytest.raises(ValueError, match="Invalid data_type") as info:
        parse_data_type(bad)  # type: ignore[arg-type]
    assert "tabular, nlp, images" in str(info.value)


@pytest.mark.parametrize("size", [3600, 86400])
def test_supported_bin_sizes(size: int) -> None:
    assert check_bin_size(size) == size


@pytest.mark.parametrize("bad", [60, 7200, 0, -3600, True, "3600", 3600.5])
def test_unsupported_bin_size_names_allowed_values(bad: object) -> None:
    with pytest.raises(ValueError, match="bin_size_seconds") as info:
        check_bin_size(bad)  # type: ignore[arg-type]
    assert "3600" in str(info.value)
    assert "86400" in str(info.value)


def test_resource_requests() -> None:
    assert check_resource_request("ram_request_megabytes", None) == 0
    assert check_resource_request("ram_request_megabytes", 8000) == 8000
    for bad in (-1, 1.5, True, "8000"):
        with pytest.raises(ValueError, match="cpu_request_millicores"):
            check_resource_request("cpu_request_millicores", bad)  # type: ignore[arg-type]


def test_job_environment_defaults() -> None:
    assert job_environment(None, None, None, None) == {
        "custom_image": None,
        "rime_managed_image": "",
        "ram_request_megabytes": 0,
        "cpu_request_millicores": 0,
    }


def test_job_environment_accepts_custom_image_message_or_name() -> None:
    image = common_pb2.CustomImage(name="/opt/venv")
    assert job_environment(image, None, 4000, 1500)["custom_image"] is image
    by_name = job_environment("/opt/venv", None, None, None)["custom_image"]
    assert by_name == common_pb2.CustomImage(name="/opt/venv")


def test_both_images_rejected() -> None:
    with pytest.raises(ValueError, match="custom_image and rime_managed_image"):
        job_environment(common_pb2.CustomImage(name="x"), "managed", None, None)


def test_config_json_converts_paths_and_numpy(tmp_path: Path) -> None:
    config = {
        "run_name": "r",
        "data_info": {"ref_path": tmp_path / "ref.csv", "nrows": np.int64(10)},
        "tests_config": {"t": {"thresholds": np.array([0.1, 0.2, 0.3])}},
    }
    decoded = json.loads(config_to_json(config))
    assert decoded["data_info"] == {"ref_path": str(tmp_path / "ref.csv"), "nrows": 10}
    assert decoded["tests_config"]["t"]["thresholds"] == [0.1, 0.2, 0.3]


def test_config_json_rejects_unserialisable_values() -> None:
    with pytest.raises(ValueError, match="test_run_config cannot be sent as JSON"):
        config_to_json({"x": object()})
    with pytest.raises(ValueError, match="test_run_config cannot be sent as JSON"):
        config_to_json({"x": float("nan")})
    with pytest.raises(ValueError, match="must be a dict, got list"):
        config_to_json([1, 2])  # type: ignore[arg-type]


def test_required_keys_at_top_level_or_in_a_section() -> None:
    require_config_keys(
        {"eval_path": "e.csv", "timestamp_col": "ts"}, ["eval_path", "timestamp_col"]
    )
    nested = {"data_info": {"eval_path": "e.csv"}, "monitoring_info": {"timestamp_col": "ts"}}
    require_config_keys(nested, ["eval_path", "timestamp_col"])


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({"timestamp_col": "ts"}, "eval_path"),
        ({"eval_path": "e.csv"}, "timestamp_col"),
        ({"eval_path": "", "timestamp_col": "ts"}, "eval_path"),
    ],
)
def test_missing_required_key_is_named(config: dict[str, str], missing: str) -> None:
    with pytest.raises(ValueError, match=f"missing the required key '{missing}'"):
        require_config_keys(config, ["eval_path", "timestamp_col"])
