"""ImageRegistry servicer: managed Python environments built by IMAGE_BUILDER jobs."""

from __future__ import annotations

import shutil

import grpc

from pytest_rime.proto.v1 import image_registry_pb2, image_registry_pb2_grpc
from pytest_rime.server.convert import image_to_proto, job_to_proto, requirement_from_proto
from pytest_rime.server.errors import FailedPreconditionError
from pytest_rime.server.images import (
    check_image_name,
    check_requirement,
    image_dir,
    inherited_paths,
)
from pytest_rime.server.pagination import decode_token, encode_token, page_size
from pytest_rime.server.records import Image, JobType
from pytest_rime.server.servicers.context import BackendServicer


def _matches(
    image: Image, filters: list[image_registry_pb2.ListImagesRequest.PipLibraryFilter]
) -> bool:
    installed = {library.name.lower(): library.version for library in image.pip_libraries}
    return all(
        f.name.lower() in installed
        and (not f.fixed_version or installed[f.name.lower()] == f.fixed_version)
        for f in filters
    )


class ImageRegistry(BackendServicer, image_registry_pb2_grpc.ImageRegistryServicer):
    """Create, get, list and delete managed images."""

    def CreateImage(
        self, request: image_registry_pb2.CreateImageRequest, context: grpc.ServicerContext
    ) -> image_registry_pb2.CreateImageResponse:
        """Record the image and queue the job that builds it."""
        check_image_name(request.name)
        requirements = [requirement_from_proto(r) for r in request.requirements]
        for requirement in requirements:
            check_requirement(requirement.name, requirement.version_specifier)
        settings = self._backend.settings
        spec = {
            "type": JobType.IMAGE_BUILDER.value,
            "image_dir": str(image_dir(settings.data_dir, request.name)),
            "requirements": [
                {"name": r.name, "version_specifier": r.version_specifier} for r in requirements
            ],
            "pip_options": settings.pip_options,
            "inherit": inherited_paths(),
        }
        image, job = self._backend.store.images.create_with_job(request.name, requirements, spec)
        self._backend.jobs.wake()
        return image_registry_pb2.CreateImageResponse(
            image=image_to_proto(image), job=job_to_proto(job)
        )

    def GetImage(
        self, request: image_registry_pb2.GetImageRequest, context: grpc.ServicerContext
    ) -> image_registry_pb2.GetImageResponse:
        """One image."""
        image = self._backend.store.images.get(request.name)
        return image_registry_pb2.GetImageResponse(image=image_to_proto(image))

    def ListImages(
        self, request: image_registry_pb2.ListImagesRequest, context: grpc.ServicerContext
    ) -> image_registry_pb2.ListImagesResponse:
        """One page of the images that have every filtered library."""
        offset, size = decode_token(request.page_token), page_size(request.page_size)
        images = [
            i for i in self._backend.store.images.all() if _matches(i, list(request.pip_libraries))
        ]
        page = images[offset : offset + size]
        more = offset + size < len(images)
        return image_registry_pb2.ListImagesResponse(
            images=[image_to_proto(i) for i in page],
            next_page_token=encode_token(offset + size) if more else "",
        )

    def DeleteImage(
        self, request: image_registry_pb2.DeleteImageRequest, context: grpc.ServicerContext
    ) -> image_registry_pb2.DeleteImageResponse:
        """Delete the image and its venv (not while it is being built)."""
        image = self._backend.store.images.get(request.name)
        build = self._backend.store.jobs.get(image.job_id)
        if not build.status.finished:
            raise FailedPreconditionError(
                f"image {request.name!r} is still being built by job {build.id} "
                f"({build.status.value}); cancel the job first"
            )
        self._backend.store.images.delete(request.name)
        shutil.rmtree(image_dir(self._backend.settings.data_dir, request.name), ignore_errors=True)
        return image_registry_pb2.DeleteImageResponse()
