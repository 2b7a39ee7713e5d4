"""rime ImageRegistry on a real server that builds managed images offline."""

from __future__ import annotations

import ensurepip
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from rime_wire_helpers import RimeStubs, code_of

from pytest_rime.proto.rime import image_registry_pb2, jobs_pb2
from pytest_rime.server.app import RunningServer

Image = image_registry_pb2.ManagedImage
Filter = image_registry_pb2.ListImagesRequest.PipLibraryFilter


@pytest.fixture
def offline_stubs(
    rime_server_factory: Callable[..., RunningServer],
) -> Iterator[RimeStubs]:
    """Stubs of a server whose image builds use only the wheels bundled with ``ensurepip``."""
    bundled = Path(ensurepip.__file__).parent / "_bundled"
    server = rime_server_factory(no_pip_index=True, pip_find_links=(str(bundled),))
    with grpc.insecure_channel(server.address) as channel:
        yield RimeStubs.on(channel)


def _names(stubs: RimeStubs, *filters: Filter) -> list[str]:
    listed = stubs.images.ListImages(image_registry_pb2.ListImagesRequest(pip_libraries=filters))
    return [image.name for image in listed.images]


def test_create_get_and_list_managed_images(offline_stubs: RimeStubs) -> None:
    stubs = offline_stubs
    setuptools = Image.PipRequirement(name="setuptools")
    created = stubs.images.CreateImage(
        image_registry_pb2.CreateImageRequest(name="plain", pip_requirements=[setuptools])
    )
    assert created.image.name == "plain"
    assert created.image.status == Image.STATUS_BUILDING_FIRST_TIME
    assert created.job.type == jobs_pb2.JOB_TYPE_IMAGE_BUILDER
    assert stubs.wait(created.job.id).status == jobs_pb2.JOB_STATUS_SUCCEEDED
    image = stubs.images.GetImage(image_registry_pb2.GetImageRequest(name="plain")).image
    assert image.status == Image.STATUS_READY
    installed = {library.name: library.version for library in image.pip_libraries}
    assert list(installed) == ["setuptools"]

    wanted = Image.PipRequirement(name="not-installable", version_specifier="==1.0")
    broken = stubs.images.CreateImage(
        image_registry_pb2.CreateImageRequest(name="broken", pip_requirements=[wanted])
    )
    assert list(broken.image.pip_requirements) == [wanted]
    assert stubs.wait(broken.job.id).status == jobs_pb2.JOB_STATUS_FAILED
    failed = stubs.images.GetImage(image_registry_pb2.GetImageRequest(name="broken")).image
    assert failed.status == Image.STATUS_FAILED

    assert _names(stubs) == ["plain", "broken"]
    assert _names(stubs, Filter(name="setuptools")) == ["plain"]
    version = installed["setuptools"]
    assert _names(stubs, Filter(name="setuptools", version=version)) == ["plain"]
    assert _names(stubs, Filter(name="setuptools", version="0.0.1")) == []
    assert _names(stubs, Filter(name="setuptools"), Filter(name="absent")) == []
    page = stubs.images.ListImages(image_registry_pb2.ListImagesRequest(page_size=1))
    assert [i.name for i in page.images] == ["plain"] and page.next_page_token


def test_image_errors(stubs: RimeStubs) -> None:
    def create(name: str) -> object:
        return stubs.images.CreateImage(image_registry_pb2.CreateImageRequest(name=name))

    assert code_of(lambda: create("no/slashes")) == grpc.StatusCode.INVALID_ARGUMENT
    bad_requirement = image_registry_pb2.CreateImageRequest(
        name="ok", pip_requirements=[Image.PipRequirement(name="x", version_specifier="~~1")]
    )
    assert code_of(lambda: stubs.images.CreateImage(bad_requirement)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert code_of(
        lambda: stubs.images.GetImage(image_registry_pb2.GetImageRequest(name="missing"))
    ) == (grpc.StatusCode.NOT_FOUND)
    assert code_of(
        lambda: stubs.images.ListImages(image_registry_pb2.ListImagesRequest(page_size=-1))
    ) == (grpc.StatusCode.INVALID_ARGUMENT)
