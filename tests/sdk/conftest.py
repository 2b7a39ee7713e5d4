"""SDK fixtures: RIMEClient connections to the real in-process servers of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sdk_helpers import ClientFactory

from pytest_rime.sdk import RIMEClient


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
