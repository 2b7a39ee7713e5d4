"""RIMEImageBuilder: watching the build of a managed image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_rime.proto.v1 import image_registry_pb2
from pytest_rime.sdk.backend import RIMEBackend
from pytest_rime.sdk.convert import BUILDING_IMAGE_STATUSES, image_status_label, image_to_dict
from pytest_rime.sdk.job import print_failure_logs
from pytest_rime.sdk.polling import poll


class RIMEImageBuilder:
    """An interface to a RIME image builder.

    Attributes:
        backend: The RIME backend that builds the image.
        name: The unique name of the managed image.
        requirements: The pip requirements the image was asked for (``None`` if unknown).
    """

    def __init__(
        self,
        backend: RIMEBackend,
        name: str,
        requirements: Sequence[image_registry_pb2.ManagedImage.PipRequirement] | None = None,
    ) -> None:
        self.backend = backend
        self.name = name
        self.requirements = list(requirements) if requirements is not None else None

    def __repr__(self) -> str:
        return f"RIMEImageBuilder(name={self.name!r})"

    def _image(self) -> image_registry_pb2.ManagedImage:
        request = image_registry_pb2.GetImageRequest(name=self.name)
        return self.backend.call(self.backend.images.GetImage, request).image

    def get_status(
        self, verbose: bool = False, wait_until_finish: bool = False, poll_rate_sec: float = 5.0
    ) -> dict[str, Any]:
        """Query the ImageRegistry service for the image's build status.

        This query includes an option to wait until the image build is finished. It will
        either have succeeded (``READY``) or failed (``FAILED``).

        Args:
            verbose: Whether or not to print diagnostic information: the image's status on
                every poll, and the build job's logs if the build failed.
            wait_until_finish: Whether or not to block until the image is ``READY`` or
                ``FAILED``.
            poll_rate_sec: The frequency with which to poll the image's build status, in
                seconds.

        Returns:
            A dictionary representing the image's state::

                {
                    "name": str,
                    "status": str,  # "BUILDING_FIRST_TIME", "READY", "FAILED", ...
                    "requirements": [{"name": str, "version_specifier": str}, ...],
                    "pip_libraries": [{"name": str, "version": str}, ...],  # as installed
                    "job_id": str,  # the build job
                    "create_time_secs": int,
                }

        Raises:
            ValueError: The image does not exist, a request to the ImageRegistry service
                failed, or ``poll_rate_sec`` is not positive while waiting.

        Example:
            .. code-block:: python

                builder = rime_client.create_managed_image("xgboost102", requirements)
                builder.get_status(verbose=True, wait_until_finish=True)
        """
        image = poll(
            self._image,
            is_done=lambda image: image.status not in BUILDING_IMAGE_STATUSES,
            wait_until_finish=wait_until_finish,
            poll_rate_sec=poll_rate_sec,
            report=self._print_status if verbose else None,
        )
        if (
            verbose
            and image.status == image_registry_pb2.ManagedImage.STATUS_FAILED
            and image.job_id
        ):
            print_failure_logs(self.backend, image.job_id)
        return image_to_dict(image)

    @staticmethod
    def _print_status(image: image_registry_pb2.ManagedImage) -> None:
        print(f"Image {image.name}: {image_status_label(image.status)} (build job {image.job_id})")
