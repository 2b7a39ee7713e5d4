"""rime ResultsReader: a stored run's summary and its test cases as the published client reads them.

The summary comes from the stored run (its config names the data and the model); the test cases
from the v1 servicer, so they are the ones our SDK reads, with the rime status and severity
names (an ERROR case FAILs: :mod:`~pytest_rime.server.rime_wire.convert`).
"""

from __future__ import annotations

from typing import Any

import grpc

from pytest_rime.proto.rime import (
    results_upload_pb2,
    test_run_results_pb2,
    test_run_results_pb2_grpc,
)
from pytest_rime.proto.rime.project_pb2 import SafeURL
from pytest_rime.proto.v1 import results_pb2 as v1
from pytest_rime.server.errors import NotFoundError
from pytest_rime.server.records import TestRun
from pytest_rime.server.rime_wire.convert import (
    data_type_to_rime,
    page_size,
    severity_to_rime,
    test_case_status_to_rime,
    timestamp,
)
from pytest_rime.server.servicers.context import Backend
from pytest_rime.server.servicers.results import ResultsReader as V1ResultsReader
from pytest_rime.vocabulary import (
    BINARY,
    IMAGE_CLASSIFICATION,
    MULTICLASS,
    REGRESSION,
    TEXT_CLASSIFICATION,
)

_RunPb = test_run_results_pb2.TestRun
_MODEL_TASKS = {
    BINARY: results_upload_pb2.BINARY_CLASSIFICATION,
    MULTICLASS: results_upload_pb2.MULTICLASS_CLASSIFICATION,
    REGRESSION: results_upload_pb2.REGRESSION,
    TEXT_CLASSIFICATION: results_upload_pb2.TEXT_CLASSIFICATION,
    IMAGE_CLASSIFICATION: results_upload_pb2.IMAGE_CLASSIFICATION,
}


def _data_sources(run: TestRun) -> _RunPb.DataSourceInfo:
    data_info: dict[str, Any] = run.config.get("data_info") or {}
    features = list(run.metadata.get("feature_types") or {})

    def source(key: str) -> _RunPb.DataSourceInfo.DataSource:
        path = data_info.get(key)
        name = str(path) if path else ""
        return _RunPb.DataSourceInfo.DataSource(id=name, name=name, features=features)

    return _RunPb.DataSourceInfo(ref=source("ref_path"), eval=source("eval_path"))


def _metrics(run: TestRun) -> _RunPb.Metrics:
    counts = run.summary_counts
    metrics = _RunPb.Metrics(
        num_inputs=run.num_inputs,
        num_failing_inputs=run.num_failing_inputs,
        duration_millis=float(run.duration_millis),
        severity_counts=_RunPb.Metrics.SeverityCounts(**run.severity_counts),
        summary_counts=test_run_results_pb2.ResultSummaryCounts(
            total=counts.get("total", 0),
            warning=counts.get("warning", 0),
            fail=counts.get("fail", 0) + counts.get("error", 0),
            skip=counts.get("skip", 0),
            **{"pass": counts.get("pass", 0)},
        ),
    )
    for perf in run.model_perf:
        metric = metrics.model_perf[str(perf["name"])]
        if perf.get("ref_metric") is not None:
            metric.ref_metric = float(perf["ref_metric"])
        if perf.get("eval_metric") is not None:
            metric.eval_metric = float(perf["eval_metric"])
    return metrics


class ResultsReader(test_run_results_pb2_grpc.ResultsReaderServicer):
    """Read finished runs.

    Args:
        backend: The running server's parts.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._v1 = V1ResultsReader(backend)

    def _run_to_rime(self, run: TestRun) -> test_run_results_pb2.TestRun:
        metadata = _RunPb.Metadata(
            id=run.id,
            name=run.run_name,
            job_id=run.job_id,
            project_id=run.project_id,
            testing_type=(
                results_upload_pb2.CONTINUOUS_TESTING
                if run.firewall_id
                else results_upload_pb2.STRESS_TESTING
            ),
            data_type=data_type_to_rime(run.data_type),
            upload_time=timestamp(run.end_time),
            web_app_url=SafeURL(
                url=f"{self._backend.web_base_url}/projects/{run.project_id}/test-runs/{run.id}"
            ),
        )
        if run.model_task in _MODEL_TASKS:
            metadata.model_task = _MODEL_TASKS[run.model_task]
        message = _RunPb(
            metadata=metadata, data_source_info=_data_sources(run), metrics=_metrics(run)
        )
        model_source = run.metadata.get("model_source")
        if model_source:
            message.model_source_info.name = str(model_source)
            message.model_source_info.id = str(model_source)
        return message

    def GetTestRun(
        self, request: test_run_results_pb2.GetTestRunRequest, context: grpc.ServicerContext
    ) -> test_run_results_pb2.GetTestRunResponse:
        """The run's summary (NOT_FOUND when there is no such run); the read mask is ignored."""
        run = self._backend.store.results.get_run(request.test_run_id)
        return test_run_results_pb2.GetTestRunResponse(test_run=self._run_to_rime(run))

    def ListTestCases(
        self, request: test_run_results_pb2.ListTestCasesRequest, context: grpc.ServicerContext
    ) -> test_run_results_pb2.ListTestCasesResponse:
        """One page of the run's test cases, in the order our SDK reads them.

        A run without test cases answers NOT_FOUND: the published client ends its paging loop
        on NOT_FOUND or on a last page with cases, and would ask again forever otherwise.
        """
        page = self._v1.ListTestCases(
            v1.ListTestCasesRequest(
                test_run_id=request.test_run_id,
                page_token=request.page_token,
                page_size=page_size(request.page_size),
            ),
            context,
        )
        if not page.test_cases and not request.page_token:
            raise NotFoundError(f"test run {request.test_run_id!r} has no test cases")
        return test_run_results_pb2.ListTestCasesResponse(
            test_cases=[
                test_run_results_pb2.TestCase(
                    test_run_id=case.test_run_id,
                    features=list(case.features),
                    test_batch_type=case.test_batch_type,
                    status=test_case_status_to_rime(case.status),
                    severity=severity_to_rime(case.severity),
                    importance_score=case.importance_score,
                )
                for case in page.test_cases
            ],
            next_page_token=page.next_page_token,
        )
