"""Local files a test run config references: their fingerprints, uploads and rewriting.

Local data files (``data_info.ref_path`` ...) are uploaded with ``upload_dataset_file``; a
local model file is uploaded with the directory holding it (``upload_model_directory``,
so a ``model.py`` can load artefacts beside it) and the path is pointed at the file inside
the uploaded directory. The ref / eval tables of ``data_type: images`` name image files
relative to their folder, so the folder holding each table is uploaded the same way (one
directory upload, the images with it) and the path points at the table inside it. Other paths
(``rime://``, ``s3://`` ...) are left alone.

:class:`LocalNames` remembers what each upload was, so messages from the server (a failed
job's reason, a case's description) show the user's file names instead of
``rime://uploads/<id>/...`` or the server's own path of the upload.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pytest_rime.plugin.schema import LOCAL_PATH_KEYS
from pytest_rime.vocabulary import IMAGES, TABULAR

_CHUNK = 1 << 20

_FOLDER_TABLES = {IMAGES: frozenset({("data_info", "ref_path"), ("data_info", "eval_path")})}
"""Keys of tables uploaded with their folder, by data type (their rows name files beside them)."""


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


def uploads_folder(section: str, key: str, data_type: str = TABULAR) -> bool:
    """Whether the local file of ``section.key`` is uploaded with the directory holding it.

    A model always is; so is an images table (``ref_path`` / ``eval_path`` of ``data_type:
    images``), whose image files are named relative to its folder.
    """
    return section == "model_info" or (section, key) in _FOLDER_TABLES.get(data_type, ())


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


def content_hash(section: str, path: Path, folder: bool | None = None) -> str:
    """sha256 of what gets uploaded for ``path``.

    Args:
        section: The config section naming ``path``.
        path: The local file.
        folder: Whether its whole directory is uploaded (default: only for ``model_info``).
    """
    digest = hashlib.sha256()
    if folder is None:
        folder = section == "model_info"
    if folder:
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


def fingerprint(
    config: Mapping[str, Any], extra: Mapping[str, Any], data_type: str = TABULAR
) -> str:
    """sha256 of a config with its local files replaced by their contents' hashes.

    Args:
        config: The test run config with absolute local paths.
        extra: Anything else that changes the run (server, project, image, resources).
        data_type: The run's data type (an images table's hash covers its whole folder).
    """
    hashes = {
        (section, key): (
            f"sha256:{content_hash(section, path, uploads_folder(section, key, data_type))}"
        )
        for section, key, path in local_references(config)
    }
    material = {"config": _replaced(config, hashes), "extra": dict(extra)}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


_UPLOAD_URI = re.compile(r"^rime://uploads/([^/]+)(?:/(.*))?$")
_PATH_END = ".,;:"


class LocalNames:
    """Maps the server's names of uploads back to the local files they came from.

    Args:
        display_dir: Local paths under this directory are shown relative to it.
    """

    def __init__(self, display_dir: Path | None = None) -> None:
        self.display_dir = display_dir
        self._roots: dict[str, Path] = {}
        self._pattern: re.Pattern[str] | None = None

    def add(self, uri: str, local: Path) -> None:
        """Remember that ``uri`` (an upload's ``rime://`` URI) holds ``local``."""
        match = _UPLOAD_URI.match(uri.rstrip("/"))
        if match is None:
            return
        upload_id, inner = match[1], match[2]
        # A file upload's URI ends with the file's name; a directory's names the directory.
        self._roots[upload_id] = local.parent if inner and local.is_file() else local
        ids = "|".join(re.escape(i) for i in sorted(self._roots, key=len, reverse=True))
        self._pattern = re.compile(
            rf"(?:rime://|[^\s'\"(),=]*[/\\])?uploads[/\\]({ids})((?:[/\\][^\s'\"(),;]*)?)"
        )

    def display(self, path: Path) -> str:
        """``path`` relative to :attr:`display_dir` when inside it, else as it is."""
        if self.display_dir is not None and path.is_relative_to(self.display_dir):
            return path.relative_to(self.display_dir).as_posix() or "."
        return str(path)

    def _local(self, match: re.Match[str]) -> str:
        inner = match[2].strip("/\\")
        tail = ""
        while inner and inner[-1] in _PATH_END:  # punctuation after the path
            inner, tail = inner[:-1], inner[-1] + tail
        local = self._roots[match[1]]
        return self.display(local / inner if inner else local) + tail

    def localize(self, text: str) -> str:
        """``text`` with every reference to a known upload replaced by the local name."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(self._local, text)

    def localize_value(self, value: Any) -> Any:
        """:meth:`localize` applied to the strings inside ``value`` (lists, mappings)."""
        if isinstance(value, str):
            return self.localize(value)
        if isinstance(value, Mapping):
            return {k: self.localize_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.localize_value(v) for v in value]
        return value


def upload_and_rewrite(
    config: Mapping[str, Any],
    upload_file: Callable[[Path], str],
    upload_directory: Callable[[Path], str],
    names: LocalNames | None = None,
    data_type: str = TABULAR,
) -> dict[str, Any]:
    """Upload the local files of ``config`` and return a copy pointing at ``rime://`` URIs.

    Args:
        config: The test run config with absolute local paths.
        upload_file: Uploads one data file, returns its URI.
        upload_directory: Uploads a directory (a model's, an images table's), returns its URI.
        names: Where to remember each upload's local file (for messages).
        data_type: The run's data type: an images table is uploaded with its folder (once
            for tables sharing a folder).
    """
    uris: dict[tuple[str, str], str] = {}
    directories: dict[Path, str] = {}
    for section, key, path in local_references(config):
        if uploads_folder(section, key, data_type):
            directory, inner = model_upload(path)
            if directory not in directories:
                directories[directory] = upload_directory(directory)
                if names is not None:
                    names.add(directories[directory], directory)
            uri = directories[directory]
            uris[(section, key)] = f"{uri.rstrip('/')}/{inner}" if inner else uri
        else:
            uris[(section, key)] = upload_file(path)
            if names is not None:
                names.add(uris[(section, key)], path)
    return _replaced(config, uris)
