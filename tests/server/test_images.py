"""Managed images built offline from a hand-made wheel, and stress tests that run in them."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from server_helpers import details, read_logs, start_stress_test, wait_for_status

from pytest_rime.proto.v1 import (
    common_pb2,
    image_registry_pb2,
    image_registry_pb2_grpc,
    model_testing_pb2,
    model_testing_pb2_grpc,
)
from pytest_rime.server.app import RunningServer

Requirement = image_registry_pb2.ManagedImage.PipRequirement
LibraryFilter = image_registry_pb2.ListImagesRequest.PipLibraryFilter
PACKAGE, VERSION = "rimeprobe", "1.2.3"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(directory: Path, name: str, version: str, module_source: str) -> Path:
    """Write a minimal pure-Python wheel by hand (no build tools, no network)."""
    directory.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": module_source.encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [_record_line(path, data) for path, data in files.items()]
    files[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


@pytest.fixture
def offline_server(
    rime_server_factory: Callable[..., RunningServer], tmp_path: Path
) -> RunningServer:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, PACKAGE, VERSION, "def shift(values):\n    return values + 0.0\n")
    return rime_server_factory(no_pip_index=True, pip_find_links=(str(wheels),))


def _registry(channel: grpc.Channel) -> image_registry_pb2_grpc.ImageRegistryStub:
    return image_registry_pb2_grpc.ImageRegistryStub(channel)


def _create(channel: grpc.Channel, name: str, *requirements: Requirement) -> Any:
    return _registry(channel).CreateImage(
        image_registry_pb2.CreateImageRequest(name=name, requirements=requirements)
    )


@pytest.mark.slow
def test_managed_image_builds_offline_and_runs_a_stress_test(
    offline_server: RunningServer, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    with grpc.insecure_channel(offline_server.address) as channel:
        created = _create(
            channel, "probe-env", Requirement(name=PACKAGE, version_specifier="==1.2.3")
        )
        assert created.image.status == image_registry_pb2.ManagedImage.STATUS_BUILDING_FIRST_TIME
        assert created.job.type == common_pb2.JOB_TYPE_IMAGE_BUILDER
        assert created.job.image_name == "probe-env"
        build = wait_for_status(channel, created.job.id)
        assert build.status == common_pb2.JOB_STATUS_SUCCEEDED, read_logs(channel, build.id)
        image = _registry(channel).GetImage(image_registry_pb2.GetImageRequest(name="probe-env"))
        assert image.image.status == image_registry_pb2.ManagedImage.STATUS_READY
        assert [(p.name, p.version) for p in image.image.pip_libraries] == [(PACKAGE, VERSION)]
        assert "--no-index" in read_logs(channel, build.id)

        for filters, expected in [
            ([LibraryFilter(name=PACKAGE)], ["probe-env"]),
            ([LibraryFilter(name=PACKAGE, fixed_version=VERSION)], ["probe-env"]),
            ([LibraryFilter(name=PACKAGE, fixed_version="9.9")], []),
            ([LibraryFilter(name="absent")], []),
        ]:
            listed = _registry(channel).ListImages(
                image_registry_pb2.ListImagesRequest(pip_libraries=filters)
            )
            assert [i.name for i in listed.images] == expected

        # The model imports a module that only the image has.
        prelude = f"import sys\nimport {PACKAGE}\nprint('model python:', sys.executable)\n"
        config = write_tabular_dataset(tmp_path / "data", model_prelude=prelude).config()
        in_image = wait_for_status(
            channel, start_stress_test(channel, config, rime_managed_image="probe-env").id
        )
        log = read_logs(channel, in_image.id)
        assert in_image.status == common_pb2.JOB_STATUS_SUCCEEDED, log
        assert in_image.image_name == "probe-env"
        venv = offline_server.data_dir / "images" / "probe-env"
        model_python = log.split("model python: ", 1)[1].split()[0]
        if offline_server.settings.executor == "local":
            assert model_python == str(venv / "bin" / "python")
        else:  # on Ray the image is the runtime environment Ray built from its requirements
            assert "/runtime_resources/pip/" in model_python, model_python
        outside = wait_for_status(channel, start_stress_test(channel, config).id)
        assert outside.status == common_pb2.JOB_STATUS_FAILED
        assert PACKAGE in outside.error_message

        with pytest.raises(grpc.RpcError) as info:
            _create(channel, "probe-env")
        assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
        _registry(channel).DeleteImage(image_registry_pb2.DeleteImageRequest(name="probe-env"))
        assert not venv.exists()
        with pytest.raises(grpc.RpcError) as info:
            start_stress_test(channel, config, rime_managed_image="probe-env")
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_failed_build_fails_the_image_and_jobs_cannot_use_it(
    offline_server: RunningServer, tmp_path: Path, write_tabular_dataset: Callable[..., Any]
) -> None:
    config = write_tabular_dataset(tmp_path / "data").config()
    with grpc.insecure_channel(offline_server.address) as channel:
        created = _create(channel, "broken", Requirement(name="not-in-find-links"))
        build = wait_for_status(channel, created.job.id)
        assert build.status == common_pb2.JOB_STATUS_FAILED
        assert build.termination_reason == common_pb2.TERMINATION_REASON_GENERIC_ERROR
        assert "not-in-find-links" in read_logs(channel, build.id)
        image = _registry(channel).GetImage(image_registry_pb2.GetImageRequest(name="broken"))
        assert image.image.status == image_registry_pb2.ManagedImage.STATUS_FAILED
        with pytest.raises(grpc.RpcError) as info:
            start_stress_test(channel, config, rime_managed_image="broken")
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "'broken' is FAILED, not READY" in details(info.value)


@pytest.mark.parametrize(
    ("name", "requirements", "words"),
    [
        ("../escape", [], "image name"),
        ("", [], "image name"),
        ("ok", [Requirement(name="--index-url=http://evil")], "not a package name"),
        ("ok", [Requirement(name="numpy", version_specifier="1.0")], "operator"),
    ],
)
def test_bad_image_requests_are_rejected(
    rime_channel: grpc.Channel, name: str, requirements: list[Requirement], words: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _create(rime_channel, name, *requirements)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in details(info.value)
    jobs = model_testing_pb2_grpc.ModelTestingStub(rime_channel).ListTestJobs(
        model_testing_pb2.ListTestJobsRequest()
    )
    assert list(jobs.jobs) == []
