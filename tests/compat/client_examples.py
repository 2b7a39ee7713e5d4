"""The reference's examples, run by the published rime-sdk 0.16.14 client, unchanged.

Not a test module: tests/compat/test_rime_sdk_compat.py runs it with the client venv's python
(it imports ``rime_sdk``, whose ``rime.*`` protos must not share a process with ours).

Usage::

    python client_examples.py examples DATA_DIR OUT.json   # against 127.0.0.1:80, no TLS
    python client_examples.py api-keys KEY OUT.json        # against localhost:443 (TLS)
    python client_examples.py descriptors OUT.json         # the client's rime descriptors

``examples`` reads ``ref.csv``, ``eval.csv``, ``incremental.csv`` and ``model/`` from DATA_DIR.
Each step is written to OUT.json under its name as ``{"ok": true, "value": ...}`` or
``{"ok": false, "error": "..."}``; a step whose input step failed is not run (its error says
so), every other step still is.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

POLL_SECS = 0.2
Step = Callable[[], Any]


class Steps:
    """Runs named steps and records what each returned (as ``show`` shows it) or raised."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}

    def run(self, name: str, step: Step, *needs: str, show: Callable[[Any], Any] = str) -> Any:
        """Run ``step`` unless a step in ``needs`` failed; its value, ``None`` on failure."""
        failed = [need for need in needs if not self.results[need]["ok"]]
        if failed:
            self.results[name] = {"ok": False, "error": f"not run: {', '.join(failed)} failed"}
            return None
        try:
            value = step()
            self.results[name] = {"ok": True, "value": show(value)}
        except Exception as exc:  # recorded: the test reports every failing step at once
            self.results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            return None
        return value

    def write(self, path: Path) -> None:
        """Write the results as JSON."""
        path.write_text(json.dumps(self.results, indent=1))


def records(frame: Any) -> Any:
    """A data frame as JSON records, the form the test compares."""
    return json.loads(frame.to_json(orient="records"))


def same(value: Any) -> Any:
    """``value`` itself (already JSON)."""
    return value


def job_id(job: Any) -> str:
    """The id of the client's job object (the client keeps it private)."""
    return str(job._job_id)


def examples(data: Path, out: Path) -> None:
    """Every reference method the issue names, in the order a user would call them."""
    from rime_sdk import RIMEClient

    steps = Steps()
    run = steps.run
    client = RIMEClient("127.0.0.1", disable_tls=True)  # dials 127.0.0.1:80
    project = run(
        "create_project",
        lambda: client.create_project("compat", "published client"),
        show=lambda p: p._asdict(),
    )
    run("list_projects", lambda: [p.project_id for p in client.list_projects()[0]], show=same)
    ref = run("upload_dataset_file", lambda: client.upload_dataset_file(data / "ref.csv"))
    evaluation = run("upload_eval_file", lambda: client.upload_dataset_file(str(data / "eval.csv")))
    model = run("upload_model_directory", lambda: client.upload_model_directory(data / "model"))
    uploads = (
        "create_project",
        "upload_dataset_file",
        "upload_eval_file",
        "upload_model_directory",
    )
    config = {
        "run_name": "compat",
        "data_info": {
            "label_col": "label",
            "ref_path": ref,
            "eval_path": evaluation,
            "categorical_features": ["city"],
        },
        "model_info": {"path": model},
        "model_task": "Binary Classification",
        "random_seed": 0,
    }
    job = run(
        "start_stress_test",
        lambda: client.start_stress_test(config, project_id=project.project_id),
        *uploads,
        show=job_id,
    )
    wait = {"wait_until_finish": True, "poll_rate_sec": POLL_SECS}
    run("get_status", lambda: job.get_status(**wait), "start_stress_test", show=same)
    run("get_test_cases_result", job and job.get_test_cases_result, "get_status", show=records)
    summary = run(
        "get_test_run_result", job and job.get_test_run_result, "get_status", show=records
    )
    run("get_link", job and job.get_link, "get_status")

    def listed(*statuses: str) -> list[str]:
        jobs = client.list_stress_test_jobs(
            status_filters=list(statuses) or None, project_id=project.project_id
        )
        return sorted(job_id(j) for j in jobs)

    for name, statuses in (
        ("list_stress_test_jobs", ()),
        ("list_stress_test_jobs_succeeded", ("succeeded",)),
        ("list_stress_test_jobs_failed_or_pending", ("failed", "pending")),
    ):
        run(name, lambda statuses=statuses: listed(*statuses), "get_status", show=same)

    requirements = [client.pip_requirement("pandas")]
    builder = run(
        "create_managed_image", lambda: client.create_managed_image("compat-pandas", requirements)
    )
    run("managed_image_get_status", lambda: builder.get_status(**wait), "create_managed_image",
        show=same)  # fmt: skip

    def images(*filters: Any) -> list[str]:
        found, _ = client.list_managed_images(pip_library_filters=list(filters) or None)
        return sorted(image["name"] for image in found)

    for name, library in (
        ("list_managed_images", None),
        ("list_managed_images_with_pandas", "pandas"),
        ("list_managed_images_with_missing_library", "no-such-library"),
    ):
        filters = [client.pip_library_filter(library)] if library else []
        run(name, lambda f=filters: images(*f), "managed_image_get_status", show=same)

    run(
        "create_firewall",
        lambda: client.create_firewall(
            "compat", 86400, summary["metadata.id"][0], project.project_id
        ),
        "get_test_run_result",
        show=lambda f: f._firewall_id,  # the client keeps the id private
    )
    found = run(
        "get_firewall_for_project",
        lambda: client.get_firewall_for_project(project.project_id),
        "create_firewall",
        show=lambda f: f._firewall_id,
    )
    run("firewall_get_link", found and found.get_link, "get_firewall_for_project")
    incremental = run(
        "upload_incremental_file", lambda: client.upload_dataset_file(data / "incremental.csv")
    )
    fw_job = run(
        "run_firewall_incremental_data",
        lambda: found.run_firewall_incremental_data(
            {"eval_path": incremental, "timestamp_col": "ts"}
        ),
        "get_firewall_for_project",
        "upload_incremental_file",
        show=job_id,
    )
    run("incremental_get_status", lambda: fw_job.get_status(**wait),
        "run_firewall_incremental_data", show=same)  # fmt: skip

    other = run("create_project_for_reference", lambda: client.create_project("compat-fw", "x"),
                show=lambda p: p._asdict())  # fmt: skip
    reference_config = {
        **config,
        "run_name": "compat from reference",
        "data_info": {**config["data_info"], "eval_path": incremental},
        "monitoring_info": {"timestamp_col": "ts", "bin_size": "day"},
    }
    ref_job = run(
        "start_firewall_from_reference",
        lambda: client.start_firewall_from_reference(reference_config, project_id=other.project_id),
        "create_project_for_reference",
        "upload_incremental_file",
        *uploads,
        show=job_id,
    )
    run("reference_get_status", lambda: ref_job.get_status(**wait),
        "start_firewall_from_reference", show=same)  # fmt: skip
    steps.write(out)


def api_keys(key: str, out: Path) -> None:
    """Every call tried with ``key`` (empty: none) over TLS to localhost:443."""
    from rime_sdk import RIMEClient

    steps = Steps()
    client = RIMEClient("localhost", api_key=key)
    calls: dict[str, Step] = {
        "create_project": lambda: client.create_project("keyed", "x"),
        "list_projects": lambda: client.list_projects()[0],
        "list_stress_test_jobs": lambda: client.list_stress_test_jobs(),
        "start_stress_test": lambda: client.start_stress_test({"run_name": "x"}),
        "list_managed_images": lambda: client.list_managed_images(),
        "create_managed_image": lambda: client.create_managed_image("keyed", []),
        "get_firewall_for_project": lambda: client.get_firewall_for_project("x"),
        "upload_dataset_file": lambda: client.upload_dataset_file(__file__),
    }
    for name, call in calls.items():
        steps.run(name, call)
    steps.write(out)


def descriptors(out: Path) -> None:
    """Every file descriptor of the client's ``rime`` package, as JSON."""
    import rime_sdk.protos as protos
    from google.protobuf import descriptor_pb2
    from google.protobuf.json_format import MessageToDict

    found: dict[str, Any] = {}
    for module in pkgutil.walk_packages(protos.__path__, protos.__name__ + "."):
        if not module.name.endswith("_pb2"):
            continue
        descriptor = importlib.import_module(module.name).DESCRIPTOR
        if descriptor.package == "rime":
            proto = descriptor_pb2.FileDescriptorProto()
            descriptor.CopyToProto(proto)
            found[descriptor.name] = MessageToDict(proto, preserving_proto_field_name=True)
    out.write_text(json.dumps(found))


def main(argv: list[str]) -> int:
    """Dispatch to the mode named first."""
    mode, *args = argv
    if mode == "examples":
        examples(Path(args[0]), Path(args[1]))
    elif mode == "api-keys":
        api_keys(args[0], Path(args[1]))
    elif mode == "descriptors":
        descriptors(Path(args[0]))
    else:
        raise SystemExit(f"unknown mode {mode!r}: examples, api-keys or descriptors")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
