"""SQLite store: the only place the server persists projects, jobs, images, firewalls and results.

One connection guarded by a lock (the gRPC thread pool, the scheduler and job monitors share
it), WAL journal, schema versioned by a ``schema_version`` table and a list of migrations.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TypeVar

from pytest_rime.engine.firewall import FirewallBin as EngineFirewallBin
from pytest_rime.engine.firewall import FirewallFromReferenceResult, FirewallRunResult
from pytest_rime.engine.results import RunResult, Severity, Status, TestCaseResult
from pytest_rime.server.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from pytest_rime.server.pagination import decode_token, encode_token, page_size
from pytest_rime.server.records import (
    Firewall,
    FirewallBin,
    FirewallEvent,
    Image,
    ImageStatus,
    Job,
    JobStatus,
    JobType,
    Page,
    PipLibrary,
    PipRequirement,
    Project,
    TerminationReason,
    TestBatch,
    TestRun,
)

T = TypeVar("T")

DEFAULT_PROJECT_NAME = "default"

MIGRATIONS: list[str] = [
    """
    CREATE TABLE projects (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL,
        create_time REAL NOT NULL, is_default INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, type TEXT NOT NULL,
        status TEXT NOT NULL, project_id TEXT NOT NULL, create_time REAL NOT NULL,
        start_time REAL, end_time REAL, termination_reason TEXT NOT NULL, progress TEXT NOT NULL,
        test_run_id TEXT NOT NULL, firewall_id TEXT NOT NULL, image_name TEXT NOT NULL,
        error_message TEXT NOT NULL, spec_json TEXT NOT NULL
    );
    CREATE INDEX jobs_status ON jobs (status, seq);
    CREATE TABLE images (
        name TEXT PRIMARY KEY, requirements_json TEXT NOT NULL, pip_libraries_json TEXT NOT NULL,
        status TEXT NOT NULL, job_id TEXT NOT NULL, create_time REAL NOT NULL
    );
    CREATE TABLE firewalls (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, project_id TEXT UNIQUE NOT NULL,
        bin_size_seconds INTEGER NOT NULL, stress_test_run_id TEXT NOT NULL,
        create_time REAL NOT NULL
    );
    CREATE TABLE firewall_bins (
        firewall_id TEXT NOT NULL, bin_start INTEGER NOT NULL, bin_end INTEGER NOT NULL,
        test_run_id TEXT NOT NULL, num_rows INTEGER NOT NULL, metrics_json TEXT NOT NULL,
        severity TEXT NOT NULL, PRIMARY KEY (firewall_id, bin_start)
    );
    CREATE TABLE firewall_events (
        id TEXT PRIMARY KEY, firewall_id TEXT NOT NULL, bin_start INTEGER NOT NULL,
        bin_end INTEGER NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL,
        threshold REAL NOT NULL, severity TEXT NOT NULL, description TEXT NOT NULL,
        test_run_id TEXT NOT NULL
    );
    CREATE TABLE test_runs (
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL, job_id TEXT NOT NULL,
        run_name TEXT NOT NULL, model_task TEXT NOT NULL, data_type TEXT NOT NULL,
        start_time REAL NOT NULL, end_time REAL NOT NULL, num_inputs INTEGER NOT NULL,
        num_failing_inputs INTEGER NOT NULL, duration_millis INTEGER NOT NULL,
        summary_counts_json TEXT NOT NULL, severity_counts_json TEXT NOT NULL,
        model_perf_json TEXT NOT NULL, metadata_json TEXT NOT NULL, firewall_id TEXT NOT NULL,
        bin_start INTEGER NOT NULL, bin_end INTEGER NOT NULL
    );
    CREATE TABLE test_batches (
        test_run_id TEXT NOT NULL, position INTEGER NOT NULL, test_id TEXT NOT NULL,
        test_batch_type TEXT NOT NULL, category TEXT NOT NULL, description TEXT NOT NULL,
        summary_counts_json TEXT NOT NULL, severity TEXT NOT NULL,
        duration_millis INTEGER NOT NULL, PRIMARY KEY (test_run_id, position)
    );
    CREATE TABLE test_cases (
        test_run_id TEXT NOT NULL, position INTEGER NOT NULL, test_id TEXT NOT NULL,
        test_batch_type TEXT NOT NULL, category TEXT NOT NULL, features_json TEXT NOT NULL,
        status TEXT NOT NULL, severity TEXT NOT NULL, importance_score REAL NOT NULL,
        metrics_json TEXT NOT NULL, description TEXT NOT NULL,
        PRIMARY KEY (test_run_id, position)
    );
    """,
    """
    ALTER TABLE test_runs ADD COLUMN config_json TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE firewall_bins ADD COLUMN job_id TEXT NOT NULL DEFAULT '';
    CREATE INDEX test_runs_bins ON test_runs (firewall_id, bin_start);
    CREATE INDEX firewall_events_bins ON firewall_events (firewall_id, bin_start);
    """,
]
"""Schema migrations; entry ``i`` takes the schema from version ``i`` to ``i + 1``."""

_JOB_COLUMNS = (
    "id, type, status, project_id, create_time, start_time, end_time, termination_reason, "
    "progress, test_run_id, firewall_id, image_name, error_message, spec_json"
)


def new_id() -> str:
    """A fresh random identifier."""
    return uuid.uuid4().hex


def _job_from_row(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        type=JobType(row["type"]),
        status=JobStatus(row["status"]),
        project_id=row["project_id"],
        create_time=row["create_time"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        termination_reason=TerminationReason(row["termination_reason"]),
        progress=row["progress"],
        test_run_id=row["test_run_id"],
        firewall_id=row["firewall_id"],
        image_name=row["image_name"],
        error_message=row["error_message"],
        spec=json.loads(row["spec_json"]),
    )


def _job_values(job: Job) -> tuple[Any, ...]:
    return (
        job.id,
        job.type.value,
        job.status.value,
        job.project_id,
        job.create_time,
        job.start_time,
        job.end_time,
        job.termination_reason.value,
        job.progress,
        job.test_run_id,
        job.firewall_id,
        job.image_name,
        job.error_message,
        json.dumps(job.spec),
    )


def _image_from_row(row: sqlite3.Row) -> Image:
    return Image(
        name=row["name"],
        requirements=tuple(PipRequirement(**r) for r in json.loads(row["requirements_json"])),
        pip_libraries=tuple(PipLibrary(**p) for p in json.loads(row["pip_libraries_json"])),
        status=ImageStatus(row["status"]),
        job_id=row["job_id"],
        create_time=row["create_time"],
    )


def _firewall_from_row(row: sqlite3.Row) -> Firewall:
    return Firewall(
        id=row["id"],
        name=row["name"],
        project_id=row["project_id"],
        bin_size_seconds=row["bin_size_seconds"],
        stress_test_run_id=row["stress_test_run_id"],
        create_time=row["create_time"],
    )


def _test_run_from_row(row: sqlite3.Row) -> TestRun:
    return TestRun(
        id=row["id"],
        project_id=row["project_id"],
        job_id=row["job_id"],
        run_name=row["run_name"],
        model_task=row["model_task"],
        data_type=row["data_type"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        num_inputs=row["num_inputs"],
        num_failing_inputs=row["num_failing_inputs"],
        duration_millis=row["duration_millis"],
        summary_counts=json.loads(row["summary_counts_json"]),
        severity_counts=json.loads(row["severity_counts_json"]),
        model_perf=json.loads(row["model_perf_json"]),
        metadata=json.loads(row["metadata_json"]),
        firewall_id=row["firewall_id"],
        bin_start=row["bin_start"],
        bin_end=row["bin_end"],
        config=json.loads(row["config_json"]),
    )


def _firewall_bin_from_row(row: sqlite3.Row) -> FirewallBin:
    return FirewallBin(
        firewall_id=row["firewall_id"],
        bin_start=row["bin_start"],
        bin_end=row["bin_end"],
        test_run_id=row["test_run_id"],
        num_rows=row["num_rows"],
        metrics=json.loads(row["metrics_json"]),
        severity=row["severity"],
        job_id=row["job_id"],
    )


_TEST_RUN_COLUMNS = (
    "id, project_id, job_id, run_name, model_task, data_type, start_time, end_time, "
    "num_inputs, num_failing_inputs, duration_millis, summary_counts_json, "
    "severity_counts_json, model_perf_json, metadata_json, firewall_id, bin_start, bin_end, "
    "config_json"
)


def _test_case_from_row(row: sqlite3.Row) -> TestCaseResult:
    return TestCaseResult(
        test_id=row["test_id"],
        test_batch_type=row["test_batch_type"],
        category=row["category"],
        features=tuple(json.loads(row["features_json"])),
        status=Status(row["status"]),
        severity=Severity(row["severity"]),
        importance_score=row["importance_score"],
        metrics=json.loads(row["metrics_json"]),
        description=row["description"],
    )


class Store:
    """Everything the server persists, in one SQLite file.

    Args:
        path: The database file; created (with its schema) when missing.
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._migrate()
        self.default_project_id = self._ensure_default_project()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _migrate(self) -> None:
        with self._tx() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = row["version"] if row else 0
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            for script in MIGRATIONS[version:]:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))

    def schema_version(self) -> int:
        """The schema version of the open database."""
        return int(self._query("SELECT version FROM schema_version")[0]["version"])

    def _ensure_default_project(self) -> str:
        rows = self._query("SELECT id FROM projects WHERE is_default = 1")
        if rows:
            return str(rows[0]["id"])
        project = self.create_project(DEFAULT_PROJECT_NAME, "Created by the server.", default=True)
        return project.id

    # -- projects ---------------------------------------------------------------------------

    def create_project(self, name: str, description: str, *, default: bool = False) -> Project:
        """Create a project.

        Raises:
            InvalidArgumentError: ``name`` is empty.
        """
        if not name.strip():
            raise InvalidArgumentError("project name must not be empty")
        project = Project(new_id(), name, description, time.time())
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO projects (id, name, description, create_time, is_default) "
                "VALUES (?, ?, ?, ?, ?)",
                (project.id, name, description, project.create_time, int(default)),
            )
        return project

    def get_project(self, project_id: str) -> Project:
        """The project ``project_id``.

        Raises:
            NotFoundError: No such project.
        """
        rows = self._query(
            "SELECT id, name, description, create_time FROM projects WHERE id = ?", (project_id,)
        )
        if not rows:
            raise NotFoundError(f"project {project_id!r} not found")
        return Project(**dict(rows[0]))

    def list_projects(self, token: str, size: int) -> Page[Project]:
        """One page of projects, oldest first."""
        return self._page(
            "SELECT id, name, description, create_time FROM projects ORDER BY create_time, id",
            (),
            token,
            size,
            lambda row: Project(**dict(row)),
        )

    def _page(
        self,
        sql: str,
        params: Sequence[Any],
        token: str,
        size: int,
        convert: Callable[[sqlite3.Row], T],
    ) -> Page[T]:
        offset, limit = decode_token(token), page_size(size)
        rows = self._query(f"{sql} LIMIT ? OFFSET ?", (*params, limit + 1, offset))
        items = [convert(row) for row in rows[:limit]]
        next_token = encode_token(offset + limit) if len(rows) > limit else ""
        return Page(items, next_token)

    # -- jobs -------------------------------------------------------------------------------

    def create_job(
        self,
        job_type: JobType,
        project_id: str,
        spec: dict[str, Any],
        *,
        image_name: str = "",
        firewall_id: str = "",
    ) -> Job:
        """Create a PENDING job."""
        job = Job(
            id=new_id(),
            type=job_type,
            status=JobStatus.PENDING,
            project_id=project_id,
            create_time=time.time(),
            spec=spec,
            image_name=image_name,
            firewall_id=firewall_id,
        )
        with self._tx() as conn:
            self._insert_job(conn, job)
        return job

    @staticmethod
    def _insert_job(conn: sqlite3.Connection, job: Job) -> None:
        conn.execute(
            f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({', '.join('?' * 14)})", _job_values(job)
        )

    def get_job(self, job_id: str) -> Job:
        """The job ``job_id``.

        Raises:
            NotFoundError: No such job.
        """
        rows = self._query(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise NotFoundError(f"job {job_id!r} not found")
        return _job_from_row(rows[0])

    def update_job(self, job_id: str, **changes: Any) -> Job:
        """Apply ``changes`` (field name -> value) to job ``job_id`` and return it."""
        with self._tx() as conn:
            return self._update_job(conn, job_id, **changes)

    def _update_job(self, conn: sqlite3.Connection, job_id: str, **changes: Any) -> Job:
        job = replace(self.get_job(job_id), **changes)
        assignments = ", ".join(f"{name.strip()} = ?" for name in _JOB_COLUMNS.split(","))
        conn.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*_job_values(job), job_id))
        return job

    def jobs_with_status(self, status: JobStatus) -> list[Job]:
        """All jobs in ``status``, in creation (FIFO) order."""
        rows = self._query(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = ? ORDER BY seq", (status.value,)
        )
        return [_job_from_row(row) for row in rows]

    def list_jobs(
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
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params += values
        if project_id:
            where.append("project_id = ?")
            params.append(project_id)
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {' AND '.join(where)} ORDER BY seq DESC"
        return self._page(sql, params, token, size, _job_from_row)

    # -- results ----------------------------------------------------------------------------

    def save_run_result(
        self,
        job_id: str,
        result: RunResult,
        *,
        start_time: float,
        end_time: float,
        config: dict[str, Any] | None = None,
        **job_changes: Any,
    ) -> TestRun:
        """Store a finished stress test run and point job ``job_id`` at it, in one transaction.

        ``config`` is the run's validated config (kept for firewalls built on the run);
        ``job_changes`` (e.g. the final status) are applied to the job in the same transaction.
        """
        job = self.get_job(job_id)
        with self._tx() as conn:
            run = self._insert_run(
                conn, job, result, start_time=start_time, end_time=end_time, config=config
            )
            self._update_job(conn, job_id, test_run_id=run.id, end_time=end_time, **job_changes)
        return run

    def _insert_run(
        self,
        conn: sqlite3.Connection,
        job: Job,
        result: RunResult,
        *,
        start_time: float,
        end_time: float,
        config: dict[str, Any] | None = None,
        firewall_id: str = "",
        bin_start: int = 0,
        bin_end: int = 0,
    ) -> TestRun:
        """Insert a run with its batches and cases (inside the caller's transaction)."""
        data = result.to_dict()
        run = TestRun(
            id=new_id(),
            project_id=job.project_id,
            job_id=job.id,
            run_name=result.run_name,
            model_task=result.model_task,
            data_type=result.data_type,
            start_time=start_time,
            end_time=end_time,
            num_inputs=result.num_inputs,
            num_failing_inputs=result.num_failing_inputs,
            duration_millis=result.duration_millis,
            summary_counts=result.summary_counts,
            severity_counts=result.severity_counts,
            model_perf=[asdict(p) for p in result.model_perf],
            metadata=dict(data["metadata"]),
            firewall_id=firewall_id,
            bin_start=bin_start,
            bin_end=bin_end,
            config=dict(config or {}),
        )
        conn.execute(
            f"INSERT INTO test_runs ({_TEST_RUN_COLUMNS}) VALUES ({', '.join('?' * 19)})",
            (
                run.id,
                run.project_id,
                run.job_id,
                run.run_name,
                run.model_task,
                run.data_type,
                run.start_time,
                run.end_time,
                run.num_inputs,
                run.num_failing_inputs,
                run.duration_millis,
                json.dumps(run.summary_counts),
                json.dumps(run.severity_counts),
                json.dumps(data["model_perf"]),
                json.dumps(run.metadata),
                firewall_id,
                bin_start,
                bin_end,
                json.dumps(run.config),
            ),
        )
        conn.executemany(
            "INSERT INTO test_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run.id,
                    position,
                    batch.test_id,
                    batch.test_batch_type,
                    batch.category,
                    batch.description,
                    json.dumps(batch.summary_counts),
                    batch.severity.value,
                    batch.duration_millis,
                )
                for position, batch in enumerate(result.batches)
            ],
        )
        conn.executemany(
            "INSERT INTO test_cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run.id,
                    position,
                    case["test_id"],
                    case["test_batch_type"],
                    case["category"],
                    json.dumps(case["features"]),
                    case["status"],
                    case["severity"],
                    case["importance_score"],
                    json.dumps(case["metrics"]),
                    case["description"],
                )
                for position, case in enumerate(c.to_dict() for c in result.test_cases)
            ],
        )
        return run

    def get_test_run(self, test_run_id: str) -> TestRun:
        """The stored run ``test_run_id``.

        Raises:
            NotFoundError: No such run.
        """
        rows = self._query("SELECT * FROM test_runs WHERE id = ?", (test_run_id,))
        if not rows:
            raise NotFoundError(f"test run {test_run_id!r} not found")
        return _test_run_from_row(rows[0])

    def list_test_cases(self, test_run_id: str, token: str, size: int) -> Page[TestCaseResult]:
        """One page of the run's test cases, in result order."""
        self.get_test_run(test_run_id)
        return self._page(
            "SELECT * FROM test_cases WHERE test_run_id = ? ORDER BY position",
            (test_run_id,),
            token,
            size,
            _test_case_from_row,
        )

    def list_test_batches(self, test_run_id: str) -> list[TestBatch]:
        """All test batches of the run, in result order."""
        self.get_test_run(test_run_id)
        rows = self._query(
            "SELECT * FROM test_batches WHERE test_run_id = ? ORDER BY position", (test_run_id,)
        )
        return [
            TestBatch(
                test_run_id=row["test_run_id"],
                test_id=row["test_id"],
                test_batch_type=row["test_batch_type"],
                category=row["category"],
                description=row["description"],
                summary_counts=json.loads(row["summary_counts_json"]),
                severity=row["severity"],
                duration_millis=row["duration_millis"],
            )
            for row in rows
        ]

    # -- images -----------------------------------------------------------------------------

    def create_image_with_job(
        self, name: str, requirements: Sequence[PipRequirement], spec: dict[str, Any]
    ) -> tuple[Image, Job]:
        """Create image ``name`` (BUILDING_FIRST_TIME) and the PENDING job that builds it.

        Raises:
            AlreadyExistsError: The name is taken.
        """
        job = Job(
            id=new_id(),
            type=JobType.IMAGE_BUILDER,
            status=JobStatus.PENDING,
            project_id=self.default_project_id,
            create_time=time.time(),
            spec=spec,
            image_name=name,
        )
        image = Image(
            name=name,
            requirements=tuple(requirements),
            status=ImageStatus.BUILDING_FIRST_TIME,
            job_id=job.id,
            create_time=job.create_time,
        )
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM images WHERE name = ?", (name,)).fetchone():
                raise AlreadyExistsError(f"image {name!r} already exists")
            self._insert_job(conn, job)
            conn.execute(
                "INSERT INTO images VALUES (?, ?, ?, ?, ?, ?)",
                (
                    name,
                    json.dumps([asdict(r) for r in requirements]),
                    "[]",
                    image.status.value,
                    job.id,
                    image.create_time,
                ),
            )
        return image, job

    def get_image(self, name: str) -> Image:
        """The managed image ``name``.

        Raises:
            NotFoundError: No such image.
        """
        rows = self._query("SELECT * FROM images WHERE name = ?", (name,))
        if not rows:
            raise NotFoundError(f"managed image {name!r} not found")
        return _image_from_row(rows[0])

    def list_images(self) -> list[Image]:
        """All managed images, oldest first."""
        rows = self._query("SELECT * FROM images ORDER BY create_time, name")
        return [_image_from_row(row) for row in rows]

    def update_image(
        self, name: str, status: ImageStatus, pip_libraries: Sequence[PipLibrary] = ()
    ) -> None:
        """Set the status (and installed libraries) of image ``name``, if it still exists."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE images SET status = ?, pip_libraries_json = ? WHERE name = ?",
                (status.value, json.dumps([asdict(p) for p in pip_libraries]), name),
            )

    def delete_image(self, name: str) -> None:
        """Delete the row of image ``name``.

        Raises:
            NotFoundError: No such image.
        """
        with self._tx() as conn:
            if conn.execute("DELETE FROM images WHERE name = ?", (name,)).rowcount == 0:
                raise NotFoundError(f"managed image {name!r} not found")

    # -- firewalls --------------------------------------------------------------------------

    def create_firewall(
        self, name: str, project_id: str, bin_size_seconds: int, stress_test_run_id: str
    ) -> Firewall:
        """Create the firewall of project ``project_id``.

        Raises:
            AlreadyExistsError: The project already has a firewall.
        """
        with self._tx() as conn:
            return self._insert_firewall(
                conn, name, project_id, bin_size_seconds, stress_test_run_id
            )

    def _insert_firewall(
        self,
        conn: sqlite3.Connection,
        name: str,
        project_id: str,
        bin_size_seconds: int,
        stress_test_run_id: str,
    ) -> Firewall:
        existing = conn.execute(
            "SELECT id FROM firewalls WHERE project_id = ?", (project_id,)
        ).fetchone()
        if existing:
            raise AlreadyExistsError(
                f"project {project_id!r} already has firewall {existing['id']!r} (one firewall "
                "per project: point it at another run with update_firewall_stress_test_run, "
                "or use another project)"
            )
        firewall = Firewall(
            new_id(), name, project_id, bin_size_seconds, stress_test_run_id, time.time()
        )
        conn.execute(
            "INSERT INTO firewalls VALUES (?, ?, ?, ?, ?, ?)",
            (
                firewall.id,
                name,
                project_id,
                bin_size_seconds,
                stress_test_run_id,
                firewall.create_time,
            ),
        )
        return firewall

    def save_firewall_run(
        self,
        job_id: str,
        firewall_id: str,
        result: FirewallRunResult,
        *,
        start_time: float,
        end_time: float,
        config: dict[str, Any] | None = None,
        **job_changes: Any,
    ) -> list[FirewallBin]:
        """Store the bins of a firewall batch job, replacing earlier results of the same bins.

        One transaction: every bin's run (with its batches and cases), bin row and events
        replace whatever the firewall had stored for that bin start; ``job_changes`` are
        applied to the job (its ``firewall_id`` is set, its ``test_run_id`` left empty: its
        results are per bin).
        """
        job = self.get_job(job_id)
        with self._tx() as conn:
            bins = [
                self._replace_bin(conn, job, firewall_id, outcome, start_time, end_time, config)
                for outcome in result.bins
            ]
            self._update_job(
                conn, job_id, firewall_id=firewall_id, end_time=end_time, **job_changes
            )
        return bins

    def save_firewall_from_reference(
        self,
        job_id: str,
        result: FirewallFromReferenceResult,
        *,
        start_time: float,
        end_time: float,
        config: dict[str, Any],
        **job_changes: Any,
    ) -> Firewall:
        """Store a from-reference firewall job in one transaction.

        The stress test run, the project's new firewall on it (named after the run) and the
        firewall's bins; the job gets the run's and the firewall's ids and ``job_changes``.

        Raises:
            AlreadyExistsError: The project got a firewall while the job ran.
        """
        job = self.get_job(job_id)
        with self._tx() as conn:
            run = self._insert_run(
                conn,
                job,
                result.stress_test,
                start_time=start_time,
                end_time=end_time,
                config=config,
            )
            firewall = self._insert_firewall(
                conn,
                result.stress_test.run_name,
                job.project_id,
                result.firewall.bin_size_seconds,
                run.id,
            )
            for outcome in result.firewall.bins:
                self._replace_bin(conn, job, firewall.id, outcome, start_time, end_time, config)
            self._update_job(
                conn,
                job_id,
                test_run_id=run.id,
                firewall_id=firewall.id,
                end_time=end_time,
                **job_changes,
            )
        return firewall

    def _replace_bin(
        self,
        conn: sqlite3.Connection,
        job: Job,
        firewall_id: str,
        outcome: EngineFirewallBin,
        start_time: float,
        end_time: float,
        config: dict[str, Any] | None,
    ) -> FirewallBin:
        """Delete what ``firewall_id`` stored for the bin's start, then insert ``outcome``."""
        summary = outcome.summary
        key = (firewall_id, summary.bin_start_secs)
        old_runs = [
            row["id"]
            for row in conn.execute(
                "SELECT id FROM test_runs WHERE firewall_id = ? AND bin_start = ?", key
            )
        ]
        for table in ("test_cases", "test_batches"):
            conn.executemany(
                f"DELETE FROM {table} WHERE test_run_id = ?", [(run,) for run in old_runs]
            )
        conn.execute("DELETE FROM test_runs WHERE firewall_id = ? AND bin_start = ?", key)
        conn.execute("DELETE FROM firewall_bins WHERE firewall_id = ? AND bin_start = ?", key)
        conn.execute("DELETE FROM firewall_events WHERE firewall_id = ? AND bin_start = ?", key)
        run = self._insert_run(
            conn,
            job,
            outcome.result,
            start_time=start_time,
            end_time=end_time,
            config=config,
            firewall_id=firewall_id,
            bin_start=summary.bin_start_secs,
            bin_end=summary.bin_end_secs,
        )
        stored = FirewallBin(
            firewall_id=firewall_id,
            bin_start=summary.bin_start_secs,
            bin_end=summary.bin_end_secs,
            test_run_id=run.id,
            num_rows=summary.num_rows,
            metrics=dict(summary.to_dict()["metrics"]),
            severity=summary.severity.value,
            job_id=job.id,
        )
        conn.execute(
            "INSERT INTO firewall_bins (firewall_id, bin_start, bin_end, test_run_id, num_rows, "
            "metrics_json, severity, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                firewall_id,
                stored.bin_start,
                stored.bin_end,
                run.id,
                stored.num_rows,
                json.dumps(stored.metrics),
                stored.severity,
                job.id,
            ),
        )
        conn.executemany(
            "INSERT INTO firewall_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    new_id(),
                    firewall_id,
                    event.bin_start_secs,
                    event.bin_end_secs,
                    event.metric,
                    event.value,
                    event.threshold,
                    event.severity.value,
                    event.description,
                    run.id,
                )
                for event in outcome.events
            ],
        )
        return stored

    def get_firewall(self, firewall_id: str) -> Firewall:
        """The firewall ``firewall_id``.

        Raises:
            NotFoundError: No such firewall.
        """
        rows = self._query("SELECT * FROM firewalls WHERE id = ?", (firewall_id,))
        if not rows:
            raise NotFoundError(f"firewall {firewall_id!r} not found")
        return _firewall_from_row(rows[0])

    def find_firewall_for_project(self, project_id: str) -> Firewall | None:
        """The firewall of project ``project_id``, ``None`` when it has none."""
        rows = self._query("SELECT * FROM firewalls WHERE project_id = ?", (project_id,))
        return _firewall_from_row(rows[0]) if rows else None

    def get_firewall_for_project(self, project_id: str) -> Firewall:
        """The firewall of project ``project_id``.

        Raises:
            NotFoundError: The project has no firewall.
        """
        firewall = self.find_firewall_for_project(project_id)
        if firewall is None:
            raise NotFoundError(f"project {project_id!r} has no firewall")
        return firewall

    def update_firewall(self, firewall_id: str, stress_test_run_id: str) -> Firewall:
        """Point firewall ``firewall_id`` at another reference run."""
        self.get_firewall(firewall_id)
        with self._tx() as conn:
            conn.execute(
                "UPDATE firewalls SET stress_test_run_id = ? WHERE id = ?",
                (stress_test_run_id, firewall_id),
            )
        return self.get_firewall(firewall_id)

    def list_firewall_bins(self, firewall_id: str) -> list[FirewallBin]:
        """The stored bins of firewall ``firewall_id``, oldest first."""
        self.get_firewall(firewall_id)
        rows = self._query(
            "SELECT * FROM firewall_bins WHERE firewall_id = ? ORDER BY bin_start", (firewall_id,)
        )
        return [_firewall_bin_from_row(row) for row in rows]

    def list_firewall_events(self, firewall_id: str) -> list[FirewallEvent]:
        """The stored events of firewall ``firewall_id``, oldest bin first."""
        self.get_firewall(firewall_id)
        rows = self._query(
            "SELECT * FROM firewall_events WHERE firewall_id = ? ORDER BY bin_start, rowid",
            (firewall_id,),
        )
        return [FirewallEvent(**dict(row)) for row in rows]
