"""Running one firewall through the SDK: the project's firewall, the data, the job, its bins.

The firewall of the spec's project is created on the reference stress test's run, or reused
and pointed at that run when it names another one. The timestamped data is sent as one
incremental batch with events enabled; the bins whose ``job_id`` is that job's, with their
events and test cases, become a :class:`~pytest_rime.plugin.bins.FirewallRecord`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_rime.plugin.bins import BinRecord, FirewallRecord, bin_label
from pytest_rime.plugin.localfiles import LocalNames
from pytest_rime.plugin.runner import (
    JobProgress,
    RunFailed,
    case_records,
    find_or_create_project,
    json_simple,
    refusals_as_run_failed,
    wait_for_job,
)
from pytest_rime.plugin.schema import FirewallSpec
from pytest_rime.vocabulary import DAILY, HOURLY

if TYPE_CHECKING:
    from pytest_rime.sdk import RIMEClient, RIMEFirewall

_EVENT_FIELDS = ("metric", "value", "threshold", "severity", "description")
_METRICS_PREFIX = "metrics."


def _bins_text(seconds: int) -> str:
    return {HOURLY: "hourly bins", DAILY: "daily bins"}.get(seconds, f"bins of {seconds} s")


def project_firewall(client: RIMEClient, spec: FirewallSpec, reference_run_id: str) -> RIMEFirewall:
    """The firewall of the spec's project on ``reference_run_id`` (created when missing).

    Raises:
        RunFailed: The project's firewall has another bin size.
    """
    from pytest_rime.sdk import RIMENotFoundError

    project_id = find_or_create_project(client, spec.project)
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
    eval_path = spec.eval_path
    if "://" not in spec.eval_path:
        eval_path = client.upload_dataset_file(spec.eval_path)
        names.add(eval_path, Path(spec.eval_path))
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


def run_firewall(
    client: RIMEClient,
    spec: FirewallSpec,
    reference_run_id: str,
    *,
    timeout: float,
    poll_rate: float,
    on_progress: Callable[[JobProgress], None],
    display_dir: Path | None = None,
) -> FirewallRecord:
    """Send the spec's data to its project's firewall and return the bins it produced.

    ``display_dir``: messages show local files relative to this directory.

    Raises:
        RunFailed: The backend refused or failed the run (message says which and why).
    """
    names = LocalNames(display_dir)
    firewall = project_firewall(client, spec, reference_run_id)
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
    progress = wait_for_job(job, timeout, poll_rate, on_progress, what="firewall", names=names)
    return FirewallRecord(
        name=spec.name,
        firewall_id=firewall.firewall_id,
        link=firewall.get_link(),
        job_id=job.job_id,
        progress=progress,
        bins=tuple(_bins_of_job(client, firewall, spec.name, job.job_id, names)),
    )
