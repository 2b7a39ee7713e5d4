"""Firewalls: the ``firewalls``, ``firewall_bins`` and ``firewall_events`` tables.

A firewall's bins and events are replaced by bin start: storing a bin again deletes what the
firewall had stored for that start (its run with batches and cases, its bin row, its events).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from pytest_rime.engine.firewall import FirewallBin as EngineFirewallBin
from pytest_rime.engine.firewall import FirewallFromReferenceResult, FirewallRunResult
from pytest_rime.server.errors import AlreadyExistsError, NotFoundError
from pytest_rime.server.records import Firewall, FirewallBin, FirewallEvent, Job
from pytest_rime.server.store.db import Database, new_id
from pytest_rime.server.store.jobs import Jobs
from pytest_rime.server.store.results import Results
from pytest_rime.server.store.rows import Table

FIREWALLS = Table("firewalls", Firewall)
FIREWALL_BINS = Table("firewall_bins", FirewallBin)
FIREWALL_EVENTS = Table("firewall_events", FirewallEvent)


class Firewalls:
    """Create, read and update firewalls; store and list their bins and events."""

    def __init__(self, db: Database, jobs: Jobs, results: Results) -> None:
        self._db = db
        self._jobs = jobs
        self._results = results

    def create(
        self, name: str, project_id: str, bin_size_seconds: int, stress_test_run_id: str
    ) -> Firewall:
        """Create the firewall of project ``project_id``.

        Raises:
            AlreadyExistsError: The project already has a firewall.
        """
        with self._db.transaction() as conn:
            return self._insert(conn, name, project_id, bin_size_seconds, stress_test_run_id)

    def _insert(
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
        FIREWALLS.insert(conn, firewall)
        return firewall

    def save_run(
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
        job = self._jobs.get(job_id)
        with self._db.transaction() as conn:
            bins = [
                self._replace_bin(conn, job, firewall_id, outcome, start_time, end_time, config)
                for outcome in result.bins
            ]
            self._jobs.update_in(
                conn, job_id, firewall_id=firewall_id, end_time=end_time, **job_changes
            )
        return bins

    def save_from_reference(
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
        job = self._jobs.get(job_id)
        with self._db.transaction() as conn:
            run = self._results.insert_run(
                conn,
                job,
                result.stress_test,
                start_time=start_time,
                end_time=end_time,
                config=config,
            )
            firewall = self._insert(
                conn,
                result.stress_test.run_name,
                job.project_id,
                result.firewall.bin_size_seconds,
                run.id,
            )
            for outcome in result.firewall.bins:
                self._replace_bin(conn, job, firewall.id, outcome, start_time, end_time, config)
            self._jobs.update_in(
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
        self._results.delete_bin_runs(conn, *key)
        for table in (FIREWALL_BINS, FIREWALL_EVENTS):
            conn.execute(f"DELETE FROM {table.name} WHERE firewall_id = ? AND bin_start = ?", key)
        run = self._results.insert_run(
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
        FIREWALL_BINS.insert(conn, stored)
        FIREWALL_EVENTS.insert_many(
            conn,
            (
                (
                    FirewallEvent(
                        id=new_id(),
                        firewall_id=firewall_id,
                        bin_start=event.bin_start_secs,
                        bin_end=event.bin_end_secs,
                        metric=event.metric,
                        value=event.value,
                        threshold=event.threshold,
                        severity=event.severity.value,
                        description=event.description,
                        test_run_id=run.id,
                    ),
                    {},
                )
                for event in outcome.events
            ),
        )
        return stored

    def get(self, firewall_id: str) -> Firewall:
        """The firewall ``firewall_id``.

        Raises:
            NotFoundError: No such firewall.
        """
        missing = f"firewall {firewall_id!r} not found"
        return self._db.one(FIREWALLS, "id = ?", (firewall_id,), missing)

    def find_for_project(self, project_id: str) -> Firewall | None:
        """The firewall of project ``project_id``, ``None`` when it has none."""
        found = self._db.rows(FIREWALLS, "project_id = ?", (project_id,))
        return found[0] if found else None

    def get_for_project(self, project_id: str) -> Firewall:
        """The firewall of project ``project_id``.

        Raises:
            NotFoundError: The project has no firewall.
        """
        firewall = self.find_for_project(project_id)
        if firewall is None:
            raise NotFoundError(f"project {project_id!r} has no firewall")
        return firewall

    def update(self, firewall_id: str, stress_test_run_id: str) -> Firewall:
        """Point firewall ``firewall_id`` at another reference run.

        Raises:
            NotFoundError: No such firewall.
        """
        self.get(firewall_id)
        with self._db.transaction() as conn:
            FIREWALLS.update(conn, "id = ?", (firewall_id,), stress_test_run_id=stress_test_run_id)
        return self.get(firewall_id)

    def bins(self, firewall_id: str) -> list[FirewallBin]:
        """The stored bins of firewall ``firewall_id``, oldest first.

        Raises:
            NotFoundError: No such firewall.
        """
        self.get(firewall_id)
        return self._db.rows(FIREWALL_BINS, "firewall_id = ?", (firewall_id,), "bin_start")

    def events(self, firewall_id: str) -> list[FirewallEvent]:
        """The stored events of firewall ``firewall_id``, oldest bin first.

        Raises:
            NotFoundError: No such firewall.
        """
        self.get(firewall_id)
        order = "bin_start, rowid"
        return self._db.rows(FIREWALL_EVENTS, "firewall_id = ?", (firewall_id,), order)
