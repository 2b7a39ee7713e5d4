"""The blob store on S3 (``blob_url``): objects on moto's emulator, data loss, bad URLs.

Real in-process servers with ``blob_url=s3://<bucket>/store``, the SDK uploading into them,
and boto3 looking at (and corrupting) the objects behind the server's back.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Callable
from pathlib import Path

import fsspec
import grpc
import pytest
import s3fs
from objectstore_helpers import S3

from pytest_rime.proto.v1 import upload_pb2, upload_pb2_grpc
from pytest_rime.sdk import RIMEClient, RIMEError
from pytest_rime.server.app import RunningServer
from pytest_rime.server.blobs import BlobStore, resolve_rime_uri
from pytest_rime.server.blobstore_backends import BlobUrlError
from pytest_rime.server.errors import DataLossError

ServerFactory = Callable[..., RunningServer]
PREFIX = "store"


def _upload_id(uri: str) -> str:
    return uri.removeprefix("rime://uploads/").split("/")[0]


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def server(rime_server_factory: ServerFactory, s3: S3) -> RunningServer:
    """A server keeping its blobs on ``s3://<bucket>/store``."""
    return rime_server_factory(blob_url=s3.url(PREFIX))


def test_uploads_are_objects_on_the_emulator_and_nothing_is_written_under_data_dir(
    server: RunningServer, rime_server_factory: ServerFactory, s3: S3, tmp_path: Path
) -> None:
    data = b"age,label\n30,1\n41,0\n"
    csv = _write(tmp_path / "files" / "ref.csv", data)
    model = tmp_path / "model"
    _write(model / "model.py", b"def predict_df(df):\n    return df['age'] / 100\n")
    _write(model / "weights" / "w.bin", data)  # the same bytes: one blob
    with RIMEClient(server.address, disable_tls=True) as rime:
        file_uri = rime.upload_dataset_file(csv)
        model_uri = rime.upload_model_directory(model)
        assert rime.upload_dataset_file(csv) == file_uri

    digest = hashlib.sha256(data).hexdigest()
    file_id, model_id = _upload_id(file_uri), _upload_id(model_uri)
    keys = s3.keys()
    assert all(key.startswith(f"{PREFIX}/") for key in keys)
    blobs = [key for key in keys if key.startswith(f"{PREFIX}/blobs/")]
    assert len(blobs) == 2 and f"{PREFIX}/blobs/{digest[:2]}/{digest}" in blobs
    assert s3.get(f"{PREFIX}/uploads/{file_id}/ref.csv") == data
    assert s3.get(f"{PREFIX}/uploads/{model_id}/weights/w.bin") == data
    manifest = json.loads(s3.get(f"{PREFIX}/manifests/{model_id}.json"))
    assert manifest == {"model.py": manifest["model.py"], "weights/w.bin": digest}
    assert not any((server.data_dir / name).exists() for name in ("blobs", "uploads", "manifests"))
    assert list((server.data_dir / "tmp").iterdir()) == []

    # The worker's view: the object's URL, read without the server's disk.
    nowhere = tmp_path / "not-the-data-dir"
    located = resolve_rime_uri(nowhere, file_uri, blob_url=s3.url(PREFIX))
    assert located == s3.url(f"{PREFIX}/uploads/{file_id}/ref.csv")
    with fsspec.open(located, "rb") as stream:
        assert stream.read() == data
    assert not nowhere.exists()
    # Same bytes, same reference as on a local-disk server.
    local = rime_server_factory(data_dir=tmp_path / "local-data")
    with RIMEClient(local.address, disable_tls=True) as rime:
        assert rime.upload_dataset_file(csv) == file_uri


def test_a_corrupted_object_is_data_loss_naming_the_upload_and_uploading_again_repairs_it(
    server: RunningServer, s3: S3, tmp_path: Path
) -> None:
    data = b"age,label\n30,1\n41,0\n"
    csv = _write(tmp_path / "ref.csv", data)
    blob_url = s3.url(PREFIX)
    with RIMEClient(server.address, disable_tls=True) as rime:
        uri = rime.upload_dataset_file(csv)
        upload_key = f"{PREFIX}/uploads/{_upload_id(uri)}/ref.csv"
        s3.put(upload_key, b"age,label\n99,1\n")
        config = {
            "data_info": {"ref_path": uri, "eval_path": uri, "label_col": "label"},
            "model_info": {"path": uri},
            "model_task": "Binary Classification",
        }
        with pytest.raises(RIMEError) as info:
            rime.start_stress_test(config)
        assert info.value.code == grpc.StatusCode.DATA_LOSS
        assert uri in info.value.details and "ref.csv" in info.value.details
        with pytest.raises(DataLossError, match=uri):
            resolve_rime_uri(tmp_path, uri, blob_url=blob_url)

        s3.client.delete_object(Bucket=s3.bucket, Key=upload_key)
        with pytest.raises(DataLossError, match="no longer matches"):
            resolve_rime_uri(tmp_path, uri, blob_url=blob_url)

        digest = hashlib.sha256(data).hexdigest()
        s3.put(f"{PREFIX}/blobs/{digest[:2]}/{digest}", b"rotten")
        assert rime.upload_dataset_file(csv) == uri
    assert s3.get(upload_key) == data
    assert s3.get(f"{PREFIX}/blobs/{digest[:2]}/{digest}") == data
    assert resolve_rime_uri(tmp_path, uri, blob_url=blob_url).endswith("/ref.csv")


def test_unknown_references_are_not_found(s3: S3, tmp_path: Path) -> None:
    for uri in ("rime://uploads/" + "0" * 32, "rime://uploads/x/../y", "s3://bucket/x"):
        with pytest.raises(FileNotFoundError):
            resolve_rime_uri(tmp_path, uri, blob_url=s3.url(PREFIX))


def test_unsafe_paths_are_refused_and_nothing_is_written_outside_the_prefix(
    server: RunningServer, s3: S3
) -> None:
    Chunk = upload_pb2.UploadChunk
    with grpc.insecure_channel(server.address) as channel:
        stub = upload_pb2_grpc.FileUploadStub(channel)
        for path in ("../escape.csv", "a/../../escape.csv", "/abs.csv", "a//b.csv"):
            with pytest.raises(grpc.RpcError) as info:
                stub.UploadDirectory(iter([Chunk(relative_path=path, data=b"x")]))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        stub.UploadDirectory(iter([Chunk(relative_path="a/b.csv", data=b"x")]))
    keys = s3.keys()
    assert keys and all(key.startswith(f"{PREFIX}/") for key in keys)
    assert not any("escape" in key or "abs" in key for key in keys)


@pytest.mark.parametrize(
    ("blob_url", "expected"),
    [
        ("nosuchprotocol://bucket/prefix", "Protocol not known"),
        ("s3://rime-no-such-bucket/prefix", "cannot write objects there"),
        ("s3://AKIDEXAMPLE:hunter2@bucket/prefix", "must not contain credentials"),
        ("bucket/prefix", "expected one fsspec URL"),
    ],
)
def test_a_bad_blob_url_fails_at_startup_naming_the_flag(
    rime_server_factory: ServerFactory, s3: S3, tmp_path: Path, blob_url: str, expected: str
) -> None:
    data_dir = tmp_path / "data"
    with pytest.raises(BlobUrlError, match=expected) as info:
        rime_server_factory(data_dir=data_dir, blob_url=blob_url)
    message = str(info.value)
    assert message.startswith("--blob-url")
    assert "hunter2" not in message and s3.secret not in message
    assert rime_server_factory(data_dir=data_dir, blob_url=s3.url(PREFIX)).port  # lock released


def test_an_unreachable_endpoint_fails_at_startup_naming_the_flag(
    rime_server_factory: ServerFactory, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", closed)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        with pytest.raises(BlobUrlError, match="cannot write objects there") as info:
            rime_server_factory(blob_url=s3.url(PREFIX))
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
    assert str(info.value).startswith("--blob-url") and closed in str(info.value)
    assert s3.secret not in str(info.value)


def test_any_fsspec_url_holds_the_store(tmp_path: Path) -> None:
    blob_url = f"memory://rime-{tmp_path.name}/store"
    store = BlobStore(tmp_path / "data", 1 << 20, blob_url)
    files = [("model.py", b"def predict_df(df): ...\n"), ("w/a.bin", b"\x00\x01")]
    uri = store.upload_directory(iter(files)).rime_uri
    located = resolve_rime_uri(tmp_path / "elsewhere", f"{uri}/w/a.bin", blob_url=blob_url)
    with fsspec.open(located, "rb") as stream:
        assert stream.read() == b"\x00\x01"
    with fsspec.open(located, "wb") as stream:
        stream.write(b"changed")
    with pytest.raises(DataLossError, match=r"'w/a\.bin' no longer matches"):
        store.check_upload("model_info.path", uri)
    assert store.upload_directory(iter(files)).rime_uri == uri
    store.check_upload("model_info.path", uri)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["tmp"]
