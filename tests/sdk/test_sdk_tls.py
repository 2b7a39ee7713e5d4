"""TLS: the client verifies the server with ssl_channel_credentials (system roots)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_rime.sdk import RIMEClient, RIMEUnavailableError

_CLIENT_SCRIPT = textwrap.dedent(
    """
    import sys
    from pytest_rime.sdk import RIMEClient

    for domain in sys.argv[1:]:
        with RIMEClient(domain, api_key="k", channel_timeout=20) as client:
            print(client.create_project("over tls", "").name)
    """
)


@pytest.fixture
def tls_server(rime_server_factory: Any, tmp_path: Path) -> tuple[Any, Path]:
    """A server with a self-signed certificate for localhost / 127.0.0.1."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return rime_server_factory(tls_cert=cert, tls_key=key, api_keys=("k",)), cert


def test_tls_client_trusting_the_certificate(tls_server: tuple[Any, Path]) -> None:
    server, cert = tls_server
    # The default root store is read once per process, so the trusting client runs in its own.
    env = {**os.environ, "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(cert)}
    domains = [f"localhost:{server.port}", f"https://localhost:{server.port}"]
    result = subprocess.run(
        [sys.executable, "-c", _CLIENT_SCRIPT, *domains],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["over", "tls", "over", "tls"]


def test_plaintext_client_cannot_reach_a_tls_server(tls_server: tuple[Any, Path]) -> None:
    server, _ = tls_server
    with pytest.raises(RIMEUnavailableError, match=f"localhost:{server.port}"):
        RIMEClient(f"http://localhost:{server.port}", channel_timeout=0.5)
