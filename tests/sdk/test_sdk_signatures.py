"""The public API keeps the seed SDK's parameter names, order and defaults (rime_sdk_api)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import pytest_rime
from pytest_rime import sdk
from pytest_rime.sdk import (
    RIMEClient,
    RIMEFirewall,
    RIMEImageBuilder,
    RIMEProject,
    RIMEStressTestJob,
)

_NO_DEFAULT = inspect.Parameter.empty

SEED_SIGNATURES: list[tuple[Any, list[tuple[str, Any]]]] = [
    (
        RIMEClient.__init__,
        [
            ("domain", _NO_DEFAULT),
            ("api_key", ""),
            ("channel_timeout", 5.0),
            ("disable_tls", False),
        ],
    ),
    (RIMEClient.create_project, [("name", _NO_DEFAULT), ("description", _NO_DEFAULT)]),
    (RIMEClient.create_managed_image, [("name", _NO_DEFAULT), ("requirements", _NO_DEFAULT)]),
    (RIMEClient.pip_requirement, [("name", _NO_DEFAULT), ("version_specifier", None)]),
    (RIMEClient.pip_library_filter, [("name", _NO_DEFAULT), ("fixed_version", None)]),
    (
        RIMEClient.list_managed_images,
        [("pip_library_filters", None), ("page_token", ""), ("page_size", 100)],
    ),
    (RIMEClient.list_projects, [("page_token", ""), ("page_size", 100)]),
    (
        RIMEClient.start_stress_test,
        [
            ("test_run_config", _NO_DEFAULT),
            ("project_id", None),
            ("custom_image", None),
            ("rime_managed_image", None),
            ("ram_request_megabytes", None),
            ("cpu_request_millicores", None),
            ("data_type", "tabular"),
        ],
    ),
    (RIMEClient.list_stress_test_jobs, [("status_filters", None), ("project_id", None)]),
    (
        RIMEClient.create_firewall,
        [
            ("name", _NO_DEFAULT),
            ("bin_size_seconds", _NO_DEFAULT),
            ("test_run_id", _NO_DEFAULT),
            ("project_id", _NO_DEFAULT),
        ],
    ),
    (RIMEClient.get_firewall, [("firewall_id", _NO_DEFAULT)]),
    (RIMEClient.get_firewall_for_project, [("project_id", _NO_DEFAULT)]),
    (
        RIMEClient.start_firewall_from_reference,
        [
            ("test_run_config", _NO_DEFAULT),
            ("disable_firewall_events", True),
            ("project_id", None),
            ("custom_image", None),
            ("rime_managed_image", None),
            ("ram_request_megabytes", None),
            ("cpu_request_millicores", None),
            ("data_type", "tabular"),
        ],
    ),
    (RIMEClient.upload_dataset_file, [("file_path", _NO_DEFAULT)]),
    (RIMEClient.upload_model_directory, [("dir_path", _NO_DEFAULT), ("upload_hidden", False)]),
    (RIMEFirewall.__init__, [("backend", _NO_DEFAULT), ("firewall_id", _NO_DEFAULT)]),
    (RIMEFirewall.update_firewall_stress_test_run, [("stress_test_run_id", _NO_DEFAULT)]),
    (RIMEFirewall.get_link, []),
    (
        RIMEFirewall.run_firewall_incremental_data,
        [
            ("test_run_config", _NO_DEFAULT),
            ("disable_firewall_events", True),
            ("custom_image", None),
            ("rime_managed_image", None),
            ("ram_request_megabytes", None),
            ("cpu_request_millicores", None),
        ],
    ),
    (
        RIMEImageBuilder.__init__,
        [("backend", _NO_DEFAULT), ("name", _NO_DEFAULT), ("requirements", None)],
    ),
    (
        RIMEImageBuilder.get_status,
        [("verbose", False), ("wait_until_finish", False), ("poll_rate_sec", 5.0)],
    ),
    (RIMEStressTestJob.__init__, [("backend", _NO_DEFAULT), ("job_id", _NO_DEFAULT)]),
    (RIMEStressTestJob.get_link, []),
    (
        RIMEStressTestJob.get_status,
        [("verbose", False), ("wait_until_finish", False), ("poll_rate_sec", 5.0)],
    ),
    (RIMEStressTestJob.get_test_cases_result, [("version", None)]),
    (RIMEStressTestJob.get_test_run_result, [("version", None)]),
    (
        RIMEProject,
        [("project_id", _NO_DEFAULT), ("name", _NO_DEFAULT), ("description", _NO_DEFAULT)],
    ),
]


@pytest.mark.parametrize(
    ("function", "expected"), SEED_SIGNATURES, ids=lambda v: getattr(v, "__qualname__", "")
)
def test_seed_signature(function: Any, expected: list[tuple[str, Any]]) -> None:
    parameters = [
        (p.name, p.default)
        for p in inspect.signature(function).parameters.values()
        if p.name != "self"
    ]
    assert parameters == expected


def test_every_public_method_documents_raises() -> None:
    undocumented = [
        f"{cls.__name__}.{name}"
        for cls in (RIMEClient, RIMEStressTestJob, RIMEFirewall, RIMEImageBuilder, sdk.RIMETestRun)
        for name, member in vars(cls).items()
        if callable(member)
        and not name.startswith("_")
        and not isinstance(member, staticmethod)
        and "Raises:" not in (member.__doc__ or "")
        and f"{cls.__name__}.{name}" != "RIMEClient.close"  # closing cannot fail
    ]
    assert undocumented == []


def test_package_reexports_the_sdk() -> None:
    for name in pytest_rime._SDK_NAMES:
        assert getattr(pytest_rime, name) is getattr(sdk, name)
    assert issubclass(pytest_rime.RIMEError, ValueError)
