"""What every servicer needs: the store, the blob store, the job queue and the settings."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from pytest_rime.server.blobs import BlobStore
from pytest_rime.server.jobs import JobQueue
from pytest_rime.server.paths import PathPolicy
from pytest_rime.server.settings import ServerSettings
from pytest_rime.server.store import Store


@dataclass(frozen=True)
class Backend:
    """The parts of a running server the servicers talk to."""

    settings: ServerSettings
    store: Store
    blobs: BlobStore
    jobs: JobQueue
    web_base_url: str

    @functools.cached_property
    def paths(self) -> PathPolicy:
        """What configs may name (``settings.allowed_local_paths``, the blob store's uploads)."""
        return PathPolicy.create(
            self.settings.data_dir, self.settings.allowed_local_paths, self.blobs.check_upload
        )

    def project_id(self, requested: str) -> str:
        """``requested`` if it names a project, the default project when empty.

        Raises:
            NotFoundError: ``requested`` names no project.
        """
        if not requested:
            return self.store.default_project_id
        return self.store.projects.get(requested).id


class BackendServicer:
    """Base of the servicers: holds the :class:`Backend` they adapt messages to.

    Args:
        backend: The running server's parts.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
