"""rime FileUpload on a real server: upload URLs PUT to over HTTP, as the published client does.

Every test gets URLs through our generated ``rime`` stubs and PUTs with ``urllib`` to the
server's web port: the happy paths (a file, a directory), a destination named in a stress test
config, and each refusal (reused, wrong, expired, over the limit, escaping paths).
"""

from __future__ import annotations

import http.client
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import grpc
import pytest
from rime_wire_helpers import RimeStubs, code_of

from pytest_rime.proto.rime import file_upload_pb2, file_upload_pb2_grpc, jobs_pb2
from pytest_rime.sdk import RIMEClient
from pytest_rime.server.app import RunningServer
from pytest_rime.server.blobs import resolve_rime_uri
from pytest_rime.server.errors import InvalidArgumentError
from pytest_rime.server.upload_urls import resolve_destinations

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
ServerFactory = Callable[..., RunningServer]


def put(url: str, body: bytes | Iterable[bytes]) -> int:
    """PUT ``body`` (an iterable is sent chunked) and return the HTTP status."""
    request = urllib.request.Request(url, data=body, method="PUT")
    try:
        with _OPENER.open(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def get_status(url: str) -> int:
    """GET ``url`` (an upload URL's state) and return the HTTP status."""
    try:
        with _OPENER.open(url, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def uploader(server: RunningServer) -> file_upload_pb2_grpc.FileUploadStub:
    return file_upload_pb2_grpc.FileUploadStub(grpc.insecure_channel(server.address))


def file_urls(
    server: RunningServer, file_name: str
) -> file_upload_pb2.GetDatasetFileUploadURLResponse:
    request = file_upload_pb2.GetDatasetFileUploadURLRequest(file_name=file_name)
    return uploader(server).GetDatasetFileUploadURL(request)


def directory_urls(
    server: RunningServer, paths: list[str]
) -> file_upload_pb2.GetModelDirectoryUploadURLsResponse:
    request = file_upload_pb2.GetModelDirectoryUploadURLsRequest(
        directory_name="model", relative_file_paths=paths
    )
    return uploader(server).GetModelDirectoryUploadURLs(request)


def upload_file(server: RunningServer, path: Path) -> str:
    """Upload ``path`` the published client's way; its destination."""
    urls = file_urls(server, path.name)
    assert put(urls.upload_url, path.read_bytes()) == 200
    assert put(urls.done_file_upload_url, b"Upload complete: 2026-01-01T00:00:00+0000") == 200
    return urls.destination_url


def upload_file_bytes(server: RunningServer, name: str, data: bytes) -> str:
    """Upload ``data`` as file ``name`` the published client's way; its destination."""
    urls = file_urls(server, name)
    assert put(urls.upload_url, data) == 200
    assert put(urls.done_file_upload_url, b"done") == 200
    return urls.destination_url


def upload_directory(server: RunningServer, directory: Path) -> str:
    """Upload every file under ``directory`` the published client's way; its destination."""
    files = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
    urls = directory_urls(server, files)
    assert sorted(urls.upload_path_map) == files
    for name, url in urls.upload_path_map.items():
        assert put(url, (directory / name).read_bytes()) == 200
    assert put(urls.done_file_upload_url, b"Upload complete") == 200
    return urls.destination_url


def stored_files(server: RunningServer) -> set[Path]:
    """Every file in the server's blob store and upload staging area."""
    return {
        path
        for area in ("blobs", "uploads", "tmp")
        for path in (server.data_dir / area).rglob("*")
        if path.is_file()
    }


def test_dataset_file_is_stored_where_its_destination_says(
    rime_server: RunningServer, tmp_path: Path
) -> None:
    data = tmp_path / "ref.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    urls = file_urls(rime_server, "ref.csv")
    assert urls.upload_url.startswith(f"{rime_server.web_base_url}/upload-urls/")
    assert urls.done_file_upload_url.startswith(f"{rime_server.web_base_url}/upload-urls/")
    assert urls.upload_url != urls.done_file_upload_url
    assert urls.destination_url.startswith("rime://upload-urls/")
    assert urls.destination_url.endswith("/ref.csv")
    assert urls.upload_limit == rime_server.settings.upload_limit_bytes

    assert put(urls.upload_url, data.read_bytes()) == 200
    # Not done yet: the destination names nothing a config could use.
    with pytest.raises(InvalidArgumentError, match=r"config: .*no finished upload"):
        resolve_destinations(rime_server.data_dir, urls.destination_url)
    assert put(urls.done_file_upload_url, b"Upload complete") == 200

    reference = resolve_destinations(rime_server.data_dir, urls.destination_url)
    assert Path(resolve_rime_uri(rime_server.data_dir, reference)).read_bytes() == data.read_bytes()
    # The same reference our SDK's upload of the same file gets (content-addressed).
    with RIMEClient(rime_server.address, disable_tls=True) as client:
        assert client.upload_dataset_file(data) == reference


def test_model_directory_keeps_its_tree(rime_server: RunningServer, tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "weights").mkdir(parents=True)
    (model / "model.py").write_text("def predict_df(df):\n    return df['a'] * 0\n")
    (model / "weights" / "w.bin").write_bytes(bytes(range(256)) * 300)
    (model / "weights" / "empty.txt").write_bytes(b"")
    destination = upload_directory(rime_server, model)

    reference = resolve_destinations(rime_server.data_dir, destination)
    root = Path(resolve_rime_uri(rime_server.data_dir, reference))
    for name in ("model.py", "weights/w.bin", "weights/empty.txt"):
        assert (root / name).read_bytes() == (model / name).read_bytes()
    inside = resolve_destinations(rime_server.data_dir, f"{destination}/weights/w.bin")
    assert inside == f"{reference}/weights/w.bin"
    with RIMEClient(rime_server.address, disable_tls=True) as client:
        assert client.upload_model_directory(model) == reference


def test_destinations_run_a_stress_test(
    rime_server: RunningServer,
    stubs: RimeStubs,
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    dataset = write_tabular_dataset(tmp_path / "data")
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.py").write_bytes(dataset.model_path.read_bytes())
    config = dataset.config(model_info={"path": upload_directory(rime_server, model)})
    config["data_info"]["ref_path"] = upload_file(rime_server, dataset.ref_path)
    config["data_info"]["eval_path"] = upload_file(rime_server, dataset.eval_path)

    job = stubs.wait(stubs.start_stress_test(config).id)
    assert job.status == jobs_pb2.JOB_STATUS_SUCCEEDED
    assert stubs.all_test_cases(stubs.test_run_id(job.id))


def test_unfinished_destination_in_a_config_is_refused(
    rime_server: RunningServer,
    stubs: RimeStubs,
    write_tabular_dataset: Callable[..., Any],
    tmp_path: Path,
) -> None:
    dataset = write_tabular_dataset(tmp_path / "data")
    urls = file_urls(rime_server, "ref.csv")
    config = dataset.config()
    config["data_info"]["ref_path"] = urls.destination_url
    with pytest.raises(grpc.RpcError) as caught:
        stubs.start_stress_test(config)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "data_info.ref_path" in caught.value.details()
    assert "no finished upload" in caught.value.details()


def test_each_url_is_used_once(rime_server: RunningServer) -> None:
    urls = file_urls(rime_server, "a.csv")
    assert put(urls.upload_url, b"a\n1\n") == 200
    assert put(urls.upload_url, b"a\n2\n") == 410
    assert put(urls.done_file_upload_url, b"done") == 200
    assert put(urls.done_file_upload_url, b"done") == 410
    reference = resolve_destinations(rime_server.data_dir, urls.destination_url)
    assert Path(resolve_rime_uri(rime_server.data_dir, reference)).read_bytes() == b"a\n1\n"


def test_done_waits_for_every_file(rime_server: RunningServer) -> None:
    urls = directory_urls(rime_server, ["a.txt", "b/c.txt"])
    assert put(urls.upload_path_map["a.txt"], b"a") == 200
    assert put(urls.done_file_upload_url, b"done") == 409  # b/c.txt is missing
    assert put(urls.upload_path_map["b/c.txt"], iter([b"c", b"c"])) == 200  # chunked
    assert put(urls.done_file_upload_url, b"done") == 200
    reference = resolve_destinations(rime_server.data_dir, f"{urls.destination_url}/b/c.txt")
    assert Path(resolve_rime_uri(rime_server.data_dir, reference)).read_bytes() == b"cc"


def test_wrong_urls_are_refused(rime_server: RunningServer) -> None:
    urls = file_urls(rime_server, "a.csv")
    before = stored_files(rime_server)
    base = f"{rime_server.web_base_url}/upload-urls/"
    assert put(base + secrets.token_urlsafe(32), b"x") == 404
    assert put(urls.upload_url + "x", b"x") == 404
    assert put(urls.upload_url[:-1], b"x") == 404
    assert put(base, b"x") == 405  # no token: not an upload URL at all
    assert put(f"{rime_server.web_base_url}/projects", b"x") == 405
    assert get_status(base + secrets.token_urlsafe(32)) == 404
    assert stored_files(rime_server) == before
    assert get_status(urls.upload_url) == 405  # still valid: only PUT to it


def test_upload_urls_need_no_api_key(rime_server_factory: ServerFactory) -> None:
    server = rime_server_factory(api_keys=("secret-key",))
    channel = grpc.insecure_channel(server.address)
    stub = file_upload_pb2_grpc.FileUploadStub(channel)
    request = file_upload_pb2.GetDatasetFileUploadURLRequest(file_name="a.csv")
    assert code_of(lambda: stub.GetDatasetFileUploadURL(request)) == grpc.StatusCode.UNAUTHENTICATED
    urls = stub.GetDatasetFileUploadURL(request, metadata=[("rime-api-key", "secret-key")])
    assert put(urls.upload_url, b"a\n1\n") == 200  # the URL is the capability
    assert put(urls.done_file_upload_url, b"done") == 200
    assert get_status(f"{server.web_base_url}/projects") == 401  # the pages still need a key


def test_expired_urls_are_refused(rime_server_factory: ServerFactory) -> None:
    server = rime_server_factory(upload_url_ttl_secs=0.5)
    urls = directory_urls(server, ["a.txt", "b.txt"])
    assert put(urls.upload_path_map["a.txt"], b"a") == 200  # started in time
    deadline = time.monotonic() + 30
    tick = threading.Event()
    while get_status(urls.upload_path_map["b.txt"]) != 410:
        assert time.monotonic() < deadline, "the upload URL never expired"
        tick.wait(0.05)
    assert put(urls.upload_path_map["b.txt"], b"b") == 410
    assert put(urls.done_file_upload_url, b"done") == 410
    with pytest.raises(InvalidArgumentError, match="no finished upload"):
        resolve_destinations(server.data_dir, urls.destination_url)
    assert not any((server.data_dir / "uploads").iterdir())


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_over_the_limit_stores_nothing(rime_server_factory: ServerFactory, chunked: bool) -> None:
    server = rime_server_factory(upload_limit_mb=1 / 1024)  # 1 KiB
    urls = directory_urls(server, ["small.txt", "big.bin"])
    assert urls.upload_limit == 1024
    before = stored_files(server)
    assert put(urls.upload_path_map["small.txt"], b"s" * 600) == 200
    big = b"b" * 600  # 1200 bytes together: past the limit
    assert put(urls.upload_path_map["big.bin"], iter([big]) if chunked else big) == 413
    assert put(urls.done_file_upload_url, b"done") == 409  # the upload was voided
    with pytest.raises(InvalidArgumentError, match="no finished upload"):
        resolve_destinations(server.data_dir, urls.destination_url)
    assert stored_files(server) == before


@pytest.mark.parametrize(
    "paths",
    [["../escape.py"], ["/etc/passwd"], ["a/../../b"], ["a\\..\\b"], [""], ["a", "a"], []],
)
def test_escaping_directory_paths_are_refused(rime_server: RunningServer, paths: list[str]) -> None:
    assert code_of(lambda: directory_urls(rime_server, paths)) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("name", ["../a.csv", "a/b.csv", "..", "", "a\x00.csv"])
def test_escaping_file_names_are_refused(rime_server: RunningServer, name: str) -> None:
    assert code_of(lambda: file_urls(rime_server, name)) == grpc.StatusCode.INVALID_ARGUMENT


def test_escaping_destinations_are_refused(rime_server: RunningServer) -> None:
    destination = upload_file_bytes(rime_server, "a.csv", b"a\n1\n")
    for bad in (
        f"{destination}/../../../../etc/passwd",
        "rime://upload-urls/../uploads/x",
        "rime://upload-urls/",
    ):
        with pytest.raises(InvalidArgumentError, match=r"config\.data_info\.ref_path"):
            resolve_destinations(rime_server.data_dir, {"data_info": {"ref_path": bad}})


@pytest.mark.parametrize(
    "body", [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n"], ids=["bad-size", "too-long"]
)
def test_malformed_chunked_body_is_refused(rime_server: RunningServer, body: bytes) -> None:
    urls = file_urls(rime_server, "a.csv")
    before = stored_files(rime_server)
    target = urllib.parse.urlsplit(urls.upload_url)
    connection = http.client.HTTPConnection(target.netloc, timeout=30)
    connection.putrequest("PUT", target.path)
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(body)
    assert connection.getresponse().status == 400
    connection.close()
    assert put(urls.done_file_upload_url, b"done") == 409  # the upload was voided
    assert stored_files(rime_server) == before
