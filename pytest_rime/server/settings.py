"""Server settings: everything ``rime serve`` accepts, as one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = Path("~/.rime")
"""Where ``rime serve`` keeps its database, blobs, jobs and images by default."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_JOB_TTL_HOURS = 48.0
DEFAULT_UPLOAD_LIMIT_MB = 1024
DEFAULT_MAX_CONCURRENT_JOBS = 1
DEFAULT_JOB_TIMEOUT_SECS = 6 * 3600.0
DEFAULT_JOB_LOG_LIMIT_MB = 16.0
DEFAULT_SPLIT_ROWS = 2_000_000
DEFAULT_UPLOAD_URL_TTL_SECS = 3600.0
EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ServerSettings:
    """How to run one server.

    Attributes:
        data_dir: Root of everything the server persists (SQLite, blobs, uploads, jobs, images).
        host: Interface the gRPC server and the web app listen on.
        port: gRPC port; 0 picks a free one.
        web_port: Web app port; 0 picks a free one.
        web_base_url: The web app's URL as people reach it (e.g. behind a proxy); links
            (``get_link()``) start with it. Empty: ``http(s)://<host>:<web port>``.
        api_keys: Accepted ``rime-api-key`` values; empty means no authentication.
        tls_cert: PEM certificate chain; with ``tls_key`` the gRPC port uses TLS and the web
            app HTTPS.
        tls_key: PEM private key of ``tls_cert``.
        max_concurrent_jobs: Jobs running at once; the rest wait FIFO.
        job_ttl_hours: Job listings show jobs created within this many hours.
        upload_limit_mb: Largest upload (all files of one call together) in MiB.
        pip_index_url: ``--index-url`` for managed image builds.
        pip_find_links: ``--find-links`` entries for managed image builds.
        no_pip_index: Build managed images with ``--no-index``.
        cancel_grace_secs: Time a cancelled job gets between SIGTERM and SIGKILL.
        job_timeout_secs: Wall-clock limit of a job (a config's ``job_timeout_secs`` overrides
            it); a job running longer is ended and FAILED with reason TIMEOUT.
        job_log_limit_bytes: Largest job log; older output is dropped, the tail kept.
        allowed_local_paths: Directories whose files configs may name by local path
            (``--allow-local-path``); none by default: only ``rime://`` uploads and remote URLs.
        allowed_custom_images: Venvs or interpreters ``custom_image`` may name besides the
            data directory's images (``--allow-custom-image``).
        executor: Where jobs run: ``"local"`` (worker processes of this server) or ``"ray"``
            (tasks on the Ray cluster at ``ray_address``).
        ray_address: The Ray cluster of ``executor="ray"``: ``"auto"``, ``"HOST:PORT"`` or
            ``"ray://HOST:PORT"``.
        split_rows: With ``executor="ray"``, a firewall job whose incremental data has more
            rows than this is split by time bin into tasks of about this many rows each
            (0: never split).
        blob_url: An fsspec URL (``s3://bucket/prefix``) where uploads and blobs live instead
            of ``data_dir``; empty: on the local disk under ``data_dir``.
        upload_url_ttl_secs: How long an upload URL handed out by the ``rime`` wire's
            ``FileUpload`` service stays valid.
    """

    data_dir: Path = DEFAULT_DATA_DIR
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    web_port: int = 0
    web_base_url: str = ""
    api_keys: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_concurrent_jobs: int = DEFAULT_MAX_CONCURRENT_JOBS
    job_ttl_hours: float = DEFAULT_JOB_TTL_HOURS
    upload_limit_mb: float = DEFAULT_UPLOAD_LIMIT_MB
    pip_index_url: str | None = None
    pip_find_links: tuple[str, ...] = field(default_factory=tuple)
    no_pip_index: bool = False
    cancel_grace_secs: float = 5.0
    job_timeout_secs: float = DEFAULT_JOB_TIMEOUT_SECS
    job_log_limit_bytes: int = int(DEFAULT_JOB_LOG_LIMIT_MB * 1024 * 1024)
    allowed_local_paths: tuple[Path, ...] = ()
    allowed_custom_images: tuple[Path, ...] = ()
    executor: str = "local"
    ray_address: str = "auto"
    split_rows: int = DEFAULT_SPLIT_ROWS
    blob_url: str = ""
    upload_url_ttl_secs: float = DEFAULT_UPLOAD_URL_TTL_SECS

    @property
    def upload_limit_bytes(self) -> int:
        """``upload_limit_mb`` in bytes."""
        return int(self.upload_limit_mb * 1024 * 1024)

    @property
    def pip_options(self) -> list[str]:
        """The pip command line options that select where packages come from."""
        options: list[str] = []
        if self.no_pip_index:
            options.append("--no-index")
        elif self.pip_index_url:
            options += ["--index-url", self.pip_index_url]
        for link in self.pip_find_links:
            options += ["--find-links", link]
        return options


def read_api_keys(path: Path) -> tuple[str, ...]:
    """Read API keys from ``path``: one per line; blank lines and ``#`` comments are ignored.

    Raises:
        ValueError: The file holds no key.
    """
    keys = tuple(
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    )
    if not keys:
        raise ValueError(f"{path}: no API key found (expected one key per line)")
    return keys
