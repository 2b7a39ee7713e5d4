"""Connecting: domain parsing, readiness timeout naming the address."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import grpc
import pytest

from pytest_rime.sdk import RIMEClient, RIMEError, RIMEUnavailableError
from pytest_rime.sdk.channel import parse_domain


@pytest.mark.parametrize(
    ("domain", "disable_tls", "expected"),
    [
        ("rime.example.com:443", False, ("rime.example.com:443", True)),
        ("127.0.0.1:5000", True, ("127.0.0.1:5000", False)),
        ("http://127.0.0.1:5000", False, ("127.0.0.1:5000", False)),
        ("HTTPS://rime.example.com:443/", True, ("rime.example.com:443", True)),
        (" localhost:1234/ ", True, ("localhost:1234", False)),
        ("[::1]:5000", True, ("[::1]:5000", False)),
    ],
)
def test_parse_domain(domain: str, disable_tls: bool, expected: tuple[str, bool]) -> None:
    assert parse_domain(domain, disable_tls) == expected


@pytest.mark.parametrize("domain", ["", "  ", "http://", "grpc://host:1", "ftp://host:21"])
def test_bad_domains(domain: str) -> None:
    with pytest.raises(ValueError, match="domain"):
        parse_domain(domain, False)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound by this test but not listening: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_server_not_listening_names_address_within_timeout(closed_port: int) -> None:
    address = f"127.0.0.1:{closed_port}"
    started = time.monotonic()
    with pytest.raises(ValueError, match="Could not connect") as info:
        RIMEClient(address, channel_timeout=0.5, disable_tls=True)
    assert time.monotonic() - started < 5
    assert address in str(info.value)
    assert isinstance(info.value, RIMEUnavailableError)
    assert isinstance(info.value, RIMEError)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE


def test_not_listening_with_http_scheme(closed_port: int) -> None:
    with pytest.raises(RIMEUnavailableError, match="plaintext"):
        RIMEClient(f"http://127.0.0.1:{closed_port}", channel_timeout=0.2)
