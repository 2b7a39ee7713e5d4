"""The two kinds of run the plugin produces, stress tests and firewalls, as one protocol.

:class:`~pytest_rime.plugin.session.RimeSession` produces every record the same way: a cache
key, a file lock, the stored record when it is still on the server, else a new run. A
:class:`RunKind` supplies what differs between the kinds:

- :data:`STRESS_TESTS`: uploads, starts and waits for one stress test; its record is a
  :class:`~pytest_rime.plugin.cases.RunRecord`, valid while its run is on the server.
- :data:`FIREWALLS`: sends timestamped data to its project's firewall (pointed at the
  reference stress test's run) and gathers the bins that job produced; its record is a
  :class:`~pytest_rime.plugin.bins.FirewallRecord`, valid while all its bins are on the server.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pytest_rime.plugin.bins import BinRecord, FirewallRecord, bin_label
from pytest_rime.plugin.cases import RunRecord
from pytest_rime.plugin.localfiles import LocalNames, fingerprint, upload_and_rewrite
from pytest_rime.plugin.runner import (
    JobProgress,
    RunFailed,
    case_records,
    json_simple,
    refusals_as_run_failed,
    wait_for_job,
)
from pytest_rime.plugin.schema import (
    Defaults,
    FirewallSpec,
    ProjectSpec,
    ServerSpec,
    StressTestSpec,
)
from pytest_rime.plugin.store import Record
from pytest_rime.vocabulary import DAILY, HOURLY

if TYPE_CHECKING:
    from pytest_rime.sdk import RIMEClient, RIMEFirewall


@dataclass(frozen=True)
class Backend:
    """Where and how stress tests of one file (or of the ``rime`` fixture) run."""

    server: ServerSpec
    project: ProjectSpec | None
    defaults: Defaults


class Spec(Protocol):
    """What the session reads of every spec: its name and where it was written."""

    @property
    def name(self) -> str:
        """First segment of its item names."""
        ...

    @property
    def source(self) -> str:
        """Where the spec was written, for messages."""
        ...


class KindRecord(Record, Protocol):
    """A record the store can write and the session can tell the producing session of."""

    @property
    def session(self) -> str:
        """Token of the pytest session that ran it."""
        ...


SpecT = TypeVar("SpecT", bound=Spec, contravariant=True)
RecordT = TypeVar("RecordT", bound=KindRecord)


@dataclass(frozen=True)
class RunContext:
    """What a run needs from the session.

    Attributes:
        client: The SDK client of the backend's server.
        backend: Where and how the run goes.
        reference_run_id: Id of the reference stress test's run (empty when there is none).
        project_id: The id of a project, found by name or created (cached per session).
        on_progress: Called with each observation of the job.
        display_dir: Messages show local files relative to this directory.
        session: Token of the session; the new record carries it.
    """

    client: RIMEClient
    backend: Backend
    reference_run_id: str
    project_id: Callable[[ProjectSpec], str]
    on_progress: Callable[[JobProgress], None]
    display_dir: Path
    session: str


class RunKind(Protocol[SpecT, RecordT]):
    """What differs between producing a stress test's record and a firewall's.

    Attributes:
        what: ``stress test`` or ``firewall``, in progress lines and messages.
        directory: The store's directory in the plugin's cache dir.
    """

    what: str
    directory: str

    def record_from_dict(self, data: Mapping[str, Any]) -> RecordT:
        """The stored record read back (inverse of its ``to_dict``)."""
        ...

    def reference(self, spec: SpecT) -> StressTestSpec | None:
        """The stress test whose run must exist first (``None``: none)."""
        ...

    def cache_key(
        self, spec: SpecT, backend: Backend, server_identity: str, reference_run_id: str
    ) -> str:
        """Fingerprint of everything the results depend on."""
        ...

    def refreshed(self, client: RIMEClient, record: RecordT) -> RecordT:
        """``record`` with fresh links from the server.

        Raises:
            RIMENotFoundError: Something of the record is no longer on the server.
        """
        ...

    def run(self, spec: SpecT, context: RunContext) -> RecordT:
        """Run ``spec`` on the backend and return its record.

        Raises:
            RunFailed: The backend refused or failed the run (message says which and why).
        """
        ...

    def named(self, record: RecordT, spec: SpecT) -> RecordT:
        """``record`` under ``spec``'s name (a cached record may be shared by specs)."""
        ...

    def finished_text(self, record: RecordT, elapsed: float) -> str:
        """Progress line of a finished run."""
        ...

    def cached_text(self, record: RecordT) -> str:
        """Progress line of a record reused from the cache."""
        ...


# -- stress tests -------------------------------------------------------------------------


class StressTestKind:
    """Stress tests: one run per spec, its test cases and summary."""

    what = "stress test"
    directory = "results"

    def record_from_dict(self, data: Mapping[str, Any]) -> RunRecord:
        """A stored :class:`RunRecord`."""
        return RunRecord.from_dict(data)

    def reference(self, spec: StressTestSpec) -> StressTestSpec | None:
        """A stress test needs no other run."""
        return None

    def cache_key(
        self, spec: StressTestSpec, backend: Backend, server_identity: str, reference_run_id: str
    ) -> str:
        """Config, data and model (by content), server, project and job options.

        The run name is left out: it does not change the results.
        """
        extra = {
            "server": server_identity,
            "project": backend.project.name if backend.project else None,
            "data_type": spec.data_type,
            "rime_managed_image": spec.rime_managed_image,
            "custom_image": spec.custom_image,
            "ram_request_megabytes": spec.ram_request_megabytes,
            "cpu_request_millicores": spec.cpu_request_millicores,
        }
        return fingerprint(spec.config, extra, spec.data_type)

    def refreshed(self, client: RIMEClient, record: RunRecord) -> RunRecord:
        """The record with its run's current link."""
        return dataclasses.replace(record, link=client.get_test_run(record.test_run_id).get_link())

    def run(self, spec: StressTestSpec, context: RunContext) -> RunRecord:
        """Upload, start and wait for one stress test; return its results."""
        client, backend = context.client, context.backend
        names = LocalNames(context.display_dir)
        project_id = context.project_id(backend.project) if backend.project else None
        config = upload_and_rewrite(
            spec.config,
            client.upload_dataset_file,
            client.upload_model_directory,
            names,
            spec.data_type,
        )
        with refusals_as_run_failed(names):
            job = client.start_stress_test(
                config,
                project_id=project_id,
                custom_image=spec.custom_image,
                rime_managed_image=spec.rime_managed_image,
                ram_request_megabytes=spec.ram_request_megabytes,
                cpu_request_millicores=spec.cpu_request_millicores,
                data_type=spec.data_type,
            )
        defaults = backend.defaults
        wait_for_job(job, defaults.timeout, defaults.poll_rate, context.on_progress, names=names)
        summary = job.get_test_run_result().to_dict("records")
        return RunRecord(
            name=spec.name,
            test_run_id=job.get_test_run_id(),
            job_id=job.job_id,
            link=job.get_link(),
            cases=case_records(spec.name, job.get_test_cases_result(), names),
            summary=json_simple(summary[0]) if summary else {},
            session=context.session,
        )

    def named(self, record: RunRecord, spec: StressTestSpec) -> RunRecord:
        """The run under the spec's run name."""
        return record.renamed(spec.name)

    def finished_text(self, record: RunRecord, elapsed: float) -> str:
        """``12 test cases in 3.1s (run ...)``."""
        return (
            f"rime: {record.name}: {len(record.cases)} test cases in {elapsed:.1f}s "
            f"(run {record.test_run_id})"
        )

    def cached_text(self, record: RunRecord) -> str:
        """``reusing cached results of run ...``."""
        return (
            f"rime: {record.name}: reusing cached results of run {record.test_run_id} "
            f"({len(record.cases)} test cases; --rime-rerun runs it again)"
        )


# -- firewalls ----------------------------------------------------------------------------

_EVENT_FIELDS = ("metric", "value", "threshold", "severity", "description")
_METRICS_PREFIX = "metrics."


def _bins_text(seconds: int) -> str:
    return {HOURLY: "hourly bins", DAILY: "daily bins"}.get(seconds, f"bins of {seconds} s")


def project_firewall(
    client: RIMEClient, spec: FirewallSpec, project_id: str, reference_run_id: str
) -> RIMEFirewall:
    """The firewall of ``project_id`` on ``reference_run_id`` (created when missing).

    Raises:
        RunFailed: The project's firewall has another bin size.
    """
    from pytest_rime.sdk import RIMENotFoundError

    try:
        firewall = client.get_firewall_for_project(project_id)
    except RIMENotFoundError:
        return client.create_firewall(
            spec.name, spec.bin_size_seconds, reference_run_id, project_id
        )
    stored = firewall.get_firewall()
    if stored.bin_size_seconds != spec.bin_size_seconds:
        raise RunFailed(
            f"bin_size: the firewall {stored.name!r} of project {spec.project.name!r} has "
            f"{_bins_text(stored.bin_size_seconds)}, not {_bins_text(spec.bin_size_seconds)} "
            "(a project has one firewall); give this firewall another project"
        )
    if stored.stress_test_run_id != reference_run_id:
        firewall.update_firewall_stress_test_run(reference_run_id)
    return firewall


def _incremental_config(
    client: RIMEClient, spec: FirewallSpec, names: LocalNames
) -> dict[str, Any]:
    section = upload_and_rewrite(
        {"data_info": {"eval_path": spec.eval_path}},
        client.upload_dataset_file,
        client.upload_model_directory,
        names,
        spec.reference.data_type,
    )
    eval_path: str = section["data_info"]["eval_path"]
    config: dict[str, Any] = {"eval_path": eval_path, "timestamp_col": spec.timestamp_col}
    if spec.thresholds:
        config["monitoring_info"] = {
            "thresholds": {metric: list(levels) for metric, levels in spec.thresholds.items()}
        }
    return config


def _bin_metrics(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        str(k).removeprefix(_METRICS_PREFIX): json_simple(v)
        for k, v in row.items()
        if str(k).startswith(_METRICS_PREFIX)
        and not (isinstance(v, float) and not math.isfinite(v))
    }


def _bins_of_job(
    client: RIMEClient, firewall: RIMEFirewall, name: str, job_id: str, names: LocalNames
) -> list[BinRecord]:
    bins = firewall.get_bins()
    events = firewall.get_events()
    records = []
    for row in bins[bins["job_id"] == job_id].to_dict("records"):
        start, end = int(row["bin_start_secs"]), int(row["bin_end_secs"])
        run = client.get_test_run(str(row["test_run_id"]))
        bin_events = events[events["test_run_id"] == row["test_run_id"]]
        records.append(
            BinRecord(
                start_secs=start,
                end_secs=end,
                test_run_id=str(row["test_run_id"]),
                link=run.get_link(),
                num_rows=int(row["num_rows"]),
                severity=str(row["severity"]),
                metrics=_bin_metrics(row),
                events=tuple(
                    {f: json_simple(e[f]) for f in _EVENT_FIELDS}
                    for e in bin_events.to_dict("records")
                ),
                cases=case_records(
                    f"{name}::{bin_label(start, end)}", run.get_test_cases_result(), names
                ),
            )
        )
    return records


class FirewallKind:
    """Firewalls: the bins one batch of timestamped data produced, after the reference run."""

    what = "firewall"
    directory = "firewalls"

    def record_from_dict(self, data: Mapping[str, Any]) -> FirewallRecord:
        """A stored :class:`FirewallRecord`."""
        return FirewallRecord.from_dict(data)

    def reference(self, spec: FirewallSpec) -> StressTestSpec | None:
        """The firewall's reference stress test."""
        return spec.reference

    def cache_key(
        self, spec: FirewallSpec, backend: Backend, server_identity: str, reference_run_id: str
    ) -> str:
        """The reference's run id, the firewall section and the contents of its data."""
        section = {
            "data_info": {"eval_path": spec.eval_path},
            "timestamp_col": spec.timestamp_col,
            "bin_size": spec.bin_size,
            "thresholds": {k: list(v) for k, v in spec.thresholds.items()},
        }
        extra = {
            "firewall": spec.name,
            "project": spec.project.name,
            "reference_test_run_id": reference_run_id,
            "server": server_identity,
        }
        return fingerprint(section, extra, spec.reference.data_type)

    def refreshed(self, client: RIMEClient, record: FirewallRecord) -> FirewallRecord:
        """The record with fresh links of the firewall and every bin.

        A bin replaced by later data for the same time has a new run id: the old one is gone.
        """
        link = client.get_firewall(record.firewall_id).get_link()
        bins = tuple(
            dataclasses.replace(b, link=client.get_test_run(b.test_run_id).get_link())
            for b in record.bins
        )
        return dataclasses.replace(record, link=link, bins=bins)

    def run(self, spec: FirewallSpec, context: RunContext) -> FirewallRecord:
        """Send the spec's data to its project's firewall and return the bins it produced."""
        client, defaults = context.client, context.backend.defaults
        names = LocalNames(context.display_dir)
        firewall = project_firewall(
            client, spec, context.project_id(spec.project), context.reference_run_id
        )
        reference = spec.reference
        with refusals_as_run_failed(names):
            job = firewall.run_firewall_incremental_data(
                _incremental_config(client, spec, names),
                disable_firewall_events=False,
                custom_image=reference.custom_image,
                rime_managed_image=reference.rime_managed_image,
                ram_request_megabytes=reference.ram_request_megabytes,
                cpu_request_millicores=reference.cpu_request_millicores,
            )
        progress = wait_for_job(
            job,
            defaults.timeout,
            defaults.poll_rate,
            context.on_progress,
            what=self.what,
            names=names,
        )
        return FirewallRecord(
            name=spec.name,
            firewall_id=firewall.firewall_id,
            link=firewall.get_link(),
            job_id=job.job_id,
            progress=progress,
            bins=tuple(_bins_of_job(client, firewall, spec.name, job.job_id, names)),
            session=context.session,
        )

    def named(self, record: FirewallRecord, spec: FirewallSpec) -> FirewallRecord:
        """The record as it is: the firewall's name is part of its cache key."""
        return record

    def finished_text(self, record: FirewallRecord, elapsed: float) -> str:
        """``3 bins, 40 test cases in 9.2s (job ...: <its final progress>)``."""
        return (
            f"rime: {record.name}: {len(record.bins)} bins, {record.num_cases} test cases in "
            f"{elapsed:.1f}s (job {record.job_id}: {record.progress or 'done'})"
        )

    def cached_text(self, record: FirewallRecord) -> str:
        """``reusing cached bins of firewall job ...``."""
        return (
            f"rime: {record.name}: reusing cached bins of firewall job {record.job_id} "
            f"({len(record.bins)} bins; --rime-rerun runs it again)"
        )


STRESS_TESTS = StressTestKind()
FIREWALLS = FirewallKind()
