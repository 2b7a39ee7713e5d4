"""Managed images: the ``images`` table (a build job is created with each image)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_rime.server.errors import AlreadyExistsError, NotFoundError
from pytest_rime.server.records import Image, ImageStatus, Job, JobType, PipLibrary, PipRequirement
from pytest_rime.server.store.db import Database
from pytest_rime.server.store.jobs import JOBS, pending_job
from pytest_rime.server.store.rows import Table

IMAGES = Table("images", Image)


class Images:
    """Create, read, update and delete managed images.

    Args:
        db: The database.
        project_id: The project image build jobs belong to (the default project).
    """

    def __init__(self, db: Database, project_id: str) -> None:
        self._db = db
        self._project_id = project_id

    def create_with_job(
        self, name: str, requirements: Sequence[PipRequirement], spec: dict[str, Any]
    ) -> tuple[Image, Job]:
        """Create image ``name`` (BUILDING_FIRST_TIME) and the PENDING job that builds it.

        Raises:
            AlreadyExistsError: The name is taken.
        """
        job = pending_job(JobType.IMAGE_BUILDER, self._project_id, spec, image_name=name)
        image = Image(
            name=name,
            requirements=tuple(requirements),
            status=ImageStatus.BUILDING_FIRST_TIME,
            job_id=job.id,
            create_time=job.create_time,
        )
        with self._db.transaction() as conn:
            if conn.execute("SELECT 1 FROM images WHERE name = ?", (name,)).fetchone():
                raise AlreadyExistsError(f"image {name!r} already exists")
            JOBS.insert(conn, job)
            IMAGES.insert(conn, image)
        return image, job

    def get(self, name: str) -> Image:
        """The managed image ``name``.

        Raises:
            NotFoundError: No such image.
        """
        return self._db.one(IMAGES, "name = ?", (name,), f"managed image {name!r} not found")

    def all(self) -> list[Image]:
        """All managed images, oldest first."""
        return self._db.rows(IMAGES, order_by="create_time, name")

    def update(
        self, name: str, status: ImageStatus, pip_libraries: Sequence[PipLibrary] = ()
    ) -> None:
        """Set the status (and installed libraries) of image ``name``, if it still exists."""
        with self._db.transaction() as conn:
            IMAGES.update(
                conn, "name = ?", (name,), status=status, pip_libraries=tuple(pip_libraries)
            )

    def delete(self, name: str) -> None:
        """Delete the row of image ``name``.

        Raises:
            NotFoundError: No such image.
        """
        with self._db.transaction() as conn:
            if conn.execute("DELETE FROM images WHERE name = ?", (name,)).rowcount == 0:
                raise NotFoundError(f"managed image {name!r} not found")
