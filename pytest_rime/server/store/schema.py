"""The SQLite schema as it grew: migration scripts, applied in order when a store opens.

A data directory written by any earlier version opens: ``schema_version`` says how many of
these scripts ran. Never edit a released entry; append a new one. The record dataclasses
(:mod:`pytest_rime.server.records`) name the columns the code reads and writes
(:mod:`pytest_rime.server.store.rows`); tests check they match the tables built here.
"""

from __future__ import annotations

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
    """
    ALTER TABLE jobs ADD COLUMN worker_pid INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN worker_start_time INTEGER NOT NULL DEFAULT 0;
    """,
]
"""Schema migrations; entry ``i`` takes the schema from version ``i`` to ``i + 1``."""
