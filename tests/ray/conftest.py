"""Fixtures of the Ray tests (``pytest -m ray``, inside a private network namespace).

Ray binds the machine's own interface address even when told 127.0.0.1, so these tests run only
inside a private network namespace where loopback is the only interface
(``scripts/run_ray_tests.sh``: ``unshare -n``, ``ip link set lo up``, ``pytest -m ray``); outside
one the cluster fixture fails and says so.

- ``ray_cluster``: a local single-node Ray cluster of 2 CPUs, started once per session with
  ``ray start --head --block`` on 127.0.0.1 and a free port; its value is the cluster's GCS
  address ``"127.0.0.1:PORT"`` (what ``ray.init(address=...)`` takes). Ending the ``ray start``
  process at teardown stops the processes it started (no ``ray stop``: that would end every
  Ray cluster of the machine).
- ``ray_driver``: this process connected to ``ray_cluster`` for the session, so the servers'
  executors share one driver connection.
- ``rime_server_factory`` (overrides tests/conftest.py's): servers with ``executor="ray"`` on
  ``ray_cluster``, so the very tests of tests/server and tests/sdk imported into this directory
  run their jobs as Ray tasks.
- ``rime_serve_args`` (overrides tests/conftest.py's): ``rime serve`` processes started by
  the tests run their jobs on the cluster too.
- ``module_server_settings`` (overrides tests/sdk/conftest.py's): the module-scoped servers of
  the SDK's firewall tests run their jobs on the cluster too.
- ``connect`` / ``client`` / ``module_server`` / ``module_client`` / ``firewall_files``:
  tests/sdk's fixtures, for the SDK tests imported here.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent.parent
for _directory in ("server", "sdk"):
    if str(TESTS / _directory) not in sys.path:
        sys.path.insert(0, str(TESTS / _directory))


def _load_sdk_fixtures() -> Any:
    spec = importlib.util.spec_from_file_location("sdk_conftest", TESTS / "sdk" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_sdk = _load_sdk_fixtures()
connect = _sdk.connect
client = _sdk.client
module_server = _sdk.module_server
module_client = _sdk.module_client
firewall_files = _sdk.firewall_files

RAY_CPUS = 2
READY_LINE = "Ray runtime started"
STOP_TIMEOUT_SECS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def network_interfaces() -> list[str]:
    """The network interfaces of this process's network namespace (``/proc/self/net/dev``)."""
    lines = Path("/proc/self/net/dev").read_text().splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines)


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The GCS address of a 2-CPU Ray cluster on loopback (see the module docstring)."""
    interfaces = network_interfaces()
    if interfaces != ["lo"]:
        pytest.fail(
            f"the Ray tests must run in a private network namespace with loopback only (found "
            f"interfaces {interfaces}): run scripts/run_ray_tests.sh",
            pytrace=False,
        )
    # Token authentication on, with a token of this session's own: every process of the
    # session (ray start, this driver, the job workers) inherits it, and another cluster's
    # ~/.ray/auth_token does not get in the way.
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    port = _free_port()
    ray = Path(sys.executable).with_name("ray")
    log_path = tmp_path_factory.mktemp("ray") / "ray_start.log"
    command = [
        str(ray), "start", "--head", "--block",
        "--node-ip-address", "127.0.0.1", "--port", str(port),
        "--num-cpus", str(RAY_CPUS), "--include-dashboard", "false", "--disable-usage-stats",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # A runtime environment that cannot be built (a managed image whose requirements
        # are not on the index) fails after one attempt instead of Ray's default three.
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RUNTIME_ENV_RETRY_TIMES": "1"},
    )
    assert process.stdout is not None
    seen: list[str] = []
    for line in process.stdout:  # blocks until ray start reports, or exits
        seen.append(line)
        if READY_LINE in line:
            break
    else:
        process.wait()
        pytest.fail(f"ray start exited with {process.returncode}:\n{''.join(seen)}")
    log_path.write_text("".join(seen))
    stream = process.stdout

    def drain() -> None:  # keep ray start's later output from filling the pipe
        with stream, log_path.open("a") as log:
            for rest in stream:
                log.write(rest)

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        drainer.join(STOP_TIMEOUT_SECS)


@pytest.fixture(scope="session")
def ray_driver(ray_cluster: str) -> Iterator[str]:
    """This process as a driver of ``ray_cluster`` (its GCS address) for the session."""
    import ray

    ray.init(address=ray_cluster, namespace="rime", log_to_driver=False)
    try:
        yield ray_cluster
    finally:
        ray.shutdown()


@pytest.fixture
def rime_server_factory(
    rime_server_factory: Callable[..., Any], ray_driver: str
) -> Callable[..., Any]:
    """Start servers (as tests/conftest.py does) whose jobs run on the Ray cluster."""

    def start(data_dir: Path | None = None, **settings: Any) -> Any:
        settings.setdefault("executor", "ray")
        settings.setdefault("ray_address", ray_driver)
        return rime_server_factory(data_dir, **settings)

    return start


@pytest.fixture
def rime_serve_args(ray_driver: str) -> list[str]:
    """``rime serve`` options that run the server's jobs on the Ray cluster."""
    return ["--executor", "ray", "--ray-address", ray_driver]


@pytest.fixture(scope="module")
def module_server_settings(ray_driver: str) -> dict[str, Any]:
    """``ServerSettings`` fields of a module's shared server: jobs on the Ray cluster."""
    return {"executor": "ray", "ray_address": ray_driver}
