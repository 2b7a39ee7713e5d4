"""SDK fixtures: RIMEClient connections to the real in-process servers of tests/conftest.py.

Firewall modules share, per module, one server (``module_server``), its client
(``module_client``) and the timestamped files of :mod:`firewall_data` (``firewall_files``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from firewall_data import FirewallData, write_firewall_data
from sdk_helpers import ClientFactory

from pytest_rime.sdk import RIMEClient
from pytest_rime.server.app import RunningServer, create_server
from pytest_rime.server.settings import ServerSettings


@pytest.fixture
def connect() -> Iterator[ClientFactory]:
    """``connect(server, **RIMEClient kwargs)``: a plaintext client, closed at teardown."""
    clients: list[RIMEClient] = []

    def open_client(server: Any, **kwargs: Any) -> RIMEClient:
        client = RIMEClient(server.address, disable_tls=True, **kwargs)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()


@pytest.fixture
def client(rime_server: Any, connect: ClientFactory) -> RIMEClient:
    """A client of ``rime_server``."""
    return connect(rime_server)


@pytest.fixture(scope="module")
def module_server_settings() -> dict[str, Any]:
    """More ``ServerSettings`` fields of ``module_server`` (tests/ray adds the executor's)."""
    return {}


@pytest.fixture(scope="module")
def module_server(
    tmp_path_factory: pytest.TempPathFactory, module_server_settings: dict[str, Any]
) -> Iterator[RunningServer]:
    """A real server shared by the tests of one module."""
    running = create_server(
        ServerSettings(
            data_dir=tmp_path_factory.mktemp("rime-data"),
            host="127.0.0.1",
            port=0,
            web_port=0,
            allowed_local_paths=(tmp_path_factory.getbasetemp(),),
            **module_server_settings,
        )
    )
    yield running
    running.stop(grace=0)


@pytest.fixture(scope="module")
def module_client(module_server: RunningServer) -> Iterator[RIMEClient]:
    """A client of ``module_server``."""
    with RIMEClient(module_server.address, disable_tls=True) as rime_client:
        yield rime_client


@pytest.fixture(scope="module")
def firewall_files(tmp_path_factory: pytest.TempPathFactory) -> FirewallData:
    """The reference sets, model and days of evaluation data of :mod:`firewall_data`."""
    return write_firewall_data(tmp_path_factory.mktemp("firewall-data"))
