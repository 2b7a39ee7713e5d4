"""Jobs: the ``jobs`` table (FIFO by its ``seq`` column)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from pytest_rime.server.records import Job, JobStatus, JobType, Page
from pytest_rime.server.store.db import Database, new_id
from pytest_rime.server.store.rows import Table

JOBS = Table("jobs", Job)


def pending_job(job_type: JobType, project_id: str, spec: dict[str, Any], **fields: Any) -> Job:
    """A new PENDING job (not stored yet); ``fields`` are further :class:`Job` fields."""
    return Job(
        id=new_id(),
        type=job_type,
        status=JobStatus.PENDING,
        project_id=project_id,
        create_time=time.time(),
        spec=spec,
        **fields,
    )


class Jobs:
    """Create, read, update and list jobs."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        job_type: JobType,
        project_id: str,
        spec: dict[str, Any],
        *,
        image_name: str = "",
        firewall_id: str = "",
    ) -> Job:
        """Create a PENDING job."""
        job = pending_job(
            job_type, project_id, spec, image_name=image_name, firewall_id=firewall_id
        )
        with self._db.transaction() as conn:
            JOBS.insert(conn, job)
        return job

    def get(self, job_id: str) -> Job:
        """The job ``job_id``.

        Raises:
            NotFoundError: No such job.
        """
        return self._db.one(JOBS, "id = ?", (job_id,), f"job {job_id!r} not found")

    def update(self, job_id: str, **changes: Any) -> Job:
        """Apply ``changes`` (field name -> value) to job ``job_id`` and return it."""
        with self._db.transaction() as conn:
            return self.update_in(conn, job_id, **changes)

    def update_in(self, conn: sqlite3.Connection, job_id: str, **changes: Any) -> Job:
        """:meth:`update` inside the caller's transaction."""
        job = replace(self.get(job_id), **changes)
        JOBS.update_record(conn, job, "id = ?", (job_id,))
        return job

    def with_status(self, status: JobStatus) -> list[Job]:
        """All jobs in ``status``, in creation (FIFO) order."""
        return self._db.rows(JOBS, "status = ?", (status.value,), "seq")

    def page(
        self,
        *,
        statuses: Iterable[JobStatus],
        types: Iterable[JobType],
        project_id: str,
        created_after: float,
        token: str,
        size: int,
    ) -> Page[Job]:
        """One page of jobs created after ``created_after``, newest first, filtered."""
        where = ["create_time >= ?"]
        params: list[Any] = [created_after]
        for column, values in (
            ("status", [s.value for s in statuses]),
            ("type", [t.value for t in types]),
        ):
            if values:
                where.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params += values
        if project_id:
            where.append("project_id = ?")
            params.append(project_id)
        return self._db.page(JOBS, " AND ".join(where), params, "seq DESC", token=token, size=size)
