"""Fixtures for the object storage tests: moto's S3 server on loopback and its credentials.

``s3``: one emulator per test module (``moto.server.ThreadedMotoServer`` on 127.0.0.1, port 0)
with the ``AWS_*`` variables pointing at it set in ``os.environ`` (so job workers, started as
subprocesses, inherit them) and a fresh bucket per test. The secret key is random so tests can
check it never appears in logs or messages.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import boto3
import pytest
import s3fs
from moto.server import ThreadedMotoServer
from objectstore_helpers import S3, Emulator


@pytest.fixture(scope="module")
def s3_emulator() -> Iterator[Emulator]:
    """Moto's S3 server on 127.0.0.1 with the environment of its clients, for one module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    emulator = Emulator(f"http://{host}:{port}", f"rime-secret-{secrets.token_hex(12)}")
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "rime-test-key")
        env.setenv("AWS_SECRET_ACCESS_KEY", emulator.secret)
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_ENDPOINT_URL_S3", emulator.endpoint)
        env.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        s3fs.S3FileSystem.clear_instance_cache()  # clients made for another endpoint
        try:
            yield emulator
        finally:
            s3fs.S3FileSystem.clear_instance_cache()
            server.stop()


@pytest.fixture
def s3(s3_emulator: Emulator) -> S3:
    """A new empty bucket on the module's emulator."""
    client = boto3.client("s3")
    bucket = f"rime-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=bucket)
    return S3(s3_emulator.endpoint, s3_emulator.secret, bucket, client)
