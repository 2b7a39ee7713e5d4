"""Stored test runs: the ``test_runs``, ``test_batches`` and ``test_cases`` tables."""

from __future__ import annotations

import sqlite3
from typing import Any, TypeVar

from pytest_rime.engine.results import RunResult, TestCaseResult
from pytest_rime.server.records import Job, Page, TestBatch, TestRun
from pytest_rime.server.store.db import Database, new_id
from pytest_rime.server.store.jobs import Jobs
from pytest_rime.server.store.rows import Table

R = TypeVar("R")

TEST_RUNS = Table("test_runs", TestRun)
TEST_BATCHES = Table("test_batches", TestBatch, extra=("position",))
TEST_CASES = Table("test_cases", TestCaseResult, extra=("test_run_id", "position"))


class Results:
    """Store finished runs (with their batches and cases) and read them back."""

    def __init__(self, db: Database, jobs: Jobs) -> None:
        self._db = db
        self._jobs = jobs

    def save_run(
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
        job = self._jobs.get(job_id)
        with self._db.transaction() as conn:
            run = self.insert_run(
                conn, job, result, start_time=start_time, end_time=end_time, config=config
            )
            self._jobs.update_in(conn, job_id, test_run_id=run.id, end_time=end_time, **job_changes)
        return run

    def insert_run(
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
        """Insert a run with its batches and cases (inside the caller's transaction).

        Values are stored in their JSON-safe form (:meth:`RunResult.to_dict`: NaN -> null).
        """
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
            model_perf=list(data["model_perf"]),
            metadata=dict(data["metadata"]),
            firewall_id=firewall_id,
            bin_start=bin_start,
            bin_end=bin_end,
            config=dict(config or {}),
        )
        TEST_RUNS.insert(conn, run)
        TEST_BATCHES.insert_many(
            conn,
            (
                (
                    TestBatch(
                        test_run_id=run.id,
                        test_id=batch.test_id,
                        test_batch_type=batch.test_batch_type,
                        category=batch.category,
                        description=batch.description,
                        summary_counts=batch.summary_counts,
                        severity=batch.severity.value,
                        duration_millis=batch.duration_millis,
                    ),
                    {"position": position},
                )
                for position, batch in enumerate(result.batches)
            ),
        )
        TEST_CASES.insert_many(
            conn,
            (
                (TestCaseResult.from_dict(case.to_dict()), {"test_run_id": run.id, "position": i})
                for i, case in enumerate(result.test_cases)
            ),
        )
        return run

    def delete_bin_runs(self, conn: sqlite3.Connection, firewall_id: str, bin_start: int) -> None:
        """Delete the runs (with batches and cases) a firewall stored for one bin start."""
        key = (firewall_id, bin_start)
        old_runs = [
            (row["id"],)
            for row in conn.execute(
                "SELECT id FROM test_runs WHERE firewall_id = ? AND bin_start = ?", key
            )
        ]
        for table in (TEST_CASES, TEST_BATCHES):
            conn.executemany(f"DELETE FROM {table.name} WHERE test_run_id = ?", old_runs)
        conn.execute("DELETE FROM test_runs WHERE firewall_id = ? AND bin_start = ?", key)

    def get_run(self, test_run_id: str) -> TestRun:
        """The stored run ``test_run_id``.

        Raises:
            NotFoundError: No such run.
        """
        missing = f"test run {test_run_id!r} not found"
        return self._db.one(TEST_RUNS, "id = ?", (test_run_id,), missing)

    def stress_test_runs(self, project_id: str, token: str, size: int) -> Page[TestRun]:
        """One page of the project's stress test runs (not firewall bins), newest first."""
        where = "project_id = ? AND firewall_id = ''"
        order = "end_time DESC, id"
        return self._db.page(TEST_RUNS, where, (project_id,), order, token=token, size=size)

    def cases_page(self, test_run_id: str, token: str, size: int) -> Page[TestCaseResult]:
        """One page of the run's test cases, in result order.

        Raises:
            NotFoundError: No such run.
        """
        self.get_run(test_run_id)
        where, params = "test_run_id = ?", (test_run_id,)
        return self._db.page(TEST_CASES, where, params, "position", token=token, size=size)

    def all_cases(self, test_run_id: str) -> list[TestCaseResult]:
        """Every test case of the run, in result order.

        Raises:
            NotFoundError: No such run.
        """
        return self._of_run(TEST_CASES, test_run_id)

    def status_severity_counts(self, test_run_id: str) -> list[tuple[str, str, int]]:
        """``(status, severity, number of cases)`` of the run's cases (what gates are of)."""
        rows = self._db.query(
            "SELECT status, severity, COUNT(*) AS n FROM test_cases WHERE test_run_id = ?"
            " GROUP BY status, severity",
            (test_run_id,),
        )
        return [(str(row["status"]), str(row["severity"]), int(row["n"])) for row in rows]

    def batches(self, test_run_id: str) -> list[TestBatch]:
        """All test batches of the run, in result order.

        Raises:
            NotFoundError: No such run.
        """
        return self._of_run(TEST_BATCHES, test_run_id)

    def _of_run(self, table: Table[R], test_run_id: str) -> list[R]:
        self.get_run(test_run_id)
        return self._db.rows(table, "test_run_id = ?", (test_run_id,), "position")
