"""RIMEClient against a real server: projects, uploads, API keys."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from sdk_helpers import ClientFactory

from pytest_rime.sdk import (
    RIMEClient,
    RIMEError,
    RIMEProject,
    RIMEResourceExhaustedError,
    RIMEUnauthenticatedError,
)


def _stored(server: Any, uri: str) -> Path:
    """Where the server materialised an upload (internals.md: uploads/<id>/<relative path>)."""
    assert uri.startswith("rime://uploads/")
    return Path(server.data_dir, "uploads", uri.removeprefix("rime://uploads/"))


def test_create_project(client: RIMEClient) -> None:
    project = client.create_project(name="foo", description="bar")
    assert isinstance(project, RIMEProject)
    assert (project.name, project.description) == ("foo", "bar")
    assert project.project_id
    with pytest.raises(dataclasses.FrozenInstanceError):
        project.name = "other"  # type: ignore[misc]


def test_list_projects_pages_through_all(client: RIMEClient) -> None:
    created = [client.create_project(f"p{i}", f"d{i}") for i in range(5)]
    everything, token = client.list_projects()
    assert token == ""
    assert set(created) <= set(everything)
    assert len(everything) == len(created) + 1  # plus the server's default project

    pages: list[list[RIMEProject]] = []
    token = ""
    while True:
        page, token = client.list_projects(page_token=token, page_size=2)
        pages.append(page)
        if not token:
            break
    assert [len(page) for page in pages] == [2, 2, 2]
    assert [p for page in pages for p in page] == everything


def test_bad_page_token_is_a_value_error(client: RIMEClient) -> None:
    with pytest.raises(ValueError, match="ListProjects") as info:
        client.list_projects(page_token="not a token")
    assert isinstance(info.value, RIMEError)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_upload_dataset_file(client: RIMEClient, rime_server: Any, tmp_path: Path) -> None:
    data = np.random.default_rng(0).bytes(2 * 1024 * 1024 + 123)  # three 1 MiB chunks
    path = tmp_path / "eval.parquet"
    path.write_bytes(data)
    uri = client.upload_dataset_file(path)
    assert uri.endswith("/eval.parquet")
    assert _stored(rime_server, uri).read_bytes() == data
    assert client.upload_dataset_file(str(path)) == uri  # same bytes and name, same reference


def test_upload_empty_file(client: RIMEClient, rime_server: Any, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").touch()
    uri = client.upload_dataset_file(tmp_path / "empty.csv")
    assert _stored(rime_server, uri).read_bytes() == b""


def test_upload_model_directory_skips_hidden(
    client: RIMEClient, rime_server: Any, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    files = {
        "model.py": b"def predict_df(df): ...\n",
        "weights/w.bin": b"\x00\x01\x02",
        "weights/.cache": b"hidden",
        ".git/HEAD": b"ref",
        ".env": b"SECRET=1",
    }
    for name, content in files.items():
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        (model / name).write_bytes(content)

    uri = client.upload_model_directory(model)
    stored = _stored(rime_server, uri)
    found = {
        p.relative_to(stored).as_posix(): p.read_bytes() for p in stored.rglob("*") if p.is_file()
    }
    assert found == {"model.py": files["model.py"], "weights/w.bin": files["weights/w.bin"]}

    with_hidden = client.upload_model_directory(str(model), upload_hidden=True)
    assert with_hidden != uri
    stored = _stored(rime_server, with_hidden)
    found = {
        p.relative_to(stored).as_posix(): p.read_bytes() for p in stored.rglob("*") if p.is_file()
    }
    assert found == files


def test_upload_path_errors(client: RIMEClient, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        client.upload_dataset_file(tmp_path / "missing.csv")
    with pytest.raises(FileNotFoundError, match="no_model"):
        client.upload_model_directory(tmp_path / "no_model")
    (tmp_path / "model.py").write_text("x = 1\n")
    with pytest.raises(OSError, match="not a directory") as info:
        client.upload_model_directory(tmp_path / "model.py")
    assert not isinstance(info.value, FileNotFoundError)
    with pytest.raises(OSError, match="not a file"):
        client.upload_dataset_file(tmp_path)
    (tmp_path / "hidden_only").mkdir()
    (tmp_path / "hidden_only" / ".x").write_text("")
    with pytest.raises(OSError, match="contains no files"):
        client.upload_model_directory(tmp_path / "hidden_only")


def test_upload_over_server_limit(
    rime_server_factory: Any, connect: ClientFactory, tmp_path: Path
) -> None:
    client = connect(rime_server_factory(upload_limit_mb=1))
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(ValueError, match="UploadFile") as info:
        client.upload_dataset_file(path)
    assert isinstance(info.value, RIMEResourceExhaustedError)


def test_wrong_or_missing_api_key(rime_server_factory: Any, connect: ClientFactory) -> None:
    server = rime_server_factory(api_keys=("s3cret",))
    for api_key in ("wrong", ""):
        client = connect(server, api_key=api_key)
        with pytest.raises(ValueError, match="CreateProject") as info:
            client.create_project("p", "d")
        assert isinstance(info.value, RIMEUnauthenticatedError)
        assert info.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_right_api_key(rime_server_factory: Any, connect: ClientFactory, tmp_path: Path) -> None:
    server = rime_server_factory(api_keys=("k1", "s3cret"))
    client = connect(server, api_key="s3cret")
    assert client.create_project("p", "d").name == "p"
    (tmp_path / "d.csv").write_text("a\n1\n")
    assert client.upload_dataset_file(tmp_path / "d.csv").endswith("/d.csv")  # streaming call


def test_http_prefix_and_context_manager(rime_server: Any) -> None:
    with RIMEClient(f"http://{rime_server.address}/") as client:
        assert client.list_projects()[0]
    with pytest.raises(ValueError, match="ListProjects"):
        client.list_projects()  # closed channel
