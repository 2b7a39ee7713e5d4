"""RIMEStressTestJob: watching a stress test (or firewall) job and reading its results."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from pytest_rime.proto.v1 import common_pb2, model_testing_pb2
from pytest_rime.sdk.backend import RIMEBackend
from pytest_rime.sdk.convert import (
    TERMINAL_JOB_STATUSES,
    job_status_line,
    job_status_name,
    job_to_dict,
)
from pytest_rime.sdk.polling import poll
from pytest_rime.sdk.results import RIMETestRun


def print_failure_logs(backend: RIMEBackend, job_id: str) -> None:
    """Print the log of a failed job to stdout, framed so it stands out."""
    print(f"Job {job_id} failed. Logs of the job:")
    print(backend.get_job_logs(job_id).rstrip("\n") or "(the job wrote no logs)")
    print(f"End of the logs of job {job_id}.")


class RIMEStressTestJob:
    """An interface to a RIME stress testing job.

    This object provides an interface for monitoring the status of a stress test job in the
    RIME backend.

    Attributes:
        backend: The RIME backend used to query about the status of the job.
        job_id: How the backend refers to the job.
    """

    def __init__(self, backend: RIMEBackend, job_id: str) -> None:
        self.backend = backend
        self.job_id = job_id

    def __repr__(self) -> str:
        return f"RIMEStressTestJob(job_id={self.job_id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RIMEStressTestJob) and other.job_id == self.job_id

    def __hash__(self) -> int:
        return hash(self.job_id)

    def _job(self) -> model_testing_pb2.Job:
        return self.backend.get_job(self.job_id)

    def get_status(
        self, verbose: bool = False, wait_until_finish: bool = False, poll_rate_sec: float = 5.0
    ) -> dict[str, Any]:
        """Query the ModelTest service for the job's status.

        This includes flags for blocking until the job is complete and printing information
        to stdout. This method can help with monitoring the progress of stress test jobs,
        because it prints out helpful information such as running time and the progress of
        the test run.

        Args:
            verbose: Whether or not to print diagnostic information such as logs. If this flag
                is enabled and the job has failed, the logs of the testing engine will be
                dumped to stdout to help with debuggability.
            wait_until_finish: Whether or not to block until the job has succeeded, failed or
                been cancelled. If verbose is enabled too, the job's status line (status,
                running time and progress) is printed every ``poll_rate_sec``.
            poll_rate_sec: The frequency with which to poll the job's status, in seconds.

        Returns:
            A dictionary representing the job's state::

                {
                    "id": str,
                    "type": str,  # e.g. "JOB_TYPE_MODEL_STRESS_TEST"
                    "status": str,  # e.g. "JOB_STATUS_SUCCEEDED"
                    "start_time_secs": int,
                    "running_time_secs": float,
                    "progress": str,  # "12 / 40 test batches completed", "3 / 7 bins completed"
                    "termination_reason": str,  # e.g. "TERMINATION_REASON_COMPLETED"
                    "test_run_id": str,  # empty until the run has results
                    "firewall_id": str,  # the firewall a firewall job fed (or created)
                    "error_message": str,  # why the job failed, empty otherwise
                }

        Raises:
            ValueError: The job does not exist, a request to the backend failed, or
                ``poll_rate_sec`` is not positive while waiting.

        Example:
            .. code-block:: python

                # Block until this job is finished and dump monitoring info to stdout.
                job_status = job.get_status(verbose=True, wait_until_finish=True)
        """
        job = poll(
            self._job,
            is_done=lambda job: job.status in TERMINAL_JOB_STATUSES,
            wait_until_finish=wait_until_finish,
            poll_rate_sec=poll_rate_sec,
            report=(lambda job: print(job_status_line(job))) if verbose else None,
        )
        if verbose and job.status == common_pb2.JOB_STATUS_FAILED:
            print_failure_logs(self.backend, self.job_id)
        return job_to_dict(job)

    def get_logs(self, max_bytes: int = 0) -> str:
        """The log the job has written so far.

        Args:
            max_bytes: Only the last this many bytes of the log; 0 means all of it.

        Returns:
            The log text (no strict form; it will change between versions).

        Raises:
            ValueError: The job does not exist or the request failed.
        """
        return self.backend.get_job_logs(self.job_id, max_bytes)

    def get_test_run_id(self) -> str:
        """The id of the test run the job produced.

        Returns:
            The test run id, usable with ``RIMEClient.get_test_run`` and firewalls.

        Raises:
            ValueError: The job has no test run (it has not succeeded), does not exist, or the
                request failed.
        """
        return self._succeeded_run().test_run_id

    def _succeeded_run(self) -> RIMETestRun:
        job = self._job()
        if job.status == common_pb2.JOB_STATUS_SUCCEEDED and not job.test_run_id:
            raise ValueError(
                f"Job {self.job_id} is a firewall batch job: it has one test run per time bin, "
                f"no single test run; read them with RIMEClient.get_firewall("
                f"{job.firewall_id!r}).get_bins() (column test_run_id) and get_events()"
            )
        if job.status != common_pb2.JOB_STATUS_SUCCEEDED or not job.test_run_id:
            reason = f": {job.error_message}" if job.error_message else ""
            raise ValueError(
                f"Job {self.job_id} has status {job_status_name(job.status)}{reason}; results "
                "exist only for jobs with status JOB_STATUS_SUCCEEDED (wait with "
                "get_status(wait_until_finish=True))"
            )
        return RIMETestRun(self.backend, job.test_run_id)

    def get_test_cases_result(self, version: str | None = None) -> pd.DataFrame:
        """Retrieve all the test cases for a completed stress test run in a dataframe.

        This gives you the ability to perform granular queries on test cases. For example,
        if you only care about subset performance tests and want to see the results on each
        feature, you can fetch all the test cases in a dataframe, then query on that
        dataframe by test type. This only works on stress test jobs that have succeeded.

        Args:
            version: Semantic version of the results to be returned. This allows users to pin
                the version of the results, which is helpful if you write any code on top of
                RIME data. The latest output is returned by default; versions older than
                0.14.0 are refused.

        Returns:
            A ``pandas.DataFrame`` with one row per test case and the columns
            ``test_run_id``, ``test_batch_type`` (e.g. ``Subset AUC``), ``test_id``,
            ``category``, ``features`` (list of features the case ran on), ``status``
            (``PASS``, ``WARNING``, ``FAIL``, ``SKIP``), ``severity`` (``NONE`` .. ``HIGH``),
            ``importance_score``, ``metrics`` (dict) and ``description``.

        Raises:
            ValueError: The job has not succeeded, the version is invalid, or a request to
                the backend failed.

        Example:
            .. code-block:: python

                # Wait until the job has finished, since this method only works on
                # SUCCEEDED jobs.
                job.get_status(verbose=True, wait_until_finish=True)
                # Dump the test cases in dataframe ``df``.
                # Pin the version to RIME version 0.14.0.
                df = job.get_test_cases_result(version="0.14.0")
                # Print out the column names and types.
                print(df.columns)
        """
        return self._succeeded_run().get_test_cases_result(version)

    def get_test_run_result(self, version: str | None = None) -> pd.DataFrame:
        """Retrieve high level summary information for a complete stress test run.

        The single-row dataframe includes model metrics on the reference and evaluation
        datasets, overall results such as severity counts across tests, and metadata such
        as the project ID and model task. By concatenating these rows together, you can
        build a table of test run results for comparison. This only works on stress test
        jobs that have succeeded.

        Args:
            version: Semantic version of the results to be returned (see
                :meth:`get_test_cases_result`).

        Returns:
            A one-row ``pandas.DataFrame`` with ``metadata.*`` columns (test_run_id,
            project_id, run_name, model_task, data_type, job_id, ...),
            ``metrics.num_inputs``, ``metrics.num_failing_inputs``,
            ``metrics.duration_millis``, ``metrics.summary_counts.*``,
            ``metrics.severity_counts.*`` and
            ``metrics.model_perf.<Metric>.{ref_metric,eval_metric}``.

        Raises:
            ValueError: The job has not succeeded, the version is invalid, or a request to
                the backend failed.

        Example:
            .. code-block:: python

                job.get_status(verbose=True, wait_until_finish=True)
                df = job.get_test_run_result(version="0.14.0")
                print(df.columns)
        """
        return self._succeeded_run().get_test_run_result(version)

    def get_test_batches_result(self) -> pd.DataFrame:
        """One row per test batch (one test over all its features) of a succeeded job.

        Returns:
            A ``pandas.DataFrame`` with the columns ``test_run_id``, ``test_id``,
            ``test_batch_type``, ``category``, ``description``, ``severity``,
            ``duration_millis`` and ``summary_counts.{total,pass,warning,fail,skip}``.

        Raises:
            ValueError: The job has not succeeded or a request to the backend failed.
        """
        return self._succeeded_run().get_test_batches_result()

    def get_link(self) -> str:
        """Get the web app URL for a successful stress test job.

        This link directs to your organization's deployment of RIME. You can view more
        detailed information about the results of your stress test in the web app,
        including helpful visualizations, key insights, and explanations of test results.

        Note: this is a string that should be copy-pasted into a browser.

        Returns:
            ``{web_base_url}/projects/{project_id}/test-runs/{test_run_id}``.

        Raises:
            ValueError: The job has not succeeded or a request to the backend failed.
        """
        return self._succeeded_run().get_link()

    def write_report(self, path: str | os.PathLike[str]) -> Path:
        """Write the standalone HTML page of the job's test run (see ``RIMETestRun``).

        A pytest-rime addition, not in the reference SDK: one self-contained file (CSS,
        scripts and data inline) that opens anywhere, offline.

        Args:
            path: The HTML file to write (folders are created).

        Returns:
            The path written.

        Raises:
            ValueError: The job has not succeeded or a request to the backend failed.
            OSError: The file cannot be written.
        """
        return self._succeeded_run().write_report(path)

    def cancel(self) -> dict[str, Any]:
        """Cancel the job if it is pending or running; a finished job is left as it is.

        Returns:
            The job's state after the request, as :meth:`get_status` returns it.

        Raises:
            ValueError: The job does not exist or the request failed.
        """
        request = model_testing_pb2.CancelJobRequest(job_id=self.job_id)
        return job_to_dict(self.backend.call(self.backend.model_testing.CancelJob, request).job)
