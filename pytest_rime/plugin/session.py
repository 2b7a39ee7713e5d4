"""The plugin's per-session state: settings, parsed rime.yaml files, backends and results.

One :class:`RimeSession` lives in ``config.stash``. It starts the embedded server when a run
needs one (once per session; under xdist the controller starts it and workers get its
address through ``workerinput``), opens one SDK client per server, and produces each record
once, the same way for both :mod:`kinds <pytest_rime.plugin.kinds>` of run: a stress test's
:class:`~pytest_rime.plugin.cases.RunRecord`, a firewall's
:class:`~pytest_rime.plugin.bins.FirewallRecord` (after its reference stress test). A record
comes from the cache when config, data, model and server are unchanged and everything it
names is still on the server, else from a new run.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

from pytest_rime.plugin.gate import DEFAULT_FAIL_ON
from pytest_rime.plugin.htmlreport import DEFAULT_NAME, is_html, report_link
from pytest_rime.plugin.kinds import (
    STRESS_TESTS,
    Backend,
    KindRecord,
    RunContext,
    RunKind,
    Spec,
)
from pytest_rime.plugin.progress import ProgressPrinter
from pytest_rime.plugin.runner import JobProgress, RunFailed, find_or_create_project
from pytest_rime.plugin.schema import (
    Defaults,
    ProjectSpec,
    RimeConfigError,
    RimeFileSpec,
    ServerSpec,
    load_rime_file,
)
from pytest_rime.plugin.settings import Settings
from pytest_rime.plugin.store import ResultStore

if TYPE_CHECKING:
    from pytest_rime.sdk import RIMEClient
    from pytest_rime.sdk.embedded import EmbeddedServer

SESSION_KEY = pytest.StashKey["RimeSession"]()

WORKER_SESSION = "rime_session"
WORKER_EMBEDDED_ADDRESS = "rime_embedded_address"
WORKER_EMBEDDED_IDENTITY = "rime_embedded_identity"
"""Keys of ``workerinput`` the xdist controller fills."""

S = TypeVar("S", bound=Spec)
R = TypeVar("R", bound=KindRecord)

LOCK_GRACE_SECONDS = 600.0
"""How much longer than a run's timeout a worker waits for another worker's run."""


def cache_root(config: pytest.Config) -> Path:
    """The plugin's directory in the pytest cache dir."""
    cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
    if cache is not None:
        return Path(cache.mkdir("rime"))
    return config.rootpath / ".pytest_cache" / "rime"


class RimeSession:
    """State shared by the hooks, collectors, items and fixture of one pytest session."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self._workerinput: dict[str, Any] = getattr(config, "workerinput", {})
        self.token: str = self._workerinput.get(WORKER_SESSION) or uuid.uuid4().hex
        self.progress = ProgressPrinter(config)
        self.files: dict[Path, RimeFileSpec] = {}
        for path in settings.config_paths:
            try:
                self.files[path] = load_rime_file(path, self.display(path))
            except RimeConfigError as exc:
                raise pytest.UsageError(str(exc)) from None
        self._embedded: EmbeddedServer | None = None
        self._clients: dict[ServerSpec, RIMEClient] = {}
        self._projects: dict[tuple[ServerSpec, str], str] = {}
        self._stores: dict[str, ResultStore[Any]] = {}
        self._records: dict[tuple[str, str], Any] = {}
        self._failures: dict[tuple[str, str], RunFailed] = {}

    def display(self, path: Path) -> str:
        """``path`` as messages show it: relative to the invocation dir when inside it."""
        try:
            return path.relative_to(self.config.invocation_params.dir).as_posix()
        except ValueError:
            return str(path)

    @functools.cached_property
    def root(self) -> Path:
        """The plugin's cache directory (created on first use only)."""
        return cache_root(self.config)

    def store(self, kind: RunKind[Any, R]) -> ResultStore[R]:
        """Cached records of ``kind`` (in its directory of the plugin's cache dir)."""
        if kind.directory not in self._stores:
            self._stores[kind.directory] = ResultStore(
                self.root / kind.directory, kind.record_from_dict
            )
        return cast(ResultStore[R], self._stores[kind.directory])

    # -- servers and clients --------------------------------------------------------------

    def needs_embedded_server(self) -> bool:
        """Whether a configured rime.yaml runs on the embedded server."""
        return any(spec.server.address is None for spec in self.files.values())

    @property
    def _embedded_dir(self) -> Path:
        worker = self._workerinput.get("workerid")
        return self.root / (f"server-{worker}" if worker else "server")

    def embedded_address(self) -> str:
        """Address of the embedded server, started on first use (stopped at session end)."""
        if WORKER_EMBEDDED_ADDRESS in self._workerinput:
            return str(self._workerinput[WORKER_EMBEDDED_ADDRESS])
        if self._embedded is None:
            from pytest_rime.sdk.embedded import EmbeddedServerError, start_embedded_server

            try:
                embedded = start_embedded_server(
                    self._embedded_dir, extra_args=self._embedded_server_args()
                )
            except EmbeddedServerError as exc:
                raise RunFailed(f"cannot start the embedded RIME server: {exc}") from None
            self.config.add_cleanup(embedded.stop)
            self._embedded = embedded
        return self._embedded.address

    def _embedded_server_args(self) -> list[str]:
        """``rime serve`` options of the embedded server: configs may name the project's files.

        The project is the rootdir and the directory of each ``rime.yaml``.
        """
        roots = dict.fromkeys([self.config.rootpath, *(p.parent for p in self.files)])
        return [arg for root in roots for arg in ("--allow-local-path", str(root))]

    def embedded_identity(self) -> str:
        """Stable name of the embedded server's data (its port changes every session)."""
        if WORKER_EMBEDDED_IDENTITY in self._workerinput:
            return str(self._workerinput[WORKER_EMBEDDED_IDENTITY])
        return f"embedded:{self._embedded_dir}"

    def server_identity(self, server: ServerSpec) -> str:
        """What cache keys name ``server`` by: its address, else the embedded server's data."""
        return server.address or self.embedded_identity()

    def address(self, server: ServerSpec) -> str:
        """The address of ``server`` (starting the embedded one if needed)."""
        return server.address or self.embedded_address()

    def client(self, server: ServerSpec) -> RIMEClient:
        """The SDK client of ``server`` (one per server per session, closed at the end)."""
        if server not in self._clients:
            from pytest_rime.sdk import RIMEClient

            address = self.address(server)
            try:
                client = RIMEClient(
                    address,
                    server.api_key,
                    channel_timeout=server.connect_timeout,
                    disable_tls=not server.tls,
                )
            except ValueError as exc:
                raise RunFailed(f"cannot reach the RIME server at {address}: {exc}") from None
            self.config.add_cleanup(client.close)
            self._clients[server] = client
        return self._clients[server]

    # -- links and the HTML report --------------------------------------------------------

    @functools.cached_property
    def html_report(self) -> Path | None:
        """Where the standalone HTML report goes (see :mod:`pytest_rime.plugin.htmlreport`).

        The first ``--rime-report`` ending in ``.html``; else, when a rime.yaml runs on the
        embedded server, ``report.html`` in the plugin's cache dir; else ``None``.
        """
        explicit = next((path for path in self.settings.report_paths if is_html(path)), None)
        if explicit is not None or not self.needs_embedded_server():
            return explicit
        return self.root / DEFAULT_NAME

    def link(self, backend: Backend, server_link: str, anchor: str) -> str:
        """What an item's ``link`` is: ``server_link`` when the server outlives the session.

        On the embedded server (whose pages close with the session): ``anchor`` in the HTML
        report, relative to the ``--junitxml`` file's directory (else the invocation dir).
        """
        report = self.html_report
        if backend.server.address is not None or report is None:
            return server_link
        xml: str | None = self.config.getoption("xmlpath", None)
        base = Path(os.path.abspath(xml)).parent if xml else self.config.invocation_params.dir
        return report_link(report, anchor, base)

    def max_skipped(self, own: float | None, backend: Backend) -> float | None:
        """An entry's ``max_skipped``, else ``--rime-max-skipped``, else the file's default."""
        for limit in (own, self.settings.max_skipped, backend.defaults.max_skipped):
            if limit is not None:
                return limit
        return None

    def default_fail_on(self, backend: Backend) -> str:
        """The global gate: ``--rime-fail-on``, else the file's ``defaults.fail_on``, else high."""
        return self.settings.fail_on or backend.defaults.fail_on or DEFAULT_FAIL_ON

    def default_backend(self) -> Backend:
        """Backend of the ``rime`` fixture: the first configured file's, else embedded."""
        for spec in self.files.values():
            return Backend(spec.server, spec.project, spec.defaults)
        return Backend(ServerSpec(), None, Defaults())

    # -- results --------------------------------------------------------------------------

    def _project_id(self, server: ServerSpec, project: ProjectSpec) -> str:
        """Id of the project named ``project.name`` on ``server`` (created when missing)."""
        key = (server, project.name)
        if key not in self._projects:
            self._projects[key] = find_or_create_project(self.client(server), project)
        return self._projects[key]

    def result_for(self, kind: RunKind[S, R], spec: S, backend: Backend) -> R:
        """The record of ``spec``: cached when still valid, else from a new run.

        A kind with a reference (a firewall) gets its reference stress test's run first; the
        cache key holds that run's id. The record is returned under ``spec.name`` (a stress
        test's cache key leaves out the run name: it does not change the results). A run that
        failed is not tried again in the session (a firewall's reference is asked for by the
        firewall too).

        Raises:
            RunFailed: The record could not be produced; the message says why.
        """
        reference = self._reference_run_id(kind, spec, backend)
        timeout = backend.defaults.timeout
        with _named_failures(spec.source, spec.name, timeout):
            key = (
                kind.directory,
                kind.cache_key(spec, backend, self.server_identity(backend.server), reference),
            )
        if key in self._failures:
            failure = self._failures[key]
            raise RunFailed(failure.message, failure.log_tail, repeated=True)
        if key not in self._records:
            try:
                with _named_failures(spec.source, spec.name, timeout):
                    self._records[key] = self._load_or_produce(
                        kind, key[1], spec, backend, reference
                    )
            except RunFailed as exc:
                self._failures[key] = exc
                raise
        return kind.named(cast(R, self._records[key]), spec)

    def _reference_run_id(self, kind: RunKind[S, R], spec: S, backend: Backend) -> str:
        """Id of the run of ``kind``'s reference stress test of ``spec`` (empty: none)."""
        reference = kind.reference(spec)
        if reference is None:
            return ""
        try:
            return self.result_for(STRESS_TESTS, reference, backend).test_run_id
        except RunFailed as exc:
            # The reference's own error (shown once) has the reason and the job's log.
            failed = f"its reference {reference.name!r} failed"
            why = f"{failed} (its error is above)" if exc.repeated else f"{failed}: {exc}"
            raise RunFailed(f"{spec.source} ({spec.name}): {why}") from None

    def _load_or_produce(
        self, kind: RunKind[S, R], key: str, spec: S, backend: Backend, reference: str
    ) -> R:
        """The valid stored record of ``key``, else a new one (under the key's file lock)."""
        store = self.store(kind)
        with store.lock(key, timeout=backend.defaults.timeout + LOCK_GRACE_SECONDS):
            cached = self._revalidated(kind, store.load(key), backend)
            if cached is not None:
                self.progress.cached(kind.cached_text(cached))
                return cached
            record = self._run(kind, spec, backend, reference)
            store.save(key, record)
            return record

    def _revalidated(self, kind: RunKind[Any, R], record: R | None, backend: Backend) -> R | None:
        """``record`` if it may be reused (with fresh links), else ``None``."""
        if record is None or record.session == self.token:  # e.g. made by another worker
            return record
        if self.settings.rerun:
            return None
        from pytest_rime.sdk import RIMENotFoundError

        try:
            return kind.refreshed(self.client(backend.server), record)
        except RIMENotFoundError:
            return None

    def _run(self, kind: RunKind[S, R], spec: S, backend: Backend, reference: str) -> R:
        client = self.client(backend.server)
        self.progress.started(spec.name, self.address(backend.server), what=kind.what)
        started = time.monotonic()

        def on_progress(progress: JobProgress) -> None:
            self.progress.update(spec.name, progress)

        context = RunContext(
            client=client,
            backend=backend,
            reference_run_id=reference,
            project_id=functools.partial(self._project_id, backend.server),
            on_progress=on_progress,
            display_dir=self.config.invocation_params.dir,
            session=self.token,
        )
        record = kind.run(spec, context)
        self.progress.finished(kind.finished_text(record, time.monotonic() - started))
        return record


@contextlib.contextmanager
def _named_failures(source: str, name: str, timeout: float) -> Iterator[None]:
    """Turn every way producing a record can fail into :class:`RunFailed` naming the spec."""
    from filelock import Timeout

    try:
        yield
    except Timeout:
        raise RunFailed(
            f"{source}: gave up after waiting {timeout + LOCK_GRACE_SECONDS:g} s for another "
            f"process running the same job ({name})"
        ) from None
    except RunFailed as exc:
        raise RunFailed(f"{source} ({name}): {exc.message}", exc.log_tail) from None
    except (ValueError, OSError) as exc:  # RIMEError is a ValueError
        raise RunFailed(f"{source} ({name}): {exc}") from None


def get_session(config: pytest.Config) -> RimeSession:
    """The session state stored in ``config`` (created lazily for fixture-only use)."""
    if SESSION_KEY not in config.stash:
        config.stash[SESSION_KEY] = RimeSession(config, Settings.from_config(config))
    return config.stash[SESSION_KEY]
