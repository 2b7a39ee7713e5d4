"""Uploads into the content-addressed blob store, through raw gRPC stubs."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from server_helpers import details, jobs_stub

from pytest_rime.proto.v1 import model_testing_pb2, upload_pb2, upload_pb2_grpc
from pytest_rime.server.app import RunningServer
from pytest_rime.server.blobs import resolve_rime_uri
from pytest_rime.server.errors import DataLossError

Chunk = upload_pb2.UploadChunk


def _stub(channel: grpc.Channel) -> upload_pb2_grpc.FileUploadStub:
    return upload_pb2_grpc.FileUploadStub(channel)


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_file_upload_gives_a_stable_reference(
    rime_server: RunningServer, rime_channel: grpc.Channel
) -> None:
    data = b"a,b\n1,2\n" * 1000
    chunks = [Chunk(relative_path="ref.csv", data=data[:5000]), Chunk(data=data[5000:])]
    first = _stub(rime_channel).UploadFile(iter(chunks))
    again = _stub(rime_channel).UploadFile(iter([Chunk(relative_path="ref.csv", data=data)]))
    other = _stub(rime_channel).UploadFile(iter([Chunk(relative_path="ref.csv", data=b"x")]))

    assert first.rime_uri == again.rime_uri != other.rime_uri
    assert first.rime_uri.startswith("rime://uploads/")
    assert first.rime_uri.endswith("/ref.csv")
    assert (first.num_files, first.size_bytes) == (1, len(data))
    local = Path(resolve_rime_uri(rime_server.data_dir, first.rime_uri))
    assert local.read_bytes() == data
    digest = hashlib.sha256(data).hexdigest()
    assert (rime_server.data_dir / "blobs" / digest[:2] / digest).read_bytes() == data


def test_directory_upload_keeps_the_tree(
    rime_server: RunningServer, rime_channel: grpc.Channel
) -> None:
    chunks = [
        Chunk(relative_path="model.py", data=b"def predict_df(df):\n"),
        Chunk(relative_path="model.py", data=b"    return df['x']\n"),
        Chunk(relative_path="weights/w.bin", data=b"\x00\x01"),
        Chunk(relative_path="empty.txt", data=b""),
    ]
    response = _stub(rime_channel).UploadDirectory(iter(chunks))
    assert (response.num_files, response.size_bytes) == (3, 41)
    root = Path(resolve_rime_uri(rime_server.data_dir, response.rime_uri))
    assert _tree(root) == {"model.py", "weights", "weights/w.bin", "empty.txt"}
    assert (root / "model.py").read_bytes() == b"def predict_df(df):\n    return df['x']\n"
    assert (root / "empty.txt").read_bytes() == b""
    same = _stub(rime_channel).UploadDirectory(iter(reversed(chunks[2:])))
    assert same.rime_uri != response.rime_uri


def test_upload_over_the_limit_is_rejected_and_leaves_nothing(
    rime_server_factory: Callable[..., RunningServer],
) -> None:
    server = rime_server_factory(upload_limit_mb=0.01)  # 10 KiB
    with grpc.insecure_channel(server.address) as channel:
        before = _tree(server.data_dir)
        chunks = iter([Chunk(relative_path=f"f{i}", data=b"x" * 4096) for i in range(3)])
        with pytest.raises(grpc.RpcError) as info:
            _stub(channel).UploadDirectory(chunks)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "limit" in details(info.value)
        assert _tree(server.data_dir) == before
        small = _stub(channel).UploadFile(iter([Chunk(relative_path="ok", data=b"x" * 4096)]))
        assert small.size_bytes == 4096


@pytest.mark.parametrize(
    "name",
    ["../evil", "a/../../evil", "/tmp/evil", "a\\..\\evil", "a\x00b", "a//b", "./a", "a/", ""],
)
def test_unsafe_paths_are_rejected_and_nothing_is_written_outside(
    rime_server: RunningServer, rime_channel: grpc.Channel, tmp_path: Path, name: str
) -> None:
    outside_before = _tree(tmp_path)
    store_before = _tree(rime_server.data_dir)
    stub = _stub(rime_channel)
    good, bad = Chunk(relative_path="fine.txt", data=b"ok"), Chunk(relative_path=name, data=b"!")
    for method, chunks in ((stub.UploadDirectory, [good, bad]), (stub.UploadFile, [bad])):
        with pytest.raises(grpc.RpcError) as info:
            method(iter(chunks))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not allowed" in details(info.value) or "file name" in details(info.value)
    assert _tree(tmp_path) == outside_before
    assert _tree(rime_server.data_dir) == store_before
    assert not Path("/tmp/evil").exists()


@pytest.mark.parametrize(
    ("chunks", "words"),
    [
        ([], "no file"),
        (
            [
                Chunk(relative_path="a", data=b"1"),
                Chunk(relative_path="b"),
                Chunk(relative_path="a"),
            ],
            "appears twice",
        ),
        (
            [Chunk(relative_path="a", data=b"1"), Chunk(relative_path="a/b", data=b"2")],
            "both a file",
        ),
    ],
)
def test_malformed_directory_uploads_are_rejected(
    rime_channel: grpc.Channel, chunks: list[upload_pb2.UploadChunk], words: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _stub(rime_channel).UploadDirectory(iter(chunks))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in details(info.value)


def test_file_upload_of_two_names_or_a_nested_name_is_rejected(rime_channel: grpc.Channel) -> None:
    for chunks in (
        [Chunk(relative_path="a", data=b"1"), Chunk(relative_path="b", data=b"2")],
        [Chunk(relative_path="dir/a", data=b"1")],
    ):
        with pytest.raises(grpc.RpcError) as info:
            _stub(rime_channel).UploadFile(iter(chunks))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "uri",
    [
        "rime://uploads/ffffffffffffffff/ref.csv",
        "rime://uploads/../rime.db",
        "rime://blobs/aa",
        "s3://bucket/key",
    ],
)
def test_resolver_rejects_unknown_references(rime_server: RunningServer, uri: str) -> None:
    with pytest.raises(FileNotFoundError, match=r"rime://|not a rime"):
        resolve_rime_uri(rime_server.data_dir, uri)


def _blob(server: RunningServer, data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    return server.data_dir / "blobs" / digest[:2] / digest


def _overwrite(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)  # in place: the upload's hard link to the blob changes too


def _start_with_ref(channel: grpc.Channel, ref_path: str) -> model_testing_pb2.Job:
    config = {"data_info": {"ref_path": ref_path, "eval_path": "memory://a/eval.csv"}}
    request = model_testing_pb2.StartStressTestRequest(test_run_config_json=json.dumps(config))
    return jobs_stub(channel).StartStressTest(request).job


def test_a_corrupted_blob_fails_loudly_and_uploading_again_repairs_it(
    rime_server: RunningServer, rime_channel: grpc.Channel
) -> None:
    data = b"a,b\n1,2\n" * 100
    uri = _stub(rime_channel).UploadFile(iter([Chunk(relative_path="ref.csv", data=data)])).rime_uri
    _overwrite(_blob(rime_server, data), b"a,b\n6,6\n")

    with pytest.raises(DataLossError, match="corrupted") as info:
        resolve_rime_uri(rime_server.data_dir, uri)  # what the worker reads through
    assert uri in str(info.value)
    assert str(rime_server.data_dir) not in str(info.value)
    with pytest.raises(grpc.RpcError) as refused:
        _start_with_ref(rime_channel, uri)
    assert refused.value.code() == grpc.StatusCode.DATA_LOSS
    assert details(refused.value).startswith(f"data_info.ref_path: upload {uri} is corrupted")
    assert str(rime_server.data_dir) not in details(refused.value)

    again = _stub(rime_channel).UploadFile(iter([Chunk(relative_path="ref.csv", data=data)]))
    assert again.rime_uri == uri
    assert _blob(rime_server, data).read_bytes() == data
    assert Path(resolve_rime_uri(rime_server.data_dir, uri)).read_bytes() == data
    assert _start_with_ref(rime_channel, uri).id


def test_deleted_blobs_and_upload_files_are_restored_by_uploading_again(
    rime_server: RunningServer, rime_channel: grpc.Channel
) -> None:
    files = {"model.py": b"def predict_df(df):\n    return df['x']\n", "w/weights.bin": b"\x01"}
    chunks = [Chunk(relative_path=name, data=data) for name, data in files.items()]
    uri = _stub(rime_channel).UploadDirectory(iter(chunks)).rime_uri
    root = Path(resolve_rime_uri(rime_server.data_dir, uri))
    _blob(rime_server, files["model.py"]).unlink()  # the upload's hard link still has the bytes
    (root / "w" / "weights.bin").unlink()
    with pytest.raises(DataLossError, match=r"'w/weights\.bin' no longer matches"):
        resolve_rime_uri(rime_server.data_dir, uri)

    assert _stub(rime_channel).UploadDirectory(iter(chunks)).rime_uri == uri
    for name, data in files.items():
        assert _blob(rime_server, data).read_bytes() == data
        assert (root / name).read_bytes() == data
    assert resolve_rime_uri(rime_server.data_dir, uri) == str(root)


def test_blobs_upload_files_and_manifests_are_private_whatever_the_umask(
    rime_server: RunningServer, rime_channel: grpc.Channel
) -> None:
    previous = os.umask(0o002)
    try:
        chunk = Chunk(relative_path="ref.csv", data=b"a\n1\n")
        uri = _stub(rime_channel).UploadFile(iter([chunk])).rime_uri
    finally:
        os.umask(previous)
    upload_id = uri.split("/")[3]
    for path in (
        _blob(rime_server, b"a\n1\n"),
        Path(resolve_rime_uri(rime_server.data_dir, uri)),
        rime_server.data_dir / "manifests" / f"{upload_id}.json",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
