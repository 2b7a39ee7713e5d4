"""The dataclass <-> row mapper of the store, and old data directories read by the new store.

Every table's columns come from its record's ``dataclasses.fields()``; these tests check them
against the tables the migrations build, round-trip one record of each type through a real
SQLite file, and open a database written the way the single-module store wrote it.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_rime.engine.results import Severity, Status, TestCaseResult
from pytest_rime.server.records import (
    Firewall,
    FirewallBin,
    FirewallEvent,
    Image,
    ImageStatus,
    Job,
    JobStatus,
    JobType,
    PipLibrary,
    PipRequirement,
    Project,
    TerminationReason,
    TestBatch,
    TestRun,
)
from pytest_rime.server.store import MIGRATIONS, Store
from pytest_rime.server.store.db import Database
from pytest_rime.server.store.firewalls import FIREWALL_BINS, FIREWALL_EVENTS, FIREWALLS
from pytest_rime.server.store.images import IMAGES
from pytest_rime.server.store.jobs import JOBS
from pytest_rime.server.store.projects import PROJECTS
from pytest_rime.server.store.results import TEST_BATCHES, TEST_CASES, TEST_RUNS
from pytest_rime.server.store.rows import Table

JOB = Job(
    id="job-1",
    type=JobType.FIREWALL_BATCH_TEST,
    status=JobStatus.FAILED,
    project_id="project-1",
    create_time=1.5,
    spec={"config": {"run_name": "r"}, "limits": [1, 2]},
    start_time=2.5,
    end_time=None,
    termination_reason=TerminationReason.OOMKILLED,
    progress="3 / 4 bins completed",
    test_run_id="run-1",
    firewall_id="firewall-1",
    image_name="env",
    error_message="out of memory",
)
RUN = TestRun(
    id="run-1",
    project_id="project-1",
    job_id="job-1",
    run_name="nightly",
    model_task="Regression",
    data_type="tabular",
    start_time=1.0,
    end_time=2.0,
    num_inputs=10,
    num_failing_inputs=3,
    duration_millis=7,
    summary_counts={"total": 1, "fail": 1},
    severity_counts={"high": 1},
    model_perf=[{"name": "MAE", "ref_metric": 0.5, "eval_metric": None}],
    metadata={"source": "test"},
    firewall_id="firewall-1",
    bin_start=86400,
    bin_end=172800,
    config={"data_info": {"ref_path": "rime://uploads/x/ref.csv"}},
)
CASE = TestCaseResult(
    test_id="drift.a",
    test_batch_type="Drift A",
    category="Drift",
    features=("age", "city"),
    status=Status.FAIL,
    severity=Severity.HIGH,
    importance_score=0.75,
    metrics={"psi": 0.3, "missing": None},
    description="age drifted",
)

RECORDS: list[tuple[Table[Any], Any, dict[str, Any]]] = [
    (PROJECTS, Project("project-1", "p", "d", 1.25), {"is_default": 0}),
    (JOBS, JOB, {}),
    (
        IMAGES,
        Image(
            name="env",
            requirements=(PipRequirement("numpy", ">=1"), PipRequirement("six")),
            status=ImageStatus.READY,
            job_id="job-1",
            create_time=3.0,
            pip_libraries=(PipLibrary("numpy", "2.0.0"), PipLibrary("six", "1.16.0")),
        ),
        {},
    ),
    (FIREWALLS, Firewall("firewall-1", "fw", "project-1", 3600, "run-1", 4.0), {}),
    (
        FIREWALL_BINS,
        FirewallBin("firewall-1", 86400, 172800, "run-1", 5, {"m": 0.5, "x": None}, "HIGH", "j"),
        {},
    ),
    (
        FIREWALL_EVENTS,
        FirewallEvent("e", "firewall-1", 86400, 172800, "m", 0.5, 0.2, "HIGH", "m high", "run-1"),
        {},
    ),
    (TEST_RUNS, RUN, {}),
    (
        TEST_BATCHES,
        TestBatch("run-1", "drift.a", "Drift A", "Drift", "d", {"fail": 1}, "HIGH", 3),
        {"position": 0},
    ),
    (TEST_CASES, CASE, {"test_run_id": "run-1", "position": 0}),
]
IDS = [table.name for table, _, _ in RECORDS]


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "rime.db", MIGRATIONS)


def table_columns(db: Database, name: str) -> set[str]:
    return {row["name"] for row in db.query(f"PRAGMA table_info({name})")}


@pytest.mark.parametrize(("table", "record", "extra"), RECORDS, ids=IDS)
def test_each_record_round_trips_through_its_table(
    db: Database, table: Table[Any], record: Any, extra: dict[str, Any]
) -> None:
    with db.transaction() as conn:
        table.insert(conn, record, **extra)
    (stored,) = db.rows(table)
    assert stored == record
    assert type(stored) is type(record)
    for field in dataclasses.fields(record):
        assert type(getattr(stored, field.name)) is type(getattr(record, field.name))


@pytest.mark.parametrize(("table", "record", "extra"), RECORDS, ids=IDS)
def test_columns_are_the_record_fields_and_match_the_migrated_schema(
    db: Database, table: Table[Any], record: Any, extra: dict[str, Any]
) -> None:
    fields = [f.name for f in dataclasses.fields(record)]
    assert [c.field for c in table.columns] == fields
    assert all(c.name in (c.field, f"{c.field}_json") for c in table.columns)
    in_database = table_columns(db, table.name)
    assert {*table.extra, *table.column_names} == in_database - {"seq"}
    insert = table.insert_sql()
    columns = ", ".join((*table.extra, *table.column_names))
    assert insert == (
        f"INSERT INTO {table.name} ({columns}) "
        f"VALUES ({', '.join(['?'] * (len(table.extra) + len(fields)))})"
    )


def test_json_columns_hold_plain_json(db: Database) -> None:
    with db.transaction() as conn:
        IMAGES.insert(conn, RECORDS[2][1])
        TEST_CASES.insert(conn, CASE, test_run_id="run-1", position=0)
    (image,) = db.query("SELECT requirements_json, pip_libraries_json, status FROM images")
    assert json.loads(image["requirements_json"]) == [
        {"name": "numpy", "version_specifier": ">=1"},
        {"name": "six", "version_specifier": ""},
    ]
    assert image["status"] == "READY"
    (case,) = db.query("SELECT features_json, metrics_json, status FROM test_cases")
    assert (json.loads(case["features_json"]), case["status"]) == (["age", "city"], "FAIL")


def test_update_encodes_like_insert(db: Database) -> None:
    with db.transaction() as conn:
        JOBS.insert(conn, JOB)
        changed = JOBS.update(
            conn, "id = ?", (JOB.id,), status=JobStatus.SUCCEEDED, spec={"a": 1}, end_time=9.0
        )
    assert changed == 1
    assert db.rows(JOBS) == [
        dataclasses.replace(JOB, status=JobStatus.SUCCEEDED, spec={"a": 1}, end_time=9.0)
    ]


def test_a_table_refuses_what_it_cannot_map() -> None:
    @dataclass(frozen=True)
    class Odd:
        when: bytes

    with pytest.raises(TypeError, match="no column codec"):
        Table("odd", Odd)
    with pytest.raises(ValueError, match="nope"):
        Table("jobs", Job, codecs={"nope": Table("jobs", Job).columns[0].codec})
    with pytest.raises(ValueError, match="extra columns"):
        PROJECTS.values(Project("p", "n", "d", 0.0))


OLD_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (2);
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
ALTER TABLE test_runs ADD COLUMN config_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE firewall_bins ADD COLUMN job_id TEXT NOT NULL DEFAULT '';
CREATE INDEX test_runs_bins ON test_runs (firewall_id, bin_start);
CREATE INDEX firewall_events_bins ON firewall_events (firewall_id, bin_start);
"""
"""The schema (version 2) as the single-module store created it, frozen here on purpose."""


def write_old_data_dir(path: Path) -> None:
    """A database the way the single-module store wrote it: its DDL and positional INSERTs."""
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.execute("INSERT INTO projects VALUES ('default-id', 'default', 'Created.', 0.5, 1)")
        conn.execute("INSERT INTO projects VALUES ('project-1', 'p', 'd', 1.25, 0)")
        conn.execute(
            "INSERT INTO jobs (id, type, status, project_id, create_time, start_time, end_time, "
            "termination_reason, progress, test_run_id, firewall_id, image_name, error_message, "
            "spec_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "job-1",
                "FIREWALL_BATCH_TEST",
                "FAILED",
                "project-1",
                1.5,
                2.5,
                None,
                "OOMKILLED",
                "3 / 4 bins completed",
                "run-1",
                "firewall-1",
                "env",
                "out of memory",
                json.dumps(JOB.spec),
            ),
        )
        conn.execute(
            "INSERT INTO images VALUES (?, ?, ?, ?, ?, ?)",
            (
                "env",
                '[{"name": "numpy", "version_specifier": ">=1"}]',
                '[{"name": "numpy", "version": "2.0.0"}]',
                "READY",
                "job-1",
                3.0,
            ),
        )
        conn.execute(
            "INSERT INTO firewalls VALUES ('firewall-1', 'fw', 'project-1', 3600, 'run-1', 4.0)"
        )
        conn.execute(
            "INSERT INTO firewall_bins (firewall_id, bin_start, bin_end, test_run_id, num_rows, "
            "metrics_json, severity, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ("firewall-1", 86400, 172800, "run-1", 5, '{"m": 0.5}', "HIGH", "job-1"),
        )
        conn.execute(
            "INSERT INTO firewall_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("e", "firewall-1", 86400, 172800, "m", 0.5, 0.2, "HIGH", "m high", "run-1"),
        )
        conn.execute(
            "INSERT INTO test_runs (id, project_id, job_id, run_name, model_task, data_type, "
            "start_time, end_time, num_inputs, num_failing_inputs, duration_millis, "
            "summary_counts_json, severity_counts_json, model_perf_json, metadata_json, "
            "firewall_id, bin_start, bin_end, config_json) "
            f"VALUES ({', '.join('?' * 19)})",
            (
                "run-1",
                "project-1",
                "job-1",
                "nightly",
                "Regression",
                "tabular",
                1.0,
                2.0,
                10,
                3,
                7,
                json.dumps(RUN.summary_counts),
                json.dumps(RUN.severity_counts),
                json.dumps(RUN.model_perf),
                json.dumps(RUN.metadata),
                "firewall-1",
                86400,
                172800,
                json.dumps(RUN.config),
            ),
        )
        conn.execute(
            "INSERT INTO test_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("run-1", 0, "drift.a", "Drift A", "Drift", "d", '{"fail": 1}', "HIGH", 3),
        )
        conn.execute(
            "INSERT INTO test_cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "run-1",
                0,
                "drift.a",
                "Drift A",
                "Drift",
                '["age", "city"]',
                "FAIL",
                "HIGH",
                0.75,
                '{"psi": 0.3, "missing": null}',
                "age drifted",
            ),
        )


def test_a_data_directory_of_the_old_store_opens_and_reads(tmp_path: Path) -> None:
    path = tmp_path / "rime.db"
    write_old_data_dir(path)
    store = Store(path)
    assert store.schema_version() == len(MIGRATIONS)
    assert store.default_project_id == "default-id"
    assert store.projects.get("project-1") == Project("project-1", "p", "d", 1.25)
    assert [p.id for p in store.projects.page("", 0).items] == ["default-id", "project-1"]
    assert store.jobs.get("job-1") == JOB
    assert store.images.get("env") == Image(
        name="env",
        requirements=(PipRequirement("numpy", ">=1"),),
        status=ImageStatus.READY,
        job_id="job-1",
        create_time=3.0,
        pip_libraries=(PipLibrary("numpy", "2.0.0"),),
    )
    assert store.firewalls.get_for_project("project-1") == RECORDS[3][1]
    assert store.firewalls.bins("firewall-1") == [
        FirewallBin("firewall-1", 86400, 172800, "run-1", 5, {"m": 0.5}, "HIGH", "job-1")
    ]
    assert store.firewalls.events("firewall-1") == [RECORDS[5][1]]
    assert store.results.get_run("run-1") == RUN
    assert store.results.batches("run-1") == [RECORDS[7][1]]
    assert store.results.all_cases("run-1") == [CASE]

    # and the new code writes to it what the old code reads back positionally
    job = store.jobs.create(JobType.MODEL_STRESS_TEST, "project-1", {"n": 1})
    store.jobs.update(job.id, status=JobStatus.RUNNING)
    store.close()
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job.id,)).fetchone()
    assert row[1:5] == (job.id, "MODEL_STRESS_TEST", "RUNNING", "project-1")
    assert json.loads(row[14]) == {"n": 1}  # spec_json keeps its version-2 position
    assert row[15:] == (0, 0)  # worker_pid, worker_start_time: added at the end
