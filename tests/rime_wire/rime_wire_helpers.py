"""Helpers for the rime wire tests: stubs of our ``rime`` protos, starting and awaiting jobs."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import grpc

from pytest_rime.proto.rime import (
    firewall_pb2_grpc,
    image_registry_pb2_grpc,
    jobs_pb2,
    model_testing_pb2,
    model_testing_pb2_grpc,
    project_pb2_grpc,
    test_run_results_pb2,
    test_run_results_pb2_grpc,
    test_run_tracker_pb2,
    test_run_tracker_pb2_grpc,
)

FINISHED = (jobs_pb2.JOB_STATUS_SUCCEEDED, jobs_pb2.JOB_STATUS_FAILED)


@dataclass(frozen=True)
class RimeStubs:
    """A stub of every rime service on one channel."""

    projects: project_pb2_grpc.ProjectManagerStub
    jobs: model_testing_pb2_grpc.ModelTestingStub
    tracker: test_run_tracker_pb2_grpc.TestRunTrackerStub
    results: test_run_results_pb2_grpc.ResultsReaderStub
    images: image_registry_pb2_grpc.ImageRegistryStub
    firewalls: firewall_pb2_grpc.FirewallServiceStub

    @classmethod
    def on(cls, channel: grpc.Channel) -> RimeStubs:
        return cls(
            project_pb2_grpc.ProjectManagerStub(channel),
            model_testing_pb2_grpc.ModelTestingStub(channel),
            test_run_tracker_pb2_grpc.TestRunTrackerStub(channel),
            test_run_results_pb2_grpc.ResultsReaderStub(channel),
            image_registry_pb2_grpc.ImageRegistryStub(channel),
            firewall_pb2_grpc.FirewallServiceStub(channel),
        )

    def start_stress_test(self, config: dict[str, Any], **fields: Any) -> jobs_pb2.JobMetadata:
        """Start a stress test the way the published client does (config as JSON bytes)."""
        request = model_testing_pb2.StartStressTestRequest(
            test_run_config=json.dumps(config).encode(), **fields
        )
        return self.jobs.StartStressTest(request).job

    def wait(self, job_id: str, timeout: float = 120.0) -> jobs_pb2.JobMetadata:
        """Poll GetTestJob until the job is SUCCEEDED or FAILED; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        tick = threading.Event()
        while True:
            job = self.jobs.GetTestJob(model_testing_pb2.GetTestJobRequest(job_id=job_id)).job
            if job.status in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job.status} after {timeout}s")
            tick.wait(0.05)

    def test_run_id(self, job_id: str) -> str:
        """The run of a finished job, as the published client finds it."""
        state = self.tracker.GetOperationState(
            test_run_tracker_pb2.GetOperationStateRequest(job_id=job_id)
        )
        return state.test_suite_state.test_suite_id

    def all_test_cases(self, test_run_id: str, page_size: int = 20) -> list[Any]:
        """Every test case of a run, paged like the published client pages them."""
        cases: list[Any] = []
        token = ""
        while True:
            page = self.results.ListTestCases(
                test_run_results_pb2.ListTestCasesRequest(
                    test_run_id=test_run_id, page_token=token, page_size=page_size
                )
            )
            cases.extend(page.test_cases)
            token = page.next_page_token
            if not token:
                return cases


def code_of(call: Any) -> grpc.StatusCode:
    """The status code a call fails with (fails the test when it succeeds)."""
    try:
        call()
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    raise AssertionError("the call succeeded")
