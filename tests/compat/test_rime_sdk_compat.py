"""The published rime-sdk 0.16.14 client, unchanged, against ``rime serve`` on port 80 (slow).

The client dials ``<domain>:80`` without TLS and ``<domain>:443`` with it, so the servers take
those ports: run in a private network namespace where only loopback is up, with the client in
its own venv (its ``rime.*`` protos must not share a process with ours)::

    scripts/make_rime_client_venv.sh /tmp/rime-sdk-venv
    RIME_SDK_VENV=/tmp/rime-sdk-venv unshare -n sh -c 'ip link set lo up && pytest -m compat'

The client runs tests/compat/client_examples.py as a subprocess; what it read must equal what
our SDK reads for the same jobs.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pkgutil
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.json_format import MessageToDict

import pytest_rime.proto.rime as our_protos
from pytest_rime.sdk import RIMEClient, RIMEStressTestJob

pytestmark = pytest.mark.compat

CLIENT_SCRIPT = Path(__file__).with_name("client_examples.py")
SERVER_HELPERS = Path(__file__).parents[1] / "server"
START_TIMEOUT_SECS = 60.0
CLIENT_TIMEOUT_SECS = 900.0
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


@pytest.fixture(scope="module")
def client_python() -> Path:
    """The python of the client venv named by ``RIME_SDK_VENV`` (skips when unset)."""
    venv = os.environ.get("RIME_SDK_VENV", "")
    if not venv:
        pytest.skip(
            "RIME_SDK_VENV is not set: make the client venv with "
            "scripts/make_rime_client_venv.sh DIR and set RIME_SDK_VENV=DIR"
        )
    python = Path(venv) / "bin" / "python"
    if not python.is_file():
        pytest.fail(f"RIME_SDK_VENV={venv}: no bin/python there (scripts/make_rime_client_venv.sh)")
    return python


def _ip(*args: str) -> list[str]:
    ip = shutil.which("ip")
    if ip is None:
        pytest.fail("the compat tests need iproute2's ip to check the network namespace")
    out = subprocess.run([ip, "-o", *args], check=True, capture_output=True, text=True).stdout
    return out.splitlines()


@pytest.fixture(scope="module")
def private_network(client_python: Path) -> None:
    """Fail unless only loopback is up here (a private network namespace)."""
    hint = "run in a private network namespace: unshare -n sh -c 'ip link set lo up && pytest ...'"
    links = [line.split(":", 2) for line in _ip("link")]
    up = {
        name.strip().split("@")[0]
        for _, name, rest in links
        if "UP" in rest.split("<", 1)[-1].split(">", 1)[0].split(",")
    }
    if up - {"lo"}:
        pytest.fail(
            f"network interfaces other than loopback are up ({sorted(up - {'lo'})}): {hint}"
        )
    if "lo" not in up:
        pytest.fail(f"loopback is down: {hint}")
    addresses = [line.split()[3] for line in _ip("addr") if line.split()[1] != "lo"]
    if addresses:
        pytest.fail(f"non-loopback addresses are configured ({addresses}): {hint}")


def client_env(**extra: str) -> dict[str, str]:
    """This environment without proxy settings (the client's requests and gRPC honour them)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return {**env, **extra}


def run_client(python: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run client_examples.py with ``args`` (its last one the JSON it writes); that JSON."""
    done = subprocess.run(
        [str(python), str(CLIENT_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_SECS,
        env=env or client_env(),
    )
    assert done.returncode == 0, (
        f"client script failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    )
    return json.loads(Path(args[-1]).read_text())  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Served:
    """A ``rime serve`` process: its ports, data directory and log."""

    process: subprocess.Popen[bytes]
    port: int
    web_port: int
    data_dir: Path
    log: Path


@contextlib.contextmanager
def rime_serve(directory: Path, port: int, *options: str) -> Iterator[Served]:
    """``rime serve --port PORT`` with its data under ``directory``; stopped with SIGTERM."""
    port_file, log = directory / "port.json", directory / "serve.log"
    rime = Path(sys.executable).with_name("rime")
    command = [
        *(str(rime), "serve", "--port", str(port), "--web-port", "0"),
        *("--data-dir", str(directory / "data"), "--port-file", str(port_file), *options),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECS
        tick = threading.Event()
        while not port_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"rime serve did not start:\n{log.read_text()[-5000:]}")
            tick.wait(0.05)
        ports = json.loads(port_file.read_text())
        yield Served(process, ports["port"], ports["web_port"], directory / "data", log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def port80(private_network: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``rime serve`` on port 80, no API keys, managed images built without a package index."""
    with rime_serve(tmp_path_factory.mktemp("serve80"), 80, "--no-pip-index") as served:
        yield served


def listening_addresses() -> list[str]:
    """The local addresses of every listening TCP socket here (``ss -ltn``)."""
    ss = shutil.which("ss")
    if ss is None:
        pytest.fail("the compat tests need iproute2's ss to list listening sockets")
    out = subprocess.run([ss, "-ltnH"], check=True, capture_output=True, text=True).stdout
    return [line.split()[3] for line in out.splitlines()]


def assert_only_loopback_listens() -> None:
    """Fail when any socket listens on an address other than loopback."""
    addresses = listening_addresses()
    hosts = [address.rsplit(":", 1)[0].strip("[]").split("%")[0] for address in addresses]
    outside = [a for a, host in zip(addresses, hosts, strict=True) if host not in LOOPBACK]
    assert not outside, f"listening beyond loopback: {outside} (all: {addresses})"


MODEL_SOURCE = """
import numpy as np


def predict_df(df):
    score = 0.04 * (df["age"] - 40) + np.where(df["city"] == "Paris", 0.5, 0.0)
    return 1.0 / (1.0 + np.exp(-score))
"""


def write_client_data(directory: Path, rows: int = 300) -> Path:
    """What the client uploads: ``ref.csv``, ``eval.csv``, ``model/``, ``incremental.csv``.

    The incremental data spreads its rows over two UTC days (column ``ts``).
    """
    rng = np.random.default_rng(0)

    def frame() -> pd.DataFrame:
        age = rng.integers(18, 80, rows)
        city = rng.choice(["Paris", "Lyon", "Nice"], rows)
        odds = 1 / (1 + np.exp(-(0.04 * (age - 40) + np.where(city == "Paris", 0.5, 0.0))))
        label = (rng.random(rows) < odds).astype(int)
        return pd.DataFrame({"age": age, "city": city, "label": label})

    (directory / "model").mkdir(parents=True)
    (directory / "model" / "model.py").write_text(MODEL_SOURCE)
    frame().to_csv(directory / "ref.csv", index=False)
    frame().to_csv(directory / "eval.csv", index=False)
    start = pd.Timestamp("2024-05-01", tz="UTC")
    hours = pd.to_timedelta([(i * 48) // rows for i in range(rows)], unit="h")
    stamps = (start + hours).strftime("%Y-%m-%d %H:%M:%S")
    frame().assign(ts=stamps).to_csv(directory / "incremental.csv", index=False)
    return directory


@pytest.fixture(scope="module")
def client_steps(
    port80: Served, client_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """What client_examples.py read, running the reference's examples against ``port80``."""
    work = tmp_path_factory.mktemp("client")
    data = write_client_data(work / "data")
    steps = run_client(client_python, "examples", str(data), str(work / "steps.json"))
    assert_only_loopback_listens()  # the server and its workers, the jobs done
    return steps


def records(frame: pd.DataFrame) -> Any:
    """A data frame as JSON records (what client_examples.py writes)."""
    return json.loads(frame.to_json(orient="records"))


RUN_COLUMNS = {
    "metadata.id": "metadata.test_run_id",
    "metadata.name": "metadata.run_name",
    "metadata.project_id": "metadata.project_id",
    "metadata.model_task": "metadata.model_task",
    "metadata.data_type": "metadata.data_type",
}
"""Run summary columns of the client -> ours, besides ``metrics.*`` (named alike on both)."""


def _comparable(value: Any) -> Any:
    """Enum names as both SDKs spell them alike (``BINARY_CLASSIFICATION``, ``TABULAR``)."""
    return value.upper().replace(" ", "_") if isinstance(value, str) else value


def assert_same_rows(
    name: str, theirs: list[Any], ours: list[Any], columns: dict[str, str] | None = None
) -> None:
    """The client's rows equal ours in every column the client kept (renamed by ``columns``).

    Without ``columns`` every column of the client's must be one of ours; with them, only the
    mapped ones and ``metrics.*`` are compared (the client also keeps columns ours does not
    read, such as the upload time).
    """
    assert theirs and len(theirs) == len(ours), (name, len(theirs), len(ours))
    differences = []
    for i, (their_row, our_row) in enumerate(zip(theirs, ours, strict=True)):
        for column, their_value in their_row.items():
            if columns is not None and column not in columns and not column.startswith("metrics."):
                continue
            our_value = our_row.get((columns or {}).get(column, column), "missing")
            if _comparable(their_value) != _comparable(our_value):
                differences.append((i, column, their_value, our_value))
    assert not differences, f"{name}: (row, column, client, ours): {differences[:20]}"


def test_reference_examples_run_unchanged(port80: Served, client_steps: dict[str, Any]) -> None:
    steps = client_steps
    failing = {name: step["error"] for name, step in steps.items() if not step["ok"]}
    assert not failing, "client steps failed:\n" + "\n".join(
        f"  {name}: {error}" for name, error in failing.items()
    )

    def value(name: str) -> Any:
        return steps[name]["value"]

    project_id = value("create_project")["project_id"]
    job_id = value("start_stress_test")
    assert value("get_status")["status"] == "JOB_STATUS_SUCCEEDED"
    with RIMEClient(f"127.0.0.1:{port80.port}", disable_tls=True) as ours:
        job = RIMEStressTestJob(ours.backend, job_id)
        cases = records(job.get_test_cases_result())
        assert_same_rows("get_test_cases_result", value("get_test_cases_result"), cases)
        assert_same_rows(
            "get_test_run_result",
            value("get_test_run_result"),
            records(job.get_test_run_result()),
            RUN_COLUMNS,
        )
        assert value("get_link") == job.get_link()
        assert project_id in value("list_projects")
        later = value("create_project_for_reference")["project_id"]  # made after the listing
        assert {p.project_id for p in ours.list_projects()[0]} - {later} == set(
            value("list_projects")
        )
        for name, statuses in (
            ("list_stress_test_jobs", None),
            ("list_stress_test_jobs_succeeded", ["succeeded"]),
            ("list_stress_test_jobs_failed_or_pending", ["failed", "pending"]),
        ):
            listed = ours.list_stress_test_jobs(status_filters=statuses, project_id=project_id)
            assert value(name) == sorted(j.job_id for j in listed), name
        assert value("list_stress_test_jobs_succeeded") == [job_id]

        assert value("managed_image_get_status")["status"] == "STATUS_READY"
        for name, library in (
            ("list_managed_images", None),
            ("list_managed_images_with_pandas", "pandas"),
            ("list_managed_images_with_missing_library", "no-such-library"),
        ):
            filters = [ours.pip_library_filter(library)] if library else None
            images, _ = ours.list_managed_images(pip_library_filters=filters)
            assert value(name) == sorted(image["name"] for image in images), name
        assert value("list_managed_images_with_pandas") == ["compat-pandas"]
        assert value("list_managed_images_with_missing_library") == []

        firewall = ours.get_firewall_for_project(project_id)
        assert value("create_firewall") == value("get_firewall_for_project")
        assert value("get_firewall_for_project") == firewall.firewall_id
        assert value("firewall_get_link") == firewall.get_link()
        for name in ("run_firewall_incremental_data", "start_firewall_from_reference"):
            status = RIMEStressTestJob(ours.backend, value(name)).get_status()
            assert status["status"] == "JOB_STATUS_SUCCEEDED", (name, status)
        for name in ("incremental_get_status", "reference_get_status"):
            assert value(name)["status"] == "JOB_STATUS_SUCCEEDED", (name, value(name))


def test_no_server_path_reaches_the_client(port80: Served, client_steps: dict[str, Any]) -> None:
    leaks = [
        name for name, step in client_steps.items() if str(port80.data_dir) in json.dumps(step)
    ]
    assert not leaks, f"a server path reached the client in {leaks}"


def test_nothing_listens_beyond_loopback(port80: Served) -> None:
    assert any(address.endswith(":80") for address in listening_addresses())
    assert_only_loopback_listens()


def test_wrong_or_missing_api_key_is_value_error(
    private_network: None, client_python: Path, tmp_path: Path
) -> None:
    sys.path.insert(0, str(SERVER_HELPERS))
    try:
        server_helpers = importlib.import_module("server_helpers")
    finally:
        sys.path.remove(str(SERVER_HELPERS))
    cert, key = server_helpers.write_self_signed_cert(tmp_path)
    keys = tmp_path / "keys.txt"
    keys.write_text("the-right-key\n")
    options = ("--tls-cert", str(cert), "--tls-key", str(key), "--api-key-file", str(keys))
    env = client_env(GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=str(cert))  # trust the test's certificate
    with rime_serve(tmp_path, 443, *options):
        right = run_client(client_python, "api-keys", "the-right-key", str(tmp_path / "ok.json"),
                           env=env)  # fmt: skip
        assert right["list_projects"]["ok"], right["list_projects"]
        for wrong in ("a-wrong-key", ""):
            steps = run_client(client_python, "api-keys", wrong, str(tmp_path / "no.json"), env=env)
            for name, step in steps.items():
                assert not step["ok"], (wrong, name, step)
                assert step["error"].startswith("ValueError"), (wrong, name, step)
                assert "UNAUTHENTICATED" in step["error"], (wrong, name, step)


def _symbols(files: dict[str, Any]) -> dict[str, Any]:
    """Each message field, enum value and method of ``files`` (FileDescriptorProtos as dicts)."""
    found: dict[str, Any] = {}

    def messages(prefix: str, listed: list[dict[str, Any]]) -> None:
        for message in listed:
            name = f"{prefix}.{message['name']}"
            found[name] = "message"
            for field in message.get("field", []):
                found[f"{name}#{field['name']}"] = (
                    field["number"], field["type"], field["label"], field.get("type_name", "")
                )  # fmt: skip
            messages(name, message.get("nested_type", []))
            enums(name, message.get("enum_type", []))

    def enums(prefix: str, listed: list[dict[str, Any]]) -> None:
        for enum in listed:
            name = f"{prefix}.{enum['name']}"
            found[name] = "enum"
            for item in enum.get("value", []):
                found[f"{name}#{item['name']}"] = item.get("number", 0)

    for file in files.values():
        package = f".{file['package']}"
        messages(package, file.get("message_type", []))
        enums(package, file.get("enum_type", []))
        for service in file.get("service", []):
            name = f"{package}.{service['name']}"
            found[name] = "service"
            for method in service.get("method", []):
                found[f"{name}#{method['name']}"] = (
                    method["input_type"], method["output_type"],
                    method.get("client_streaming", False), method.get("server_streaming", False),
                )  # fmt: skip
    return found


def _our_descriptors() -> dict[str, Any]:
    files: dict[str, Any] = {}
    for module in pkgutil.iter_modules(our_protos.__path__, our_protos.__name__ + "."):
        if module.name.endswith("_pb2"):
            descriptor = importlib.import_module(module.name).DESCRIPTOR
            proto = descriptor_pb2.FileDescriptorProto()
            descriptor.CopyToProto(proto)
            files[descriptor.name] = MessageToDict(proto, preserving_proto_field_name=True)
    return files


def test_our_rime_protos_match_the_published_client(client_python: Path, tmp_path: Path) -> None:
    theirs = _symbols(run_client(client_python, "descriptors", str(tmp_path / "theirs.json")))
    ours = _symbols(_our_descriptors())
    assert {f["package"] for f in _our_descriptors().values()} == {"rime"}
    assert ours, "no rime protos of ours found"
    differences = {
        symbol: (mine, theirs.get(symbol, "missing"))
        for symbol, mine in ours.items()
        if theirs.get(symbol) != mine
    }
    assert not differences, "our rime protos differ from the client's: " + json.dumps(
        differences, indent=1, default=str
    )
