"""RIMETestRun: the stored results of one stress test (or firewall bin) run, by run id."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from pytest_rime.proto.v1 import results_pb2
from pytest_rime.sdk.backend import RIMEBackend
from pytest_rime.sdk.frames import batches_frame, cases_frame, run_summary_frame

TEST_CASES_PAGE_SIZE = 1000
"""Test cases fetched per ListTestCases request."""

OLDEST_RESULTS_VERSION = (0, 14, 0)
"""Results of runs older than RIME 0.14.0 have no per-case format; pinning below is refused."""

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def check_results_version(version: str | None) -> None:
    """Check a results version pin: ``None`` or a semantic version at least ``0.14.0``.

    Every supported version returns today's output format (the 0.14.0 columns plus
    additions).

    Raises:
        ValueError: ``version`` is not ``X.Y[.Z]`` or is older than 0.14.0.
    """
    if version is None:
        return
    text: object = version
    match = _VERSION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"Invalid results version {version!r}; expected a version like '0.14.0'")
    numbers = tuple(int(part or 0) for part in match.groups())
    if numbers < OLDEST_RESULTS_VERSION:
        raise ValueError(
            f"Results version {version!r} is not supported; results exist from version 0.14.0"
        )


class RIMETestRun:
    """The results of one completed test run.

    Attributes:
        backend: The RIME backend holding the results.
        test_run_id: How the backend refers to the run.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, backend: RIMEBackend, test_run_id: str) -> None:
        self.backend = backend
        self.test_run_id = test_run_id

    def __repr__(self) -> str:
        return f"RIMETestRun(test_run_id={self.test_run_id!r})"

    def get_test_run(self) -> results_pb2.TestRun:
        """The run's summary message as the server stores it.

        Raises:
            ValueError: The run does not exist or the request failed.
        """
        request = results_pb2.GetTestRunRequest(test_run_id=self.test_run_id)
        return self.backend.call(self.backend.results.GetTestRun, request).test_run

    def get_test_run_result(self, version: str | None = None) -> pd.DataFrame:
        """High level summary of the run in a single-row dataframe (DESIGN.md 3.3).

        Args:
            version: Semantic version of the results format to pin (``None`` = latest).

        Returns:
            One row with ``metadata.*`` and ``metrics.*`` columns.

        Raises:
            ValueError: The version is invalid, the run does not exist or the request failed.
        """
        check_results_version(version)
        return run_summary_frame(self.get_test_run())

    def get_test_cases_result(self, version: str | None = None) -> pd.DataFrame:
        """All test cases of the run in a dataframe, one row per case.

        Args:
            version: Semantic version of the results format to pin (``None`` = latest).

        Returns:
            Columns ``test_run_id``, ``test_batch_type``, ``test_id``, ``category``,
            ``features`` (list), ``status``, ``severity``, ``importance_score``, ``metrics``
            (dict) and ``description``.

        Raises:
            ValueError: The version is invalid, the run does not exist or a request failed.
        """
        check_results_version(version)
        return cases_frame(self.list_test_cases())

    def list_test_cases(self) -> list[results_pb2.TestCase]:
        """Every test case of the run as the server sends them (page by page).

        Raises:
            ValueError: The run does not exist or a request failed.
        """
        cases: list[results_pb2.TestCase] = []
        page_token = ""
        while True:
            request = results_pb2.ListTestCasesRequest(
                test_run_id=self.test_run_id, page_token=page_token, page_size=TEST_CASES_PAGE_SIZE
            )
            response = self.backend.call(self.backend.results.ListTestCases, request)
            cases.extend(response.test_cases)
            page_token = response.next_page_token
            if not page_token:
                return cases

    def get_test_batches_result(self) -> pd.DataFrame:
        """One row per test batch (one engine test applied to all its features).

        Returns:
            Columns ``test_run_id``, ``test_id``, ``test_batch_type``, ``category``,
            ``description``, ``severity``, ``duration_millis`` and
            ``summary_counts.{total,pass,warning,fail,skip}``.

        Raises:
            ValueError: The run does not exist or the request failed.
        """
        request = results_pb2.ListTestBatchesRequest(test_run_id=self.test_run_id)
        response = self.backend.call(self.backend.results.ListTestBatches, request)
        return batches_frame(response.test_batches)

    def get_link(self) -> str:
        """The web app URL of the run: ``{web}/projects/{project_id}/test-runs/{test_run_id}``.

        Raises:
            ValueError: The run does not exist or a request failed.
        """
        project_id = self.get_test_run().project_id
        return f"{self.backend.web_base_url}/projects/{project_id}/test-runs/{self.test_run_id}"

    def write_report(self, path: str | os.PathLike[str]) -> Path:
        """Write the run's standalone HTML page: one file that opens anywhere, offline.

        A pytest-rime addition, not in the reference SDK. The page is the web app's run page
        (verdict, failing features, every case with its metrics, evidence and chart) with its
        CSS, scripts and data inline; cases are gated at ``fail_on=high``. Its section is
        anchored ``#run-<test_run_id>``.

        Args:
            path: The HTML file to write (folders are created).

        Returns:
            The path written.

        Raises:
            ValueError: The run does not exist or a request failed.
            OSError: The file cannot be written.
        """
        from pytest_rime.sdk.report import run_view_of, write_page

        run = self.get_test_run()
        view = run_view_of((run, self.list_test_cases()))
        return write_page(path, [view], [], f"{run.run_name or run.test_run_id}: RIME test run")
