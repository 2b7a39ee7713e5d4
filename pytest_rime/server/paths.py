"""What a test run config may name: uploads, remote URLs and allowed local directories.

By default a config's paths (:data:`PATH_KEYS`) may name only ``rime://`` uploads of this
server and fsspec URLs of remote file systems (:data:`REMOTE_PROTOCOLS`). A local server path
is accepted only inside a root given with ``rime serve --allow-local-path DIR`` (after
resolving symlinks and ``..``), and never inside the server's data directory. Messages name
the config key, never a server path. No grpc here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_rime.engine.config import DataInfo
from pytest_rime.server.blobs import RIME_SCHEME
from pytest_rime.server.errors import InvalidArgumentError

PATH_KEYS: tuple[tuple[str, str], ...] = (
    *(("data_info", f.name) for f in dataclasses.fields(DataInfo) if f.name.endswith("_path")),
    ("model_info", "path"),
)
"""``(section, key)`` of every config value that names a file or directory."""

REMOTE_PROTOCOLS = frozenset(
    (
        "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "hdfs", "webhdfs", "http",
        "https", "ftp", "sftp", "ssh", "smb", "webdav", "hf", "memory", "github", "oci", "oss",
        "dbfs", "gdrive", "dropbox", "box", "lakefs", "wandb",
    )
)  # fmt: skip
"""fsspec protocols a config may name: remote file systems (and the worker's own memory)."""

CheckUpload = Callable[[str, str], None]
"""``check(key, uri)``: refuse a ``rime://`` reference (the blob store's check)."""


def _within(path: Path, roots: Sequence[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


@dataclass(frozen=True)
class PathPolicy:
    """The paths a server's configs may name.

    Attributes:
        data_dir: The server's data directory (resolved); nothing under it may be named.
        local_roots: Resolved directories local paths may lie in (``--allow-local-path``).
        check_upload: Refuses a malformed, missing or corrupted ``rime://`` reference.
    """

    data_dir: Path
    local_roots: tuple[Path, ...]
    check_upload: CheckUpload

    @classmethod
    def create(
        cls, data_dir: Path, local_roots: Sequence[Path], check_upload: CheckUpload
    ) -> PathPolicy:
        """A policy with ``data_dir`` and ``local_roots`` resolved."""
        roots = tuple(Path(os.path.realpath(root.expanduser())) for root in local_roots)
        return cls(Path(os.path.realpath(data_dir)), roots, check_upload)

    def check(self, key: str, value: str) -> None:
        """Refuse ``value`` (config key ``key``) unless it is an allowed path.

        Raises:
            InvalidArgumentError: Not allowed; the message names ``key`` and says what is.
            DataLossError: A ``rime://`` upload whose bytes no longer match their hash.
        """
        if value.startswith(RIME_SCHEME):
            self.check_upload(key, value)
        elif "::" in value or "://" in value:
            self._check_url(key, value)
        else:
            self._check_local(key, value)

    def _check_url(self, key: str, value: str) -> None:
        protocol = value.split("://", 1)[0].lower() if "://" in value else ""
        if "::" in value or protocol not in REMOTE_PROTOCOLS:
            raise InvalidArgumentError(
                f"{key}: only rime:// uploads and remote URLs "
                f"({', '.join(sorted(REMOTE_PROTOCOLS))}) may be named; chained URLs ('::') and "
                "local file systems (file://) are refused"
            )

    def _check_local(self, key: str, value: str) -> None:
        hint = (
            "upload it (upload_dataset_file, upload_model_directory) and use its rime:// reference"
        )
        if not self.local_roots:
            raise InvalidArgumentError(
                f"{key}: this server accepts no local paths: {hint}, or start the server with "
                "--allow-local-path"
            )
        if not os.path.isabs(value):
            raise InvalidArgumentError(f"{key}: a local path must be absolute")
        try:
            resolved = Path(os.path.realpath(value))
        except (OSError, ValueError):
            raise InvalidArgumentError(f"{key}: not a valid local path") from None
        if not _within(resolved, self.local_roots) or resolved.is_relative_to(self.data_dir):
            raise InvalidArgumentError(
                f"{key}: the path is outside the directories this server allows "
                f"(rime serve --allow-local-path): {hint}"
            )

    def check_config(self, config: Mapping[str, Any]) -> None:
        """Check every path of a validated raw ``config`` (:data:`PATH_KEYS`).

        Raises:
            InvalidArgumentError: A path is not allowed; the message names its key.
            DataLossError: A named upload is corrupted.
        """
        for section, key in PATH_KEYS:
            values = config.get(section)
            if isinstance(values, Mapping) and isinstance(values.get(key), str):
                self.check(f"{section}.{key}", values[key])
