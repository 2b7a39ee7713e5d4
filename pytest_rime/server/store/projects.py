"""Projects: the ``projects`` table and the server's default project."""

from __future__ import annotations

import time

from pytest_rime.server.errors import InvalidArgumentError
from pytest_rime.server.records import Page, Project
from pytest_rime.server.store.db import Database, new_id
from pytest_rime.server.store.rows import Table

DEFAULT_PROJECT_NAME = "default"

PROJECTS = Table("projects", Project, extra=("is_default",))


class Projects:
    """Create, read and list projects."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, name: str, description: str, *, default: bool = False) -> Project:
        """Create a project.

        Raises:
            InvalidArgumentError: ``name`` is empty.
        """
        if not name.strip():
            raise InvalidArgumentError("project name must not be empty")
        project = Project(new_id(), name, description, time.time())
        with self._db.transaction() as conn:
            PROJECTS.insert(conn, project, is_default=int(default))
        return project

    def get(self, project_id: str) -> Project:
        """The project ``project_id``.

        Raises:
            NotFoundError: No such project.
        """
        missing = f"project {project_id!r} not found"
        return self._db.one(PROJECTS, "id = ?", (project_id,), missing)

    def page(self, token: str, size: int) -> Page[Project]:
        """One page of projects, oldest first."""
        return self._db.page(PROJECTS, "", (), "create_time, id", token=token, size=size)

    def with_counts(self) -> list[tuple[Project, dict[str, int]]]:
        """Every project, oldest first, with its counts of runs, firewalls and jobs.

        Count keys: ``runs`` (stress test runs only: a firewall's bins are runs of their own),
        ``firewalls``, ``jobs`` and ``active_jobs`` (pending or running).
        """
        rows = self._db.query(
            "SELECT p.*,"
            " (SELECT COUNT(*) FROM test_runs r WHERE r.project_id = p.id AND r.firewall_id = '')"
            " AS runs,"
            " (SELECT COUNT(*) FROM firewalls f WHERE f.project_id = p.id) AS firewalls,"
            " (SELECT COUNT(*) FROM jobs j WHERE j.project_id = p.id) AS jobs,"
            " (SELECT COUNT(*) FROM jobs j WHERE j.project_id = p.id"
            "  AND j.status IN ('PENDING', 'RUNNING')) AS active_jobs"
            " FROM projects p ORDER BY p.create_time, p.id"
        )
        counts = ("runs", "firewalls", "jobs", "active_jobs")
        return [(PROJECTS.from_row(row), {key: int(row[key]) for key in counts}) for row in rows]

    def ensure_default(self) -> str:
        """The id of the default project, created on first use."""
        rows = self._db.query("SELECT id FROM projects WHERE is_default = 1")
        if rows:
            return str(rows[0]["id"])
        return self.create(DEFAULT_PROJECT_NAME, "Created by the server.", default=True).id
