"""ResultsReader servicer: stored test runs, test cases and test batches."""

from __future__ import annotations

import grpc

from pytest_rime.proto.v1 import results_pb2, results_pb2_grpc
from pytest_rime.server.convert import test_batch_to_proto, test_case_to_proto, test_run_to_proto
from pytest_rime.server.servicers.context import BackendServicer


class ResultsReader(BackendServicer, results_pb2_grpc.ResultsReaderServicer):
    """Read the results of finished runs."""

    def GetTestRun(
        self, request: results_pb2.GetTestRunRequest, context: grpc.ServicerContext
    ) -> results_pb2.GetTestRunResponse:
        """The run summary."""
        run = self._backend.store.results.get_run(request.test_run_id)
        return results_pb2.GetTestRunResponse(test_run=test_run_to_proto(run))

    def ListTestCases(
        self, request: results_pb2.ListTestCasesRequest, context: grpc.ServicerContext
    ) -> results_pb2.ListTestCasesResponse:
        """One page of the run's test cases."""
        page = self._backend.store.results.cases_page(
            request.test_run_id, request.page_token, request.page_size
        )
        return results_pb2.ListTestCasesResponse(
            test_cases=[test_case_to_proto(request.test_run_id, c) for c in page.items],
            next_page_token=page.next_page_token,
        )

    def ListTestBatches(
        self, request: results_pb2.ListTestBatchesRequest, context: grpc.ServicerContext
    ) -> results_pb2.ListTestBatchesResponse:
        """All test batches of the run."""
        batches = self._backend.store.results.batches(request.test_run_id)
        return results_pb2.ListTestBatchesResponse(
            test_batches=[test_batch_to_proto(b) for b in batches]
        )
