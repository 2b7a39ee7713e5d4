"""Choosing and chunking the files to upload: hidden files, relative paths, 1 MiB chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_rime.sdk.uploads import (
    CHUNK_SIZE_BYTES,
    UploadFile,
    directory_files,
    existing_file,
    total_size,
    upload_chunks,
)


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
