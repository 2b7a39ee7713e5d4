"""Managed images through the SDK, built offline from hand-made wheels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sdk_helpers import POLL_SECS, ClientFactory, build_wheel

from pytest_rime.proto.v1 import image_registry_pb2
from pytest_rime.sdk import RIMEAlreadyExistsError, RIMEClient, RIMEImageBuilder


def test_pip_requirement_and_filter_are_proto_messages() -> None:
    requirement = RIMEClient.pip_requirement("xgboost", "==1.0.2")
    assert isinstance(requirement, image_registry_pb2.ManagedImage.PipRequirement)
    assert (requirement.name, requirement.version_specifier) == ("xgboost", "==1.0.2")
    assert RIMEClient.pip_requirement("tensorflow").version_specifier == ""
    library_filter = RIMEClient.pip_library_filter("catboost", "1.0.3")
    assert isinstance(library_filter, image_registry_pb2.ListImagesRequest.PipLibraryFilter)
    assert (library_filter.name, library_filter.fixed_version) == ("catboost", "1.0.3")
    assert RIMEClient.pip_library_filter("tensorflow").fixed_version == ""


def test_list_managed_images_on_a_new_server(client: RIMEClient) -> None:
    assert client.list_managed_images() == ([], "")


def test_bad_library_filters_rejected_before_sending(client: RIMEClient) -> None:
    good = client.pip_library_filter("tensorflow")
    for bad in (
        "catboost",
        RIMEClient.pip_requirement("catboost"),
        None,
        RIMEClient.pip_library_filter(""),
    ):
        with pytest.raises(ValueError, match=r"pip_library_filters\[1\]"):
            client.list_managed_images(pip_library_filters=[good, bad])  # type: ignore[list-item]


def test_duplicate_image_name(client: RIMEClient) -> None:
    builder = client.create_managed_image("dup", [])
    assert isinstance(builder, RIMEImageBuilder)
    assert builder.name == "dup"
    with pytest.raises(ValueError, match="CreateImage") as info:
        client.create_managed_image("dup", [])
    assert isinstance(info.value, RIMEAlreadyExistsError)


@pytest.mark.slow
def test_build_list_and_use_managed_images(
    rime_server_factory: Any,
    connect: ClientFactory,
    write_tabular_dataset: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "rimedemo", "1.0.2", "def double(x):\n    return 2 * x\n")
    build_wheel(wheels, "rimedemo", "2.0.0")
    server = rime_server_factory(no_pip_index=True, pip_find_links=(str(wheels),))
    client = connect(server)

    requirements = [client.pip_requirement("rimedemo", "==1.0.2")]
    builder = client.create_managed_image("rimedemo102", requirements)
    assert builder.requirements == requirements
    status = builder.get_status(verbose=True, wait_until_finish=True, poll_rate_sec=POLL_SECS)
    assert status["status"] == "READY", status
    assert status["name"] == "rimedemo102"
    assert status["requirements"] == [{"name": "rimedemo", "version_specifier": "==1.0.2"}]
    assert status["pip_libraries"] == [{"name": "rimedemo", "version": "1.0.2"}]
    assert status["job_id"]
    assert "Image rimedemo102: READY" in capsys.readouterr().out

    broken = client.create_managed_image("broken", [client.pip_requirement("not-on-the-index")])
    status = broken.get_status(verbose=True, wait_until_finish=True, poll_rate_sec=POLL_SECS)
    assert status["status"] == "FAILED"
    printed = capsys.readouterr().out
    assert f"Job {status['job_id']} failed. Logs of the job:" in printed
    assert "not-on-the-index" in printed

    def names(filters: list[Any] | None = None) -> set[str]:
        images, token = client.list_managed_images(pip_library_filters=filters)
        assert token == ""
        return {image["name"] for image in images}

    assert names() == {"rimedemo102", "broken"}
    assert names([client.pip_library_filter("rimedemo")]) == {"rimedemo102"}
    assert names([client.pip_library_filter("rimedemo", "1.0.2")]) == {"rimedemo102"}
    assert names([client.pip_library_filter("rimedemo", "2.0.0")]) == set()
    assert names([client.pip_library_filter("rimedemo"), client.pip_library_filter("x")]) == set()
    first, token = client.list_managed_images(page_size=1)
    second, last = client.list_managed_images(page_token=token, page_size=1)
    assert token and last == ""
    assert {first[0]["name"], second[0]["name"]} == {"rimedemo102", "broken"}

    # A stress test in the image: the model imports the library only the image has.
    dataset = write_tabular_dataset(
        tmp_path / "data", model_prelude="import rimedemo\nassert rimedemo.double(2) == 4\n"
    )
    job = client.start_stress_test(dataset.config(), rime_managed_image="rimedemo102")
    status = job.get_status(wait_until_finish=True, poll_rate_sec=POLL_SECS)
    assert status["status"] == "JOB_STATUS_SUCCEEDED", job.get_logs()
    without_image = client.start_stress_test(dataset.config())
    status = without_image.get_status(wait_until_finish=True, poll_rate_sec=POLL_SECS)
    assert status["status"] == "JOB_STATUS_FAILED"
    assert "rimedemo" in without_image.get_logs()
