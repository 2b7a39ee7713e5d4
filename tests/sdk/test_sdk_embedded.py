"""The embedded server: ``rime serve`` started as a child process, answered, stopped."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from pytest_rime.proto.v1 import project_pb2, project_pb2_grpc
from pytest_rime.sdk.embedded import EmbeddedServerError, start_embedded_server


def test_embedded_server_starts_answers_and_leaves_no_process(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.txt"
    key_file.write_text("# api keys\nsecret\n")
    server = start_embedded_server(
        tmp_path / "data", extra_args=["--api-key-file", str(key_file)], timeout=60
    )
    with server:
        with grpc.insecure_channel(server.address) as channel:
            info = project_pb2_grpc.ServerInfoStub(channel).GetServerInfo(
                project_pb2.GetServerInfoRequest(), metadata=(("rime-api-key", "secret"),)
            )
        assert info.web_base_url.endswith(f":{server.web_port}")
    assert server.process.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)


def test_embedded_server_failure_reports_the_log(tmp_path: Path) -> None:
    empty_keys = tmp_path / "keys.txt"
    empty_keys.write_text("\n")
    with pytest.raises(EmbeddedServerError, match="no API key found"):
        start_embedded_server(tmp_path / "data", extra_args=["--api-key-file", str(empty_keys)])
