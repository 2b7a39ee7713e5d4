"""Start ``rime serve`` as a child process and stop it again (used by the pytest plugin).

Client-side code: it runs the server's command line (``python -m pytest_rime.cli serve``) in a
subprocess and talks to it over gRPC only; it imports nothing of :mod:`pytest_rime.server`.
Importing this module is cheap: grpc is imported only while waiting for the health check.

    server = start_embedded_server(data_dir)
    try:
        client = RIMEClient(server.address)
        ...
    finally:
        server.stop()
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

DEFAULT_START_TIMEOUT = 60.0


class EmbeddedServerError(RuntimeError):
    """The embedded server did not start; the message carries its output."""


@dataclass
class EmbeddedServer:
    """A ``rime serve`` child process.

    Attributes:
        process: The child.
        host: The interface it listens on.
        port: Its gRPC port.
        web_port: Its web app port.
        data_dir: Its data directory.
        log_path: Where its stdout and stderr go.
    """

    process: subprocess.Popen[bytes]
    host: str
    port: int
    web_port: int
    data_dir: Path
    log_path: Path

    @property
    def address(self) -> str:
        """``host:port`` to open a channel to."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (graceful stop), then SIGKILL after ``timeout``; always reaps the child."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _read_port_file(path: Path) -> dict[str, int] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def _wait_for_port_file(
    process: subprocess.Popen[bytes], port_file: Path, deadline: float
) -> dict[str, int]:
    while True:
        ports = _read_port_file(port_file)
        if ports is not None:
            return ports
        if time.monotonic() > deadline:
            raise EmbeddedServerError(f"rime serve did not write {port_file} in time")
        try:
            returncode = process.wait(0.05)
        except subprocess.TimeoutExpired:
            continue
        raise EmbeddedServerError(f"rime serve exited with code {returncode}")


def _wait_healthy(address: str, deadline: float) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=max(deadline - time.monotonic(), 0.1))
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=max(deadline - time.monotonic(), 0.1)
        )
        if response.status != health_pb2.HealthCheckResponse.SERVING:
            raise EmbeddedServerError(f"server at {address} answered health {response.status}")


def start_embedded_server(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    extra_args: Sequence[str] = (),
    timeout: float = DEFAULT_START_TIMEOUT,
    python: str = sys.executable,
) -> EmbeddedServer:
    """Start ``rime serve`` on a free port and wait until it answers health checks.

    Args:
        data_dir: The server's data directory (created if missing); its ``server.log``
            receives the server's output and ``server.port.json`` its ports.
        host: Interface to listen on.
        extra_args: More ``rime serve`` options (e.g. ``["--max-concurrent-jobs", "2"]``).
        timeout: Seconds to wait for the port file and the health check.
        python: Interpreter to run the server with.

    Returns:
        A handle; call :meth:`EmbeddedServer.stop` when done.

    Raises:
        EmbeddedServerError: The server exited or did not become healthy in time; the
            message includes the end of its log.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port_file = data_dir / "server.port.json"
    port_file.unlink(missing_ok=True)
    log_path = data_dir / "server.log"
    command = [
        python, "-m", "pytest_rime.cli", "serve",
        "--data-dir", str(data_dir), "--host", host, "--port", "0", "--web-port", "0",
        "--port-file", str(port_file), *extra_args,
    ]  # fmt: skip
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=os.environ
        )
    deadline = time.monotonic() + timeout
    try:
        ports = _wait_for_port_file(process, port_file, deadline)
        server = EmbeddedServer(process, host, ports["port"], ports["web_port"], data_dir, log_path)
        _wait_healthy(server.address, deadline)
    except BaseException as exc:
        process.kill()
        process.wait()
        if isinstance(exc, Exception):
            tail = log_path.read_text(errors="replace")[-4000:]
            raise EmbeddedServerError(f"{exc}\n--- server log ---\n{tail}") from exc
        raise
    return server
