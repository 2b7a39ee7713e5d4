"""SQLite store: the only place the server persists projects, jobs, images, firewalls and results.

One repository per aggregate over a shared layer:

- :mod:`~pytest_rime.server.store.db`: the connection, its lock, transactions, migrations, paging;
- :mod:`~pytest_rime.server.store.schema`: the migration scripts (the on-disk schema);
- :mod:`~pytest_rime.server.store.rows`: the dataclass <-> row mapper every table goes through;
- :mod:`~pytest_rime.server.store.projects`, :mod:`~pytest_rime.server.store.jobs`,
  :mod:`~pytest_rime.server.store.results`, :mod:`~pytest_rime.server.store.firewalls`,
  :mod:`~pytest_rime.server.store.images`: the repositories.

:class:`Store` opens the file and composes them: ``store.jobs.get(job_id)``,
``store.results.get_run(test_run_id)``, ``store.firewalls.bins(firewall_id)``, ...
"""

from __future__ import annotations

from pathlib import Path

from pytest_rime.server.store.db import Database, new_id
from pytest_rime.server.store.firewalls import Firewalls
from pytest_rime.server.store.images import Images
from pytest_rime.server.store.jobs import Jobs
from pytest_rime.server.store.projects import DEFAULT_PROJECT_NAME, Projects
from pytest_rime.server.store.results import Results
from pytest_rime.server.store.schema import MIGRATIONS

__all__ = ["DEFAULT_PROJECT_NAME", "MIGRATIONS", "Store", "new_id"]


class Store:
    """Everything the server persists, in one SQLite file.

    Args:
        path: The database file; created (with its schema) when missing, migrated when older.

    Attributes:
        projects: Projects.
        jobs: Jobs.
        results: Stored test runs with their batches and cases.
        firewalls: Firewalls with their bins and events.
        images: Managed images.
        default_project_id: The project used when a request names none.
    """

    def __init__(self, path: Path) -> None:
        self._db = Database(path, MIGRATIONS)
        self.projects = Projects(self._db)
        self.jobs = Jobs(self._db)
        self.results = Results(self._db, self.jobs)
        self.firewalls = Firewalls(self._db, self.jobs, self.results)
        self.default_project_id = self.projects.ensure_default()
        self.images = Images(self._db, self.default_project_id)

    def schema_version(self) -> int:
        """The schema version of the open database."""
        return self._db.schema_version()

    def close(self) -> None:
        """Close the connection."""
        self._db.close()
