"""The SQLite store on a real database file: schema, jobs listing, results round trip."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_rime.engine.results import RunResult, Severity, Status, TestBatchResult, TestCaseResult
from pytest_rime.server.errors import InvalidArgumentError, NotFoundError
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
    project = store.create_project("p", "d")
    default = store.default_project_id
    store.close()
    reopened = Store(tmp_path / "rime.db")
    assert reopened.schema_version() == len(MIGRATIONS)
    assert reopened.default_project_id == default
    assert reopened.get_project(project.id) == project
    assert [p.name for p in reopened.list_projects("", 0).items] == ["default", "p"]
    with sqlite3.connect(tmp_path / "rime.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened.close()


def test_job_listing_filters_and_pages(tmp_path: Path) -> None:
    store = Store(tmp_path / "rime.db")
    other = store.create_project("other", "")
    jobs = [
        store.create_job(JobType.MODEL_STRESS_TEST, store.default_project_id, {"n": i})
        for i in range(5)
    ]
    store.create_job(JobType.IMAGE_BUILDER, other.id, {})
    store.update_job(jobs[1].id, status=JobStatus.FAILED)

    def listed(
        statuses: Sequence[JobStatus] = (),
        types: Sequence[JobType] = (),
        project_id: str = "",
        created_after: float = 0.0,
    ) -> list[str]:
        ids, token = [], ""
        while True:
            page = store.list_jobs(
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
    assert [j.id for j in store.jobs_with_status(JobStatus.PENDING)][:2] == [jobs[0].id, jobs[2].id]
    assert store.get_job(jobs[3].id).spec == {"n": 3}
    with pytest.raises(NotFoundError, match="job 'missing'"):
        store.get_job("missing")
    store.close()


def test_run_result_round_trips_through_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "rime.db")
    job = store.create_job(JobType.MODEL_STRESS_TEST, store.default_project_id, {})
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
    run = store.save_run_result(
        job.id, result, start_time=1.0, end_time=2.0, status=JobStatus.SUCCEEDED
    )
    assert store.get_job(job.id).test_run_id == run.id
    assert store.get_job(job.id).status == JobStatus.SUCCEEDED
    stored = store.get_test_run(run.id)
    assert stored.summary_counts == {"total": 2, "pass": 1, "warning": 0, "fail": 1, "skip": 0}
    assert stored.severity_counts == {"none": 1, "low": 0, "medium": 0, "high": 1}
    first = store.list_test_cases(run.id, "", 1)
    second = store.list_test_cases(run.id, first.next_page_token, 1)
    assert second.next_page_token == ""
    assert [*first.items, *second.items] == [TestCaseResult.from_dict(c.to_dict()) for c in cases]
    (batch,) = store.list_test_batches(run.id)
    assert (batch.severity, batch.summary_counts["fail"]) == ("HIGH", 1)
    store.close()


@pytest.mark.parametrize("token", ["%%%", "bm90IGpzb24=", encode_token(3)[:-4] + "AAAA"])
def test_foreign_page_tokens_are_invalid_arguments(token: str) -> None:
    with pytest.raises(InvalidArgumentError, match="page_token"):
        decode_token(token)


def test_page_tokens_round_trip() -> None:
    assert decode_token(encode_token(250)) == 250
    assert decode_token("") == 0
