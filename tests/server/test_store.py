"""The SQLite store on a real database file: schema, jobs listing, results round trip."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_rime.engine.firewall import (
    BinSummary,
    FirewallBin,
    FirewallFromReferenceResult,
    FirewallRunResult,
)
from pytest_rime.engine.monitoring import FirewallEvent
from pytest_rime.engine.results import RunResult, Severity, Status, TestBatchResult, TestCaseResult
from pytest_rime.server.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from pytest_rime.server.pagination import decode_token, encode_token
from pytest_rime.server.records import JobStatus, JobType
from pytest_rime.server.store import MIGRATIONS, Store


def _case(test_id: str, feature: str, status: Status, severity: Severity) -> TestCaseResult:
    return TestCaseResult(
        test_id=test_id,
        test_batch_type=test_id.title(),
        category="Drift",
        features=(feature,),
        status=status,
        severity=severity,
        importance_score=0.5,
        metrics={"psi": 0.3, "nan": float("nan")},
        description=f"{feature} drifted",
    )


def test_schema_is_versioned_and_reopening_keeps_data(tmp_path: Path) -> None:
    store = Store(tmp_path / "rime.db")
    assert store.schema_version() == len(MIGRATIONS)
    project = store.projects.create("p", "d")
    default = store.default_project_id
    store.close()
    reopened = Store(tmp_path / "rime.db")
    assert reopened.schema_version() == len(MIGRATIONS)
    assert reopened.default_project_id == default
    assert reopened.projects.get(project.id) == project
    assert [p.name for p in reopened.projects.page("", 0).items] == ["default", "p"]
    with sqlite3.connect(tmp_path / "rime.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened.close()


def test_job_listing_filters_and_pages(tmp_path: Path) -> None:
    store = Store(tmp_path / "rime.db")
    other = store.projects.create("other", "")
    jobs = [
        store.jobs.create(JobType.MODEL_STRESS_TEST, store.default_project_id, {"n": i})
        for i in range(5)
    ]
    store.jobs.create(JobType.IMAGE_BUILDER, other.id, {})
    store.jobs.update(jobs[1].id, status=JobStatus.FAILED)

    def listed(
        statuses: Sequence[JobStatus] = (),
        types: Sequence[JobType] = (),
        project_id: str = "",
        created_after: float = 0.0,
    ) -> list[str]:
        ids, token = [], ""
        while True:
            page = store.jobs.page(
                statuses=statuses,
                types=types,
                project_id=project_id,
                created_after=created_after,
                token=token,
                size=2,
            )
            ids += [j.id for j in page.items]
            token = page.next_page_token
            if not token:
                return ids

    newest_first = [j.id for j in reversed(jobs)]
    assert listed(types=[JobType.MODEL_STRESS_TEST]) == newest_first
    assert listed(statuses=[JobStatus.FAILED]) == [jobs[1].id]
    assert len(listed(project_id=other.id)) == 1
    assert listed(created_after=time.time() + 60) == []
    assert [j.id for j in store.jobs.with_status(JobStatus.PENDING)][:2] == [jobs[0].id, jobs[2].id]
    assert store.jobs.get(jobs[3].id).spec == {"n": 3}
    with pytest.raises(NotFoundError, match="job 'missing'"):
        store.jobs.get("missing")
    store.close()


def test_run_result_round_trips_through_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "rime.db")
    job = store.jobs.create(JobType.MODEL_STRESS_TEST, store.default_project_id, {})
    cases = (
        _case("drift.a", "age", Status.FAIL, Severity.HIGH),
        _case("drift.a", "city", Status.PASS, Severity.NONE),
    )
    result = RunResult(
        run_name="r",
        model_task="Regression",
        data_type="tabular",
        num_inputs=10,
        num_failing_inputs=2,
        duration_millis=5,
        batches=(TestBatchResult("drift.a", "Drift A", "Drift", "d", 3, cases),),
    )
    run = store.results.save_run(
        job.id, result, start_time=1.0, end_time=2.0, status=JobStatus.SUCCEEDED
    )
    assert store.jobs.get(job.id).test_run_id == run.id
    assert store.jobs.get(job.id).status == JobStatus.SUCCEEDED
    stored = store.results.get_run(run.id)
    assert stored.summary_counts == {
        "total": 2,
        "pass": 1,
        "warning": 0,
        "fail": 1,
        "skip": 0,
        "error": 0,
    }
    assert stored.severity_counts == {"none": 1, "low": 0, "medium": 0, "high": 1}
    first = store.results.cases_page(run.id, "", 1)
    second = store.results.cases_page(run.id, first.next_page_token, 1)
    assert second.next_page_token == ""
    assert [*first.items, *second.items] == [TestCaseResult.from_dict(c.to_dict()) for c in cases]
    (batch,) = store.results.batches(run.id)
    assert (batch.severity, batch.summary_counts["fail"]) == ("HIGH", 1)
    store.close()


@pytest.mark.parametrize("token", ["%%%", "bm90IGpzb24=", encode_token(3)[:-4] + "AAAA"])
def test_foreign_page_tokens_are_invalid_arguments(token: str) -> None:
    with pytest.raises(InvalidArgumentError, match="page_token"):
        decode_token(token)


def test_page_tokens_round_trip() -> None:
    assert decode_token(encode_token(250)) == 250
    assert decode_token("") == 0


def _bin(day: int, events: Sequence[str], rows: int = 10) -> FirewallBin:
    start = 1_714_521_600 + day * 86400
    result = RunResult(
        run_name=f"fw day {day}",
        model_task="Regression",
        data_type="tabular",
        num_inputs=rows,
        num_failing_inputs=0,
        duration_millis=1,
        batches=(
            TestBatchResult(
                "drift.a",
                "Drift A",
                "Drift",
                "d",
                1,
                (_case("drift.a", "age", Status.PASS, Severity.NONE),),
            ),
        ),
    )
    summary = BinSummary(
        bin_start_secs=start,
        bin_end_secs=start + 86400,
        label=f"day {day}",
        num_rows=rows,
        metrics={"abnormality_rate": 0.5, "model_perf.MAE": None},
        drifting_features=(),
        severity=Severity.HIGH if events else Severity.NONE,
        summary_counts=result.summary_counts,
    )
    return FirewallBin(
        summary,
        tuple(
            FirewallEvent(start, start + 86400, metric, 0.5, 0.2, Severity.HIGH, f"{metric} high")
            for metric in events
        ),
        result,
    )


def _firewall_run(*bins: FirewallBin) -> FirewallRunResult:
    return FirewallRunResult(
        run_name="fw",
        eval_path="eval.csv",
        timestamp_col="ts",
        bin_size_seconds=86400,
        num_rows=sum(b.summary.num_rows for b in bins),
        num_unparsed_rows=0,
        unparsed_examples=(),
        events_enabled=True,
        thresholds={},
        bins=bins,
    )


def test_firewall_bins_are_replaced_by_bin_start_in_one_transaction(tmp_path: Path) -> None:
    store = Store(tmp_path / "rime.db")
    project = store.default_project_id
    first = store.jobs.create(JobType.FIREWALL_BATCH_TEST, project, {})
    firewall = store.firewalls.create("fw", project, 86400, "reference")
    store.firewalls.save_run(
        first.id,
        firewall.id,
        _firewall_run(_bin(0, ["abnormality_rate"]), _bin(1, ["abnormality_rate", "x"])),
        start_time=1.0,
        end_time=2.0,
        config={"run_name": "fw"},
        status=JobStatus.SUCCEEDED,
    )
    old = {b.bin_start: b for b in store.firewalls.bins(firewall.id)}
    second = store.jobs.create(JobType.FIREWALL_BATCH_TEST, project, {})
    store.firewalls.save_run(
        second.id, firewall.id, _firewall_run(_bin(1, [], rows=7)), start_time=3.0, end_time=4.0
    )

    bins = store.firewalls.bins(firewall.id)
    assert [b.bin_start for b in bins] == sorted(old)
    kept, replaced = bins
    assert kept == old[kept.bin_start]
    assert (replaced.num_rows, replaced.severity, replaced.job_id) == (7, "NONE", second.id)
    assert replaced.metrics == {"abnormality_rate": 0.5, "model_perf.MAE": None}
    with pytest.raises(NotFoundError):
        store.results.get_run(old[replaced.bin_start].test_run_id)
    assert store.results.batches(replaced.test_run_id)[0].test_id == "drift.a"
    events = store.firewalls.events(firewall.id)
    assert [(e.bin_start, e.metric) for e in events] == [(kept.bin_start, "abnormality_rate")]
    assert events[0].test_run_id == kept.test_run_id
    run = store.results.get_run(kept.test_run_id)
    assert (run.firewall_id, run.bin_start, run.config) == (
        firewall.id,
        kept.bin_start,
        {"run_name": "fw"},
    )
    assert store.jobs.get(second.id).firewall_id == firewall.id
    with sqlite3.connect(tmp_path / "rime.db") as conn:
        runs = conn.execute("SELECT COUNT(*) FROM test_runs").fetchone()[0]
        orphans = conn.execute(
            "SELECT COUNT(*) FROM test_cases WHERE test_run_id NOT IN (SELECT id FROM test_runs)"
        ).fetchone()[0]
    assert (runs, orphans) == (2, 0)
    store.close()


def test_from_reference_result_is_stored_whole_or_not_at_all(tmp_path: Path) -> None:
    store = Store(tmp_path / "rime.db")
    project = store.projects.create("p", "")
    job = store.jobs.create(JobType.FIREWALL_TEST_FROM_REFERENCE, project.id, {})
    outcome = FirewallFromReferenceResult(_bin(0, []).result, _firewall_run(_bin(0, ["m"])))
    firewall = store.firewalls.save_from_reference(
        job.id, outcome, start_time=1.0, end_time=2.0, config={"a": 1}
    )
    stored = store.jobs.get(job.id)
    assert (stored.firewall_id, stored.test_run_id) == (firewall.id, firewall.stress_test_run_id)
    assert store.results.get_run(firewall.stress_test_run_id).config == {"a": 1}
    assert store.firewalls.get_for_project(project.id) == firewall

    again = store.jobs.create(JobType.FIREWALL_TEST_FROM_REFERENCE, project.id, {})
    with pytest.raises(AlreadyExistsError, match=firewall.id):
        store.firewalls.save_from_reference(
            again.id, outcome, start_time=1.0, end_time=2.0, config={}
        )
    with sqlite3.connect(tmp_path / "rime.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM test_runs").fetchone()[0] == 2
    assert store.jobs.get(again.id).test_run_id == ""
    store.close()


def test_a_version_1_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "rime.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.execute(
            "INSERT INTO test_runs VALUES ('old', 'p', 'j', 'r', 'Regression', 'tabular', 1, 2, "
            "3, 0, 1, '{}', '{}', '[]', '{}', '', 0, 0)"
        )
    store = Store(path)
    assert store.schema_version() == len(MIGRATIONS)
    assert store.results.get_run("old").config == {}
    store.close()
