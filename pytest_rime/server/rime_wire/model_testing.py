"""rime ModelTesting: start, watch and list jobs and stream their logs, through the v1 servicer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Protocol

import grpc

from pytest_rime.proto.rime import model_testing_pb2, model_testing_pb2_grpc
from pytest_rime.proto.v1 import model_testing_pb2 as v1
from pytest_rime.server.limits import parse_json_object
from pytest_rime.server.rime_wire.convert import (
    config_json,
    copy_job_options,
    data_type_from_rime,
    job_statuses_from_rime,
    job_to_rime,
    job_types_from_rime,
)
from pytest_rime.server.servicers.context import Backend
from pytest_rime.server.servicers.model_testing import ModelTesting as V1ModelTesting
from pytest_rime.server.upload_urls import resolve_destinations


class _ConfigRequest(Protocol):
    """A rime request with a test run config (as bytes, or as a string when those are empty)."""

    @property
    def test_run_config(self) -> bytes: ...

    @property
    def test_run_config_json(self) -> str: ...


class ModelTesting(model_testing_pb2_grpc.ModelTestingServicer):
    """Stress tests and firewall jobs as the published client starts and polls them.

    Args:
        backend: The running server's parts.
    """

    def __init__(self, backend: Backend) -> None:
        self._data_dir = backend.settings.data_dir
        self._v1 = V1ModelTesting(backend)

    def _config(self, request: _ConfigRequest) -> str:
        """The request's config as JSON, with ``FileUpload`` destinations made upload refs.

        Raises:
            InvalidArgumentError: Not a UTF-8 JSON object, or a destination that is malformed,
                unknown or unfinished (the message names its key).
        """
        text = config_json(request.test_run_config, request.test_run_config_json)
        raw = parse_json_object(text, "test_run_config")
        return json.dumps(resolve_destinations(self._data_dir, raw, "test_run_config"))

    def StartStressTest(
        self, request: model_testing_pb2.StartStressTestRequest, context: grpc.ServicerContext
    ) -> model_testing_pb2.StartStressTestResponse:
        """Queue a stress test (INVALID_ARGUMENT for a bad config, NOT_FOUND project)."""
        v1_request = v1.StartStressTestRequest(
            test_run_config_json=self._config(request),
            project_id=request.project_id,
            data_type=data_type_from_rime(request.data_type),
        )
        copy_job_options(
            request,
            v1_request,
            request.testing_image if request.HasField("testing_image") else None,
            request.managed_image if request.HasField("managed_image") else None,
        )
        job = self._v1.StartStressTest(v1_request, context).job
        return model_testing_pb2.StartStressTestResponse(job=job_to_rime(job))

    def StartFirewallFromReference(
        self,
        request: model_testing_pb2.StartFirewallFromReferenceRequest,
        context: grpc.ServicerContext,
    ) -> model_testing_pb2.StartFirewallFromReferenceResponse:
        """Queue the stress test, the project's firewall on it and its bins as one job."""
        v1_request = v1.StartFirewallFromReferenceRequest(
            test_run_config_json=self._config(request),
            project_id=request.project_id,
            data_type=data_type_from_rime(request.data_type),
            disable_firewall_events=request.disable_firewall_events,
        )
        copy_job_options(request, v1_request)
        job = self._v1.StartFirewallFromReference(v1_request, context).job
        return model_testing_pb2.StartFirewallFromReferenceResponse(job=job_to_rime(job))

    def RunFirewallIncrementalData(
        self,
        request: model_testing_pb2.RunFirewallIncrementalDataRequest,
        context: grpc.ServicerContext,
    ) -> model_testing_pb2.RunFirewallIncrementalDataResponse:
        """Queue a firewall batch job on new data (NOT_FOUND for an unknown firewall)."""
        v1_request = v1.RunFirewallIncrementalDataRequest(
            firewall_id=request.firewall_id,
            test_run_config_json=self._config(request),
            disable_firewall_events=request.disable_firewall_events,
        )
        copy_job_options(request, v1_request)
        job = self._v1.RunFirewallIncrementalData(v1_request, context).job
        return model_testing_pb2.RunFirewallIncrementalDataResponse(job=job_to_rime(job))

    def GetTestJob(
        self, request: model_testing_pb2.GetTestJobRequest, context: grpc.ServicerContext
    ) -> model_testing_pb2.GetTestJobResponse:
        """One job (NOT_FOUND when there is no such job)."""
        job = self._v1.GetTestJob(v1.GetTestJobRequest(job_id=request.job_id), context).job
        return model_testing_pb2.GetTestJobResponse(job=job_to_rime(job))

    def ListTestJobs(
        self, request: model_testing_pb2.ListTestJobsRequest, context: grpc.ServicerContext
    ) -> model_testing_pb2.ListTestJobsResponse:
        """Every job within the TTL with one of the statuses and types, newest first.

        The rime request has no paging, so every page of the v1 listing is read.
        """
        v1_request = v1.ListTestJobsRequest(
            selected_statuses=job_statuses_from_rime(list(request.selected_statuses)),
            selected_types=job_types_from_rime(list(request.selected_types)),
            project_id=request.project_id,
        )
        jobs: list[v1.Job] = []
        while True:
            page = self._v1.ListTestJobs(v1_request, context)
            jobs.extend(page.jobs)
            if not page.next_page_token:
                break
            v1_request.page_token = page.next_page_token
        return model_testing_pb2.ListTestJobsResponse(jobs=[job_to_rime(j) for j in jobs])

    def GetLatestLogs(
        self, request: model_testing_pb2.GetLatestLogsRequest, context: grpc.ServicerContext
    ) -> Iterator[model_testing_pb2.GetLatestLogsResponse]:
        """Stream the job's whole log."""
        for chunk in self._v1.GetLatestLogs(
            v1.GetLatestLogsRequest(job_id=request.job_id), context
        ):
            yield model_testing_pb2.GetLatestLogsResponse(chunk=chunk.text)
