"""Local files a test run config references: their fingerprints, uploads and rewriting.

Local data files (``data_info.ref_path`` ...) are uploaded with ``upload_dataset_file``; a
local model file is uploaded with the directory holding it (``upload_model_directory``,
so a ``model.py`` can load artefacts beside it) and the path is pointed at the file inside
the uploaded directory. Other paths (``rime://``, ``s3://`` ...) are left alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pytest_rime.plugin.schema import LOCAL_PATH_KEYS

_CHUNK = 1 << 20


def local_references(config: Mapping[str, Any]) -> Iterator[tuple[str, str, Path]]:
    """``(section, key, path)`` of every local file the (path-resolved) config names."""
    for section_name, key in LOCAL_PATH_KEYS:
        section = config.get(section_name)
        if isinstance(section, Mapping) and isinstance(section.get(key), str):
            value: str = section[key]
            if "://" not in value:
                yield section_name, key, Path(value)


def model_upload(path: Path) -> tuple[Path, str | None]:
    """The directory uploaded for a local model ``path`` and the file name inside it."""
    return (path, None) if path.is_dir() else (path.parent, path.name)


def _uploaded_files(directory: Path) -> list[Path]:
    """Files of ``directory`` that an upload sends (hidden files and caches skipped)."""
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file()
        and not any(
            part.startswith(".") or part == "__pycache__" for part in p.relative_to(directory).parts
        )
    )


def _hash_file(path: Path, digest: Any) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)


def content_hash(section: str, path: Path) -> str:
    """sha256 of what gets uploaded for ``path`` (the whole directory for a model)."""
    digest = hashlib.sha256()
    if section == "model_info":
        directory, inner = model_upload(path)
        digest.update(f"model:{inner}\n".encode())
        for file in _uploaded_files(directory):
            digest.update(f"{file.relative_to(directory).as_posix()}\n".encode())
            _hash_file(file, digest)
    else:
        _hash_file(path, digest)
    return digest.hexdigest()


def _replaced(config: Mapping[str, Any], values: Mapping[tuple[str, str], str]) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in config.items()}
    for (section, key), value in values.items():
        out[section][key] = value
    return out


def fingerprint(config: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    """sha256 of a config with its local files replaced by their contents' hashes.

    Args:
        config: The test run config with absolute local paths.
        extra: Anything else that changes the run (server, project, image, resources).
    """
    hashes = {
        (section, key): f"sha256:{content_hash(section, path)}"
        for section, key, path in local_references(config)
    }
    material = {"config": _replaced(config, hashes), "extra": dict(extra)}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def upload_and_rewrite(
    config: Mapping[str, Any],
    upload_file: Callable[[Path], str],
    upload_directory: Callable[[Path], str],
) -> dict[str, Any]:
    """Upload the local files of ``config`` and return a copy pointing at ``rime://`` URIs."""
    uris: dict[tuple[str, str], str] = {}
    for section, key, path in local_references(config):
        if section == "model_info":
            directory, inner = model_upload(path)
            uri = upload_directory(directory)
            uris[(section, key)] = f"{uri.rstrip('/')}/{inner}" if inner else uri
        else:
            uris[(section, key)] = upload_file(path)
    return _replaced(config, uris)
