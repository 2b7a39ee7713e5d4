"""RIMEFirewall: continuous testing of production data against a reference stress test run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from pytest_rime.proto.v1 import common_pb2, firewall_pb2, model_testing_pb2
from pytest_rime.sdk.arguments import config_to_json, job_environment, require_config_keys
from pytest_rime.sdk.backend import RIMEBackend
from pytest_rime.sdk.frames import firewall_bins_frame, firewall_events_frame
from pytest_rime.sdk.job import RIMEStressTestJob
from pytest_rime.sdk.results import RIMETestRun

INCREMENTAL_CONFIG_KEYS = ("eval_path", "timestamp_col")
"""Keys ``run_firewall_incremental_data`` needs in its config."""


class RIMEFirewall:
    """RIMEFirewall object wrapper with helpful methods for working with RIME Firewall.

    Attributes:
        backend: The RIME backend used to query about the status of the job.
        firewall_id: How to refer to the FW in the backend. Use this attribute to specify the
            Firewall for tasks in the backend.
    """

    def __init__(self, backend: RIMEBackend, firewall_id: str) -> None:
        self.backend = backend
        self.firewall_id = firewall_id

    def __repr__(self) -> str:
        return f"RIMEFirewall(firewall_id={self.firewall_id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RIMEFirewall) and other.firewall_id == self.firewall_id

    def __hash__(self) -> int:
        return hash(self.firewall_id)

    def get_firewall(self) -> firewall_pb2.Firewall:
        """The firewall as the backend stores it (name, project, bin size, reference run).

        Raises:
            ValueError: The firewall does not exist or the request failed.
        """
        request = firewall_pb2.GetFirewallRequest(firewall_id=self.firewall_id)
        return self.backend.call(self.backend.firewalls.GetFirewall, request).firewall

    def update_firewall_stress_test_run(
        self, stress_test_run_id: str
    ) -> firewall_pb2.UpdateFirewallResponse:
        """Update firewall with stress test run id.

        Args:
            stress_test_run_id: Stress Test Run Id to configure new firewall.

        Returns:
            The backend's response; its ``firewall`` field is the updated firewall.

        Raises:
            ValueError: The firewall or the test run does not exist, or the request to the
                Firewall service failed.
        """
        request = firewall_pb2.UpdateFirewallRequest(
            firewall_id=self.firewall_id, stress_test_run_id=stress_test_run_id
        )
        return self.backend.call(self.backend.firewalls.UpdateFirewall, request)

    def get_link(self) -> str:
        """Get the web app URL to the firewall.

        This link directs to your organization's deployment of RIME. You can view more
        detailed information about the firewall in the web app, including helpful
        visualizations, key insights on your model's performance, and explanations of test
        results for each batch.

        Note: this is a string that should be copy-pasted into a browser.

        Returns:
            ``{web_base_url}/firewalls/{firewall_id}``.

        Raises:
            ValueError: The request for the server's web address failed.
        """
        return f"{self.backend.web_base_url}/firewalls/{self.firewall_id}"

    def run_firewall_incremental_data(
        self,
        test_run_config: dict[str, Any],
        disable_firewall_events: bool = True,
        custom_image: common_pb2.CustomImage | str | None = None,
        rime_managed_image: str | None = None,
        ram_request_megabytes: int | None = None,
        cpu_request_millicores: int | None = None,
    ) -> RIMEStressTestJob:
        """Start a RIME model firewall test on the backend's ModelTesting service.

        This allows you to run Firewall Test job on the RIME backend. This will run firewall
        on a batch of tabular data.

        The rows of ``eval_path`` are split into the firewall's time bins by
        ``timestamp_col`` and each bin is tested against the firewall's current reference
        stress test run (its reference data, model and ``tests_config``). Each bin is stored
        as its own test run; sending data for a bin that already has results replaces them.

        Args:
            test_run_config: Configuration for the test to be run, which specifies paths to
                the model and datasets to used for the test. It must name ``eval_path`` (at the
                top level or in ``data_info``) and ``timestamp_col`` (at the top level or in
                ``data_info`` / ``monitoring_info``); ``monitoring_info.thresholds`` may
                override the monitored metric thresholds (``{metric: [low, medium, high]}``).
                Other keys are refused: the reference comes from the firewall.
            disable_firewall_events: Do not record firewall events for the bins of this run.
            custom_image: Specification of a customized environment to run the model test
                in (a ``CustomImage``, or its name as a string). It must have all
                dependencies required by your model.
            rime_managed_image: Name of a managed image to use when running the model test.
                To create new managed images with your desired dependencies, use the
                client's ``create_managed_image()`` method.
            ram_request_megabytes: Megabytes of RAM requested for the job. If none
                specified, will default to 4000MB. The limit is 2x the megabytes requested.
            cpu_request_millicores: Millicores of CPU requested for the job. If none
                specified, will default to 1500mi. The limit is 2x the millicores requested.

        Returns:
            A RIMEStressTestJob for the ``JOB_TYPE_FIREWALL_BATCH_TEST`` job: ``get_status()``
            reports ``"n / N bins completed"`` (and rows whose timestamp could not be parsed);
            once it succeeded, :meth:`get_bins` and :meth:`get_events` show its bins.

        Raises:
            ValueError: The config lacks ``eval_path`` or ``timestamp_col`` (checked before
                sending), both image arguments are given, the firewall does not exist
                (RIMENotFoundError), the server refuses the config (the message names the
                key), or the request to the ModelTest service failed.

        Example:
            .. code-block:: python

                incremental_config = {
                    "eval_path": "s3://rime-datasets/fraud/eval_2021_04_30.csv",
                    "timestamp_col": "timestamp",
                }
                firewall = rime_client.get_firewall("foo")
                job = firewall.run_firewall_incremental_data(
                    test_run_config=incremental_config,
                    rime_managed_image="tensorflow115",
                    ram_request_megabytes=8000,
                    cpu_request_millicores=2000,
                )
        """
        require_config_keys(test_run_config, INCREMENTAL_CONFIG_KEYS)
        request = model_testing_pb2.RunFirewallIncrementalDataRequest(
            firewall_id=self.firewall_id,
            test_run_config_json=config_to_json(test_run_config),
            disable_firewall_events=disable_firewall_events,
            **job_environment(
                custom_image, rime_managed_image, ram_request_megabytes, cpu_request_millicores
            ),
        )
        response = self.backend.call(self.backend.model_testing.RunFirewallIncrementalData, request)
        return RIMEStressTestJob(self.backend, response.job.id)

    def get_events(self) -> pd.DataFrame:
        """The firewall's events: bins whose monitored metric crossed its threshold.

        Events are recorded only by jobs started with ``disable_firewall_events=False``.

        Returns:
            A ``pandas.DataFrame``, one row per event ordered by bin start, with the columns
            ``id``, ``firewall_id``, ``bin_start_secs``, ``bin_end_secs``, ``metric`` (e.g.
            ``num_drifting_features``, ``abnormality_rate``, ``model_perf.AUC``), ``value``,
            ``threshold`` (the bound of the level reached), ``severity`` (``LOW``,
            ``MEDIUM``, ``HIGH``), ``description`` and ``test_run_id`` (the bin's run).

        Raises:
            ValueError: The firewall does not exist or the request failed.
        """
        return firewall_events_frame(self._events())

    def _events(self) -> list[firewall_pb2.FirewallEvent]:
        request = firewall_pb2.ListFirewallEventsRequest(firewall_id=self.firewall_id)
        return list(self.backend.call(self.backend.firewalls.ListFirewallEvents, request).events)

    def _bins(self) -> list[firewall_pb2.FirewallBin]:
        request = firewall_pb2.ListFirewallBinsRequest(firewall_id=self.firewall_id)
        return list(self.backend.call(self.backend.firewalls.ListFirewallBins, request).bins)

    def get_bins(self) -> pd.DataFrame:
        """The firewall's time bins with their monitored metrics.

        Returns:
            A ``pandas.DataFrame``, one row per bin ordered by bin start, with the columns
            ``firewall_id``, ``bin_start_secs``, ``bin_end_secs``, ``test_run_id`` (the bin's
            run, readable with ``RIMEClient.get_test_run``), ``num_rows``, ``severity`` (the
            highest level a monitored metric reached, ``NONE`` .. ``HIGH``), ``job_id`` (the
            job that produced the bin's current results) and one ``metrics.<name>`` column
            per monitored metric (``abnormality_rate``, ``test_pass_rate``,
            ``average_severity``, ``num_drifting_features``, ``model_perf.<Metric>``).

        Raises:
            ValueError: The firewall does not exist or the request failed.
        """
        return firewall_bins_frame(self._bins())

    def write_report(self, path: str | os.PathLike[str]) -> Path:
        """Write the firewall's standalone HTML page: one file that opens anywhere, offline.

        A pytest-rime addition, not in the reference SDK. The page shows a timeline of every
        monitored metric per bin with its events, the events and bins tables, and the test
        run of the reference and of every bin (each bin links to its run's section on the
        page, anchored ``#run-<test_run_id>``; the firewall's is ``#firewall-<id>``). CSS,
        scripts and data are inline. The monitoring thresholds are not sent over gRPC: the
        page shows the threshold each event crossed.

        Args:
            path: The HTML file to write (folders are created).

        Returns:
            The path written.

        Raises:
            ValueError: The firewall does not exist or a request failed.
            OSError: The file cannot be written.
        """
        from pytest_rime.sdk.report import firewall_view_of, run_view_of, write_page

        firewall = self.get_firewall()
        bins = self._bins()
        run_ids = [firewall.stress_test_run_id] * bool(firewall.stress_test_run_id)
        run_ids += [b.test_run_id for b in bins if b.test_run_id]
        runs = []
        for test_run_id in dict.fromkeys(run_ids):
            run = RIMETestRun(self.backend, test_run_id)
            runs.append(run_view_of((run.get_test_run(), run.list_test_cases())))
        view = firewall_view_of(firewall, bins, self._events())
        return write_page(path, runs, [view], f"Firewall {firewall.name}: RIME")
