"""Choosing and chunking the files to upload: hidden files, symlinks, relative paths, chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_rime.sdk import RIMEClient
from pytest_rime.sdk.uploads import (
    CHUNK_SIZE_BYTES,
    UploadFile,
    directory_files,
    existing_file,
    total_size,
    upload_chunks,
)
from pytest_rime.server.app import RunningServer
from pytest_rime.server.blobs import resolve_rime_uri


def _write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    _write(root / "model.py", b"def predict_df(df): ...\n")
    _write(root / "weights" / "w.bin", b"\x00\x01")
    _write(root / "weights" / ".cache", b"hidden file in a subdirectory")
    _write(root / ".git" / "HEAD", b"hidden directory")
    _write(root / "sub" / ".hidden" / "deep" / "f.txt", b"inside a hidden directory")
    _write(root / ".env", b"SECRET=1")
    _write(root / "a" / "b" / "c.txt", b"nested")
    return root


def _names(files: list[UploadFile]) -> list[str]:
    return [file.relative_path for file in files]


def test_hidden_files_and_directories_skipped_at_any_depth(model_dir: Path) -> None:
    assert _names(directory_files(model_dir, upload_hidden=False)) == [
        "a/b/c.txt",
        "model.py",
        "weights/w.bin",
    ]


def test_upload_hidden_includes_everything(model_dir: Path) -> None:
    assert _names(directory_files(model_dir, upload_hidden=True)) == [
        ".env",
        ".git/HEAD",
        "a/b/c.txt",
        "model.py",
        "sub/.hidden/deep/f.txt",
        "weights/.cache",
        "weights/w.bin",
    ]


def test_files_point_at_their_sources(model_dir: Path) -> None:
    for file in directory_files(model_dir, upload_hidden=True):
        assert file.path == model_dir.joinpath(*file.relative_path.split("/"))


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        directory_files(tmp_path / "nope", upload_hidden=False)
    assert str(tmp_path / "nope") in str(info.value)


def test_file_given_as_directory(tmp_path: Path) -> None:
    path = _write(tmp_path / "model.py")
    with pytest.raises(OSError, match="is not a directory") as info:
        directory_files(path, upload_hidden=False)
    assert not isinstance(info.value, FileNotFoundError)


def test_directory_with_only_hidden_files(tmp_path: Path) -> None:
    _write(tmp_path / "d" / ".only_hidden")
    (tmp_path / "d" / "empty_subdir").mkdir()
    with pytest.raises(OSError, match="contains no files"):
        directory_files(tmp_path / "d", upload_hidden=False)
    assert _names(directory_files(tmp_path / "d", upload_hidden=True)) == [".only_hidden"]


def test_existing_file_checks(tmp_path: Path) -> None:
    path = _write(tmp_path / "data.csv")
    assert existing_file(str(path)) == UploadFile(path=path, relative_path="data.csv")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        existing_file(tmp_path / "missing.csv")
    with pytest.raises(OSError, match="is not a file"):
        existing_file(tmp_path)


@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK_SIZE_BYTES - 1, CHUNK_SIZE_BYTES, CHUNK_SIZE_BYTES + 1, 2 * CHUNK_SIZE_BYTES + 7],
)
def test_chunks_reassemble_each_file(tmp_path: Path, size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    files = [
        UploadFile(_write(tmp_path / "big.bin", data), "big.bin"),
        UploadFile(_write(tmp_path / "small.txt", b"abc"), "dir/small.txt"),
    ]
    chunks = list(upload_chunks(files))
    assert all(len(chunk.data) <= CHUNK_SIZE_BYTES for chunk in chunks)
    big = [chunk for chunk in chunks if chunk.relative_path == "big.bin"]
    assert b"".join(chunk.data for chunk in big) == data
    assert len(big) == max(1, -(-size // CHUNK_SIZE_BYTES))
    assert [c.data for c in chunks if c.relative_path == "dir/small.txt"] == [b"abc"]
    assert chunks[-1].relative_path == "dir/small.txt"  # files are sent one after the other
    assert total_size(files) == size + 3


@pytest.fixture
def linked_dir(tmp_path: Path) -> Path:
    """A model directory with a link to a file and a link to a directory, both outside it."""
    secrets = tmp_path / "outside"
    _write(secrets / "id_rsa", b"PRIVATE KEY")
    root = tmp_path / "model"
    _write(root / "model.py", b"def predict_df(df): ...\n")
    (root / "key.txt").symlink_to(secrets / "id_rsa")
    (root / "home").symlink_to(secrets, target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)
    return root


def test_symlinks_are_refused_by_default_naming_them(linked_dir: Path) -> None:
    with pytest.raises(OSError, match=r"symbolic links \(home, key\.txt, loop\)") as info:
        directory_files(linked_dir, upload_hidden=False)
    assert "follow_symlinks=True" in str(info.value)


def test_hidden_symlinks_are_skipped_like_other_hidden_files(tmp_path: Path) -> None:
    root = tmp_path / "model"
    _write(root / "model.py")
    (root / ".venv").symlink_to(tmp_path, target_is_directory=True)
    assert _names(directory_files(root, upload_hidden=False)) == ["model.py"]


def test_follow_symlinks_uploads_targets_and_visits_each_directory_once(
    linked_dir: Path,
) -> None:
    files = directory_files(linked_dir, upload_hidden=False, follow_symlinks=True)
    assert _names(files) == ["home/id_rsa", "key.txt", "model.py"]  # the loop: visited once
    assert {f.relative_path: f.path.read_bytes() for f in files}["key.txt"] == b"PRIVATE KEY"


def test_the_client_refuses_symlinks_unless_asked_to_follow_them(
    client: RIMEClient, rime_server: RunningServer, linked_dir: Path
) -> None:
    with pytest.raises(OSError, match="symbolic links"):
        client.upload_model_directory(linked_dir)
    with pytest.raises(OSError, match="symbolic links"):
        client.upload_data_directory(linked_dir)
    uri = client.upload_data_directory(linked_dir, follow_symlinks=True)
    root = Path(resolve_rime_uri(rime_server.data_dir, uri))
    assert (root / "home" / "id_rsa").read_bytes() == b"PRIVATE KEY"
    assert not (root / "key.txt").is_symlink()
