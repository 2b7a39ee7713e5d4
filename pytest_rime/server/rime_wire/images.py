"""rime ImageRegistry: create, get and list managed images through the v1 servicer."""

from __future__ import annotations

import grpc

from pytest_rime.proto.rime import image_registry_pb2, image_registry_pb2_grpc
from pytest_rime.proto.v1 import image_registry_pb2 as v1
from pytest_rime.server.rime_wire.convert import image_to_rime, job_to_rime, page_size
from pytest_rime.server.servicers.context import Backend
from pytest_rime.server.servicers.images import ImageRegistry as V1ImageRegistry


class ImageRegistry(image_registry_pb2_grpc.ImageRegistryServicer):
    """Managed images (Python environments built by IMAGE_BUILDER jobs).

    Args:
        backend: The running server's parts.
    """

    def __init__(self, backend: Backend) -> None:
        self._v1 = V1ImageRegistry(backend)

    def CreateImage(
        self, request: image_registry_pb2.CreateImageRequest, context: grpc.ServicerContext
    ) -> image_registry_pb2.CreateImageResponse:
        """Record the image and queue its build (INVALID_ARGUMENT, ALREADY_EXISTS)."""
        created = self._v1.CreateImage(
            v1.CreateImageRequest(
                name=request.name,
                requirements=[
                    v1.ManagedImage.PipRequirement(
                        name=r.name, version_specifier=r.version_specifier
                    )
                    for r in request.pip_requirements
                ],
            ),
            context,
        )
        return image_registry_pb2.CreateImageResponse(
            image=image_to_rime(created.image), job=job_to_rime(created.job)
        )

    def GetImage(
        self, request: image_registry_pb2.GetImageRequest, context: grpc.ServicerContext
    ) -> image_registry_pb2.GetImageResponse:
        """One image (NOT_FOUND when there is no such image)."""
        found = self._v1.GetImage(v1.GetImageRequest(name=request.name), context)
        return image_registry_pb2.GetImageResponse(image=image_to_rime(found.image))

    def ListImages(
        self, request: image_registry_pb2.ListImagesRequest, context: grpc.ServicerContext
    ) -> image_registry_pb2.ListImagesResponse:
        """One page of the images that have every filtered library (at the version, if given)."""
        page = self._v1.ListImages(
            v1.ListImagesRequest(
                pip_libraries=[
                    v1.ListImagesRequest.PipLibraryFilter(name=f.name, fixed_version=f.version)
                    for f in request.pip_libraries
                ],
                page_token=request.page_token,
                page_size=page_size(request.page_size),
            ),
            context,
        )
        return image_registry_pb2.ListImagesResponse(
            images=[image_to_rime(i) for i in page.images], next_page_token=page.next_page_token
        )
