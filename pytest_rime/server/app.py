"""Assemble and run a server: gRPC servicers, health, auth, job queue and web app.

In-process (tests, notebooks)::

    with create_server(ServerSettings(data_dir=tmp, port=0)) as server:
        channel = grpc.insecure_channel(server.address)

As a process: ``rime serve`` calls :func:`serve`, which stops gracefully on SIGTERM/SIGINT.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from pytest_rime.proto.v1 import (
    firewall_pb2_grpc,
    image_registry_pb2_grpc,
    model_testing_pb2_grpc,
    project_pb2_grpc,
    results_pb2_grpc,
    upload_pb2_grpc,
)
from pytest_rime.server.blobs import BlobStore
from pytest_rime.server.datadir import DataDirLock, lock_data_dir
from pytest_rime.server.interceptors import ApiKeyInterceptor, ErrorInterceptor
from pytest_rime.server.jobs import JobQueue
from pytest_rime.server.rime_wire import RIME_SERVICE_NAMES, add_rime_servicers
from pytest_rime.server.servicers.context import Backend
from pytest_rime.server.servicers.firewalls import FirewallService
from pytest_rime.server.servicers.images import ImageRegistry
from pytest_rime.server.servicers.model_testing import ModelTesting
from pytest_rime.server.servicers.projects import ProjectManager, ServerInfo
from pytest_rime.server.servicers.results import ResultsReader
from pytest_rime.server.servicers.uploads import FileUpload
from pytest_rime.server.settings import ServerSettings
from pytest_rime.server.store import Store
from pytest_rime.server.upload_urls import UploadUrls
from pytest_rime.server.web import Site, WebApp, server_context

DEFAULT_GRACE_SECS = 5.0
_SERVICE_NAMES = (
    "pytest_rime.proto.v1.ProjectManager",
    "pytest_rime.proto.v1.ServerInfo",
    "pytest_rime.proto.v1.FileUpload",
    "pytest_rime.proto.v1.ModelTesting",
    "pytest_rime.proto.v1.ResultsReader",
    "pytest_rime.proto.v1.ImageRegistry",
    "pytest_rime.proto.v1.FirewallService",
    *RIME_SERVICE_NAMES,
)

_log = logging.getLogger(__name__)


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _public_host(host: str) -> str:
    """A host name clients can reach: the machine's name when listening on all interfaces."""
    return socket.getfqdn() if host in ("", "0.0.0.0", "::") else host


class RunningServer:
    """A started server; stop it with :meth:`stop` or use it as a context manager.

    Attributes:
        settings: The effective settings (``data_dir`` resolved).
        port: The bound gRPC port.
        web_port: The bound web app port.
    """

    def __init__(
        self,
        settings: ServerSettings,
        grpc_server: grpc.Server,
        port: int,
        health_servicer: health.HealthServicer,
        backend: Backend,
        web: WebApp,
        data_dir_lock: DataDirLock | None = None,
    ) -> None:
        self.settings = settings
        self.port = port
        self.web_port = web.port
        self._grpc_server = grpc_server
        self._health = health_servicer
        self._backend = backend
        self._web = web
        self._data_dir_lock = data_dir_lock
        self._stopped = False
        self._stop_lock = threading.Lock()

    @property
    def address(self) -> str:
        """``host:port`` to open a channel to."""
        return f"{_host_for_url(self.settings.host)}:{self.port}"

    @property
    def web_base_url(self) -> str:
        """Base URL of the web app."""
        return self._backend.web_base_url

    @property
    def data_dir(self) -> Path:
        """The server's data directory."""
        return self.settings.data_dir

    @property
    def store(self) -> Store:
        """The server's SQLite store."""
        return self._backend.store

    def stop(self, grace: float | None = DEFAULT_GRACE_SECS) -> None:
        """Stop gracefully; calling it again does nothing.

        Health turns NOT_SERVING, in-flight RPCs get ``grace`` seconds, running workers are
        terminated (their jobs FAILED), then the web app and the store close.
        """
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self._health.enter_graceful_shutdown()
        self._grpc_server.stop(grace).wait()
        self._backend.jobs.shutdown()
        self._web.stop()
        self._backend.store.close()
        if self._data_dir_lock is not None:
            self._data_dir_lock.release()
        _log.info("server on %s stopped", self.address)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _bind(server: grpc.Server, settings: ServerSettings) -> int:
    address = f"{_host_for_url(settings.host)}:{settings.port}"
    if settings.tls_cert and settings.tls_key:
        credentials = grpc.ssl_server_credentials(
            [(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())]
        )
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    if not port:
        raise OSError(f"could not listen on {address}")
    return port


def create_server(settings: ServerSettings) -> RunningServer:
    """Start a server as described by ``settings`` and return it running.

    The data directory is made private (``0700``) and locked for this server first.

    Raises:
        DataDirInUseError: Another server uses the data directory.
        OSError: The gRPC or web port could not be bound.
        ValueError: Only one of ``tls_cert`` and ``tls_key`` was given.
        BlobUrlError: ``blob_url`` is malformed or cannot be written to (a ``ValueError``).
    """
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ValueError("give both --tls-cert and --tls-key, or neither")
    data_dir = settings.data_dir.expanduser().resolve()
    lock = lock_data_dir(data_dir)
    try:
        return _start_server(replace(settings, data_dir=data_dir), lock)
    except BaseException:
        lock.release()
        raise


def _start_server(settings: ServerSettings, lock: DataDirLock) -> RunningServer:
    data_dir = settings.data_dir
    blobs = BlobStore(data_dir, settings.upload_limit_bytes, settings.blob_url)
    store = Store(data_dir / "rime.db")
    jobs = JobQueue(store, settings)
    web = WebApp(settings.host, settings.web_port, tls=server_context(settings))
    backend = Backend(
        settings=settings,
        store=store,
        blobs=blobs,
        jobs=jobs,
        web_base_url=settings.web_base_url.rstrip("/")
        or f"{web.scheme}://{_host_for_url(_public_host(settings.host))}:{web.port}",
    )
    upload_urls = UploadUrls(blobs, data_dir, backend.web_base_url, settings.upload_url_ttl_secs)
    web.start(Site(store, jobs, settings, backend.web_base_url, upload_urls))
    interceptors: list[grpc.ServerInterceptor[Any, Any]] = [ErrorInterceptor()]
    if settings.api_keys:
        interceptors.insert(0, ApiKeyInterceptor(settings.api_keys))
    grpc_server = grpc.server(
        ThreadPoolExecutor(max_workers=32, thread_name_prefix="rime-grpc"),
        interceptors=interceptors,
    )
    project_pb2_grpc.add_ProjectManagerServicer_to_server(ProjectManager(backend), grpc_server)
    project_pb2_grpc.add_ServerInfoServicer_to_server(ServerInfo(backend), grpc_server)
    upload_pb2_grpc.add_FileUploadServicer_to_server(FileUpload(backend), grpc_server)
    model_testing_pb2_grpc.add_ModelTestingServicer_to_server(ModelTesting(backend), grpc_server)
    results_pb2_grpc.add_ResultsReaderServicer_to_server(ResultsReader(backend), grpc_server)
    image_registry_pb2_grpc.add_ImageRegistryServicer_to_server(ImageRegistry(backend), grpc_server)
    firewall_pb2_grpc.add_FirewallServiceServicer_to_server(FirewallService(backend), grpc_server)
    add_rime_servicers(grpc_server, backend, upload_urls)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    try:
        port = _bind(grpc_server, settings)
    except BaseException:
        web.stop()
        store.close()
        raise
    grpc_server.start()
    jobs.start()
    for service in ("", *_SERVICE_NAMES):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    running = RunningServer(settings, grpc_server, port, health_servicer, backend, web, lock)
    _log.debug("serving on %s (web app %s)", running.address, running.web_base_url)
    return running


def write_port_file(path: Path, server: RunningServer) -> None:
    """Write ``{"port", "web_port", "pid"}`` to ``path`` atomically."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(
        json.dumps({"port": server.port, "web_port": server.web_port, "pid": os.getpid()})
    )
    os.replace(temporary, path)


def serve(settings: ServerSettings, *, port_file: Path | None = None) -> None:
    """Run a server until SIGTERM or SIGINT, then stop it gracefully."""
    stop_requested = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop_requested.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        with create_server(settings) as server:
            if port_file is not None:
                write_port_file(port_file, server)
            print(
                f"rime server on {server.address}, web app {server.web_base_url} "
                f"(port {server.web_port}), "
                f"data in {server.data_dir}",
                flush=True,
            )
            stop_requested.wait()
            print("rime server stopping", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
