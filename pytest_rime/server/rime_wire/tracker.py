"""rime TestRunTracker: a job's progress as test batch states.

A finished run's batches are the stored ones, all COMPLETED; while a job runs, the worker's
``progress.json`` (``done`` of ``total`` test batches) gives the states.
"""

from __future__ import annotations

import json

import grpc

from pytest_rime.proto.rime import test_run_tracker_pb2, test_run_tracker_pb2_grpc
from pytest_rime.server.records import Job, JobStatus
from pytest_rime.server.servicers.context import Backend

_State = test_run_tracker_pb2.GetOperationStateResponse
_COMPLETED = test_run_tracker_pb2.OPERATION_STATUS_COMPLETED


def _operation_status(status: JobStatus) -> test_run_tracker_pb2.OperationStatus.ValueType:
    if status is JobStatus.PENDING:
        return test_run_tracker_pb2.OPERATION_STATUS_PENDING
    if status is JobStatus.RUNNING:
        return test_run_tracker_pb2.OPERATION_STATUS_RUNNING
    return _COMPLETED


class TestRunTracker(test_run_tracker_pb2_grpc.TestRunTrackerServicer):
    """Where a job is: its state, its run's id and its test batches' states.

    Args:
        backend: The running server's parts.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def _batch_states(self, job: Job) -> list[_State.TestBatchState]:
        if job.test_run_id:
            return [
                _State.TestBatchState(test_batch_id=batch.test_id, operation_status=_COMPLETED)
                for batch in self._backend.store.results.batches(job.test_run_id)
            ]
        if job.status is not JobStatus.RUNNING:
            return []
        try:
            progress = json.loads(
                (self._backend.jobs.job_dir(job.id) / "progress.json").read_text()
            )
            done, total = int(progress["done"]), int(progress["total"])
        except (OSError, ValueError, KeyError, TypeError):
            return []
        return [
            _State.TestBatchState(
                test_batch_id=str(i),
                operation_status=(
                    _COMPLETED if i < done else test_run_tracker_pb2.OPERATION_STATUS_PENDING
                ),
            )
            for i in range(total)
        ]

    def GetOperationState(
        self,
        request: test_run_tracker_pb2.GetOperationStateRequest,
        context: grpc.ServicerContext,
    ) -> test_run_tracker_pb2.GetOperationStateResponse:
        """The job's state; ``test_suite_id`` is its run's id once stored (NOT_FOUND job)."""
        job = self._backend.store.jobs.get(request.job_id)
        status = _operation_status(job.status)
        return _State(
            job_state=_State.JobState(operation_status=status),
            test_suite_state=_State.TestSuiteState(
                test_suite_id=job.test_run_id,
                operation_status=status,
                test_batch_states=self._batch_states(job),
            ),
        )
