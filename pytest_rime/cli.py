"""The ``rime`` console script.

``rime serve`` runs the backend server until SIGTERM or SIGINT (see ``rime serve --help``);
``rime report`` writes the standalone HTML page of a run or firewall (:mod:`.cli_report`).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from pytest_rime.cli_report import add_report_parser
from pytest_rime.server import settings as defaults


def _positive(kind: type[int | float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
        return value

    return parse


def _http_url(text: str) -> str:
    """An ``http://`` or ``https://`` URL with a host, without its trailing slash; or ``""``."""
    if not text:
        return ""  # the default: http(s)://<host>:<web port>
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(
            f"expected an http:// or https:// URL such as https://rime.example.com, got {text!r}"
        )
    return text.rstrip("/")


def _add_serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="Run the RIME backend server",
        description="Run the RIME backend server (gRPC API, job queue and web app).",
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=defaults.DEFAULT_DATA_DIR,
        help="Directory for the database, uploads, jobs and images (default: %(default)s)",
    )
    serve.add_argument(
        "--host",
        default=defaults.DEFAULT_HOST,
        help="Interface to listen on (default: %(default)s)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=defaults.DEFAULT_PORT,
        help="gRPC port; 0 picks a free one (default: %(default)s)",
    )
    serve.add_argument(
        "--web-port",
        type=int,
        default=None,
        help="Web app port; 0 picks a free one (default: the gRPC port + 1, or 0 with --port 0)",
    )
    serve.add_argument(
        "--web-base-url",
        type=_http_url,
        default="",
        help="The web app's URL as people reach it (e.g. https://rime.example.com behind a "
        "proxy); get_link() URLs start with it (default: http(s)://<host>:<web port>)",
    )
    serve.add_argument(
        "--port-file", type=Path, help='Write {"port", "web_port", "pid"} here once serving'
    )
    serve.add_argument(
        "--api-key-file", type=Path, help="File with accepted API keys, one per line"
    )
    serve.add_argument(
        "--tls-cert", type=Path, help="PEM certificate chain; serve TLS with --tls-key"
    )
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    serve.add_argument(
        "--max-concurrent-jobs",
        type=_positive(int),
        default=defaults.DEFAULT_MAX_CONCURRENT_JOBS,
        help="Jobs running at once; others wait FIFO (default: %(default)s)",
    )
    serve.add_argument(
        "--job-ttl-hours",
        type=_positive(float),
        default=defaults.DEFAULT_JOB_TTL_HOURS,
        help="Job listings show jobs created within this many hours (default: %(default)s)",
    )
    serve.add_argument(
        "--upload-limit-mb",
        type=_positive(float),
        default=defaults.DEFAULT_UPLOAD_LIMIT_MB,
        help="Largest upload in MiB (default: %(default)s)",
    )
    serve.add_argument("--pip-index-url", help="pip --index-url for managed image builds")
    serve.add_argument(
        "--pip-find-links",
        action="append",
        default=[],
        help="pip --find-links for managed image builds (repeatable)",
    )
    serve.add_argument(
        "--no-pip-index", action="store_true", help="Build managed images with pip --no-index"
    )
    serve.add_argument(
        "--allow-local-path",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="Let configs name local files under DIR (repeatable; by default only rime:// "
        "uploads and remote URLs)",
    )
    serve.add_argument(
        "--allow-custom-image",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="Let custom_image name this venv or interpreter (repeatable; by default only "
        "managed images)",
    )
    serve.add_argument(
        "--job-timeout-secs",
        type=_positive(float),
        default=defaults.DEFAULT_JOB_TIMEOUT_SECS,
        help="Wall-clock limit of a job; a config's job_timeout_secs overrides it "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--job-log-limit-mb",
        type=_positive(float),
        default=defaults.DEFAULT_JOB_LOG_LIMIT_MB,
        help="Largest job log in MiB; older output is dropped (default: %(default)s)",
    )
    serve.add_argument(
        "--executor",
        choices=defaults.EXECUTORS,
        default="local",
        help="Where jobs run: worker processes of this server (local) or tasks on a Ray "
        "cluster (ray) (default: %(default)s)",
    )
    serve.add_argument(
        "--ray-address",
        default="auto",
        help="The Ray cluster of --executor ray: auto, HOST:PORT or ray://HOST:PORT "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--split-rows",
        type=int,
        default=defaults.DEFAULT_SPLIT_ROWS,
        help="With --executor ray, split firewall jobs with more incremental rows than this "
        "by time bin into tasks of about this many rows (0: never; default: %(default)s)",
    )
    serve.add_argument(
        "--blob-url",
        default="",
        help="Keep uploads and blobs on this fsspec URL (e.g. s3://bucket/prefix; credentials "
        "from the environment) instead of under --data-dir",
    )
    serve.add_argument(
        "--upload-url-ttl-secs",
        type=_positive(float),
        default=defaults.DEFAULT_UPLOAD_URL_TTL_SECS,
        help="How long upload URLs of the rime wire's FileUpload stay valid (default: %(default)s)",
    )
    serve.add_argument(
        "--log-level", default="INFO", help="Python logging level (default: %(default)s)"
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from pytest_rime.server.app import serve
    from pytest_rime.server.blobstore_backends import BlobUrlError
    from pytest_rime.server.datadir import DataDirInUseError
    from pytest_rime.server.executors import ExecutorError
    from pytest_rime.server.joblog import check_log_limit
    from pytest_rime.server.settings import ServerSettings, read_api_keys

    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("give both --tls-cert and --tls-key, or neither")
    try:
        api_keys = read_api_keys(args.api_key_file) if args.api_key_file else ()
    except (OSError, ValueError) as exc:
        parser.error(f"--api-key-file: {exc}")
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        log_limit = check_log_limit(int(args.job_log_limit_mb * 1024 * 1024))
    except ValueError as exc:
        parser.error(f"--job-log-limit-mb: {exc}")
    settings = ServerSettings(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        web_port=_web_port(args.web_port, args.port),
        web_base_url=args.web_base_url,
        api_keys=api_keys,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        max_concurrent_jobs=args.max_concurrent_jobs,
        job_ttl_hours=args.job_ttl_hours,
        upload_limit_mb=args.upload_limit_mb,
        pip_index_url=args.pip_index_url,
        pip_find_links=tuple(args.pip_find_links),
        no_pip_index=args.no_pip_index,
        allowed_local_paths=tuple(args.allow_local_path),
        allowed_custom_images=tuple(args.allow_custom_image),
        job_timeout_secs=args.job_timeout_secs,
        job_log_limit_bytes=log_limit,
        executor=args.executor,
        ray_address=args.ray_address,
        split_rows=max(0, args.split_rows),
        blob_url=args.blob_url,
        upload_url_ttl_secs=args.upload_url_ttl_secs,
    )
    try:
        serve(settings, port_file=args.port_file)
    except (DataDirInUseError, ExecutorError, BlobUrlError) as exc:
        parser.exit(1, f"rime serve: error: {exc}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``rime`` argument parser."""
    parser = argparse.ArgumentParser(prog="rime", description="pytest-rime command line")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve_parser(commands)
    add_report_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rime`` command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args, parser))


def _web_port(requested: int | None, grpc_port: int) -> int:
    """The web app's port: as requested, else next to a fixed gRPC port so links stay stable."""
    if requested is not None:
        return requested
    return grpc_port + 1 if grpc_port else 0


if __name__ == "__main__":
    raise SystemExit(main())
