"""The plugin's per-session state: settings, parsed rime.yaml files, backends and results.

One :class:`RimeSession` lives in ``config.stash``. It starts the embedded server when a run
needs one (once per session; under xdist the controller starts it and workers get its
address through ``workerinput``), opens one SDK client per server, and produces each stress
test's :class:`~pytest_rime.plugin.cases.RunRecord` once: from the cache when config, data,
model and server are unchanged and the run still exists on the server, else by running it.
Each firewall's :class:`~pytest_rime.plugin.bins.FirewallRecord` is produced the same way,
after its reference stress test, and reused while all its bins are still on the server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from pytest_rime.plugin.bins import FirewallRecord
from pytest_rime.plugin.cases import RunRecord
from pytest_rime.plugin.firewall_runner import run_firewall
from pytest_rime.plugin.localfiles import fingerprint
from pytest_rime.plugin.progress import ProgressPrinter
from pytest_rime.plugin.runner import (
    JobProgress,
    RunFailed,
    find_or_create_project,
    run_stress_test,
)
from pytest_rime.plugin.schema import (
    Defaults,
    FirewallSpec,
    ProjectSpec,
    RimeConfigError,
    RimeFileSpec,
    ServerSpec,
    StressTestSpec,
    load_rime_file,
)
from pytest_rime.plugin.settings import Settings
from pytest_rime.plugin.store import Record, ResultStore

if TYPE_CHECKING:
    from pytest_rime.sdk import RIMEClient
    from pytest_rime.server.embedded import EmbeddedServer

SESSION_KEY = pytest.StashKey["RimeSession"]()

WORKER_SESSION = "rime_session"
WORKER_EMBEDDED_ADDRESS = "rime_embedded_address"
WORKER_EMBEDDED_IDENTITY = "rime_embedded_identity"
"""Keys of ``workerinput`` the xdist controller fills."""

R = TypeVar("R", bound=Record)

LOCK_GRACE_SECONDS = 600.0
"""How much longer than a run's timeout a worker waits for another worker's run."""


@dataclass(frozen=True)
class Backend:
    """Where and how stress tests of one file (or of the ``rime`` fixture) run."""

    server: ServerSpec
    project: ProjectSpec | None
    defaults: Defaults


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
        self._records: dict[str, RunRecord] = {}
        self._firewalls: dict[str, FirewallRecord] = {}
        self._failures: dict[str, RunFailed] = {}

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

    @functools.cached_property
    def store(self) -> ResultStore[RunRecord]:
        """Cached stress test results."""
        return ResultStore(self.root / "results", RunRecord.from_dict)

    @functools.cached_property
    def firewall_store(self) -> ResultStore[FirewallRecord]:
        """Cached firewall results."""
        return ResultStore(self.root / "firewalls", FirewallRecord.from_dict)

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
            from pytest_rime.server.embedded import EmbeddedServerError, start_embedded_server

            try:
                embedded = start_embedded_server(self._embedded_dir)
            except EmbeddedServerError as exc:
                raise RunFailed(f"cannot start the embedded RIME server: {exc}") from None
            self.config.add_cleanup(embedded.stop)
            self._embedded = embedded
        return self._embedded.address

    def embedded_identity(self) -> str:
        """Stable name of the embedded server's data (its port changes every session)."""
        if WORKER_EMBEDDED_IDENTITY in self._workerinput:
            return str(self._workerinput[WORKER_EMBEDDED_IDENTITY])
        return f"embedded:{self._embedded_dir}"

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

    def max_skipped(self, own: float | None, backend: Backend) -> float | None:
        """An entry's ``max_skipped``, else ``--rime-max-skipped``, else the file's default."""
        for limit in (own, self.settings.max_skipped, backend.defaults.max_skipped):
            if limit is not None:
                return limit
        return None

    def default_backend(self) -> Backend:
        """Backend of the ``rime`` fixture: the first configured file's, else embedded."""
        for spec in self.files.values():
            return Backend(spec.server, spec.project, spec.defaults)
        return Backend(ServerSpec(), None, Defaults())

    # -- results --------------------------------------------------------------------------

    def _project_id(self, backend: Backend) -> str | None:
        if backend.project is None:
            return None
        key = (backend.server, backend.project.name)
        if key not in self._projects:
            self._projects[key] = find_or_create_project(
                self.client(backend.server), backend.project
            )
        return self._projects[key]

    def _cache_key(self, spec: StressTestSpec, backend: Backend) -> str:
        server = backend.server.address or self.embedded_identity()
        extra = {
            "server": server,
            "project": backend.project.name if backend.project else None,
            "data_type": spec.data_type,
            "rime_managed_image": spec.rime_managed_image,
            "custom_image": spec.custom_image,
            "ram_request_megabytes": spec.ram_request_megabytes,
            "cpu_request_millicores": spec.cpu_request_millicores,
        }
        return fingerprint(spec.config, extra)

    def _revalidated(self, record: RunRecord | None, backend: Backend) -> RunRecord | None:
        """``record`` if it may be reused (with a fresh link), else ``None``."""
        if record is None:
            return None
        if record.session == self.token:  # produced in this session (e.g. by another worker)
            return record
        if self.settings.rerun:
            return None
        from pytest_rime.sdk import RIMEError

        try:
            run = self.client(backend.server).get_test_run(record.test_run_id)
        except RIMEError as exc:
            if exc.code.name == "NOT_FOUND":
                return None
            raise
        return dataclasses.replace(record, link=run.get_link())

    def _run(self, spec: StressTestSpec, backend: Backend) -> RunRecord:
        client = self.client(backend.server)
        project_id = self._project_id(backend)
        self.progress.started(spec.name, self.address(backend.server))
        started = time.monotonic()

        def on_progress(progress: JobProgress) -> None:
            self.progress.update(spec.name, progress)

        record = run_stress_test(
            client,
            spec,
            project_id,
            timeout=backend.defaults.timeout,
            poll_rate=backend.defaults.poll_rate,
            on_progress=on_progress,
            display_dir=self.config.invocation_params.dir,
        )
        self.progress.finished(record, time.monotonic() - started)
        return dataclasses.replace(record, session=self.token)

    def result_for(self, spec: StressTestSpec, backend: Backend) -> RunRecord:
        """The results of ``spec``: cached when still valid, else from a new run.

        The cache key leaves out the run name (it does not change the results), so the
        record is returned under ``spec.name``. A run that failed is not tried again in the
        session (a firewall's reference is asked for by the firewall too).

        Raises:
            RunFailed: The run could not be produced; the message says why.
        """
        with _named_failures(spec.source, spec.name, backend.defaults.timeout):
            key = self._cache_key(spec, backend)
        if key in self._failures:
            failure = self._failures[key]
            raise RunFailed(failure.message, failure.log_tail, repeated=True)
        if key not in self._records:
            try:
                with _named_failures(spec.source, spec.name, backend.defaults.timeout):
                    self._records[key] = self._load_or_produce(
                        self.store,
                        key,
                        backend.defaults.timeout,
                        lambda: self._revalidated(self.store.load(key), backend),
                        lambda: self._run(spec, backend),
                        self.progress.cached,
                    )
            except RunFailed as exc:
                self._failures[key] = exc
                raise
        return self._records[key].renamed(spec.name)

    def firewall_result_for(self, spec: FirewallSpec, backend: Backend) -> FirewallRecord:
        """The bins of ``spec``'s firewall run: cached when still valid, else from a new run.

        The reference stress test runs first (or comes from the cache); the cache key holds
        its run id, the firewall section and the contents of the firewall's data.

        Raises:
            RunFailed: The reference or the firewall run failed; the message says why.
        """
        try:
            reference = self.result_for(spec.reference, backend)
        except RunFailed as exc:
            # The reference's own error (shown once) has the reason and the job's log.
            failed = f"its reference {spec.reference.name!r} failed"
            why = f"{failed} (its error is above)" if exc.repeated else f"{failed}: {exc}"
            raise RunFailed(f"{spec.source} ({spec.name}): {why}") from None
        with _named_failures(spec.source, spec.name, backend.defaults.timeout):
            key = self._firewall_cache_key(spec, backend, reference.test_run_id)
            if key not in self._firewalls:
                self._firewalls[key] = self._load_or_produce(
                    self.firewall_store,
                    key,
                    backend.defaults.timeout,
                    lambda: self._firewall_revalidated(self.firewall_store.load(key), backend),
                    lambda: self._run_firewall(spec, backend, reference.test_run_id),
                    self.progress.firewall_cached,
                )
        return self._firewalls[key]

    @staticmethod
    def _load_or_produce(
        store: ResultStore[R],
        key: str,
        timeout: float,
        load: Callable[[], R | None],
        produce: Callable[[], R],
        announce_cached: Callable[[R], None],
    ) -> R:
        """The valid stored record of ``key``, else a new one (under the key's file lock)."""
        with store.lock(key, timeout=timeout + LOCK_GRACE_SECONDS):
            cached = load()
            if cached is not None:
                announce_cached(cached)
                return cached
            record = produce()
            store.save(key, record)
            return record

    # -- firewalls ------------------------------------------------------------------------

    def _firewall_cache_key(self, spec: FirewallSpec, backend: Backend, reference: str) -> str:
        section = {
            "data_info": {"eval_path": spec.eval_path},
            "timestamp_col": spec.timestamp_col,
            "bin_size": spec.bin_size,
            "thresholds": {k: list(v) for k, v in spec.thresholds.items()},
        }
        extra = {
            "firewall": spec.name,
            "project": spec.project.name,
            "reference_test_run_id": reference,
            "server": backend.server.address or self.embedded_identity(),
        }
        return fingerprint(section, extra)

    def _firewall_revalidated(
        self, record: FirewallRecord | None, backend: Backend
    ) -> FirewallRecord | None:
        """``record`` if all its bins are still on the server (with fresh links), else ``None``.

        A bin replaced by later data for the same time has a new run id: the old one is gone.
        """
        if record is None or record.session == self.token:
            return record
        if self.settings.rerun:
            return None
        from pytest_rime.sdk import RIMENotFoundError

        client = self.client(backend.server)
        try:
            link = client.get_firewall(record.firewall_id).get_link()
            bins = tuple(
                dataclasses.replace(b, link=client.get_test_run(b.test_run_id).get_link())
                for b in record.bins
            )
        except RIMENotFoundError:
            return None
        return dataclasses.replace(record, link=link, bins=bins)

    def _run_firewall(self, spec: FirewallSpec, backend: Backend, reference: str) -> FirewallRecord:
        self.progress.started(spec.name, self.address(backend.server), what="firewall")
        started = time.monotonic()

        def on_progress(progress: JobProgress) -> None:
            self.progress.update(spec.name, progress)

        record = run_firewall(
            self.client(backend.server),
            spec,
            reference,
            timeout=backend.defaults.timeout,
            poll_rate=backend.defaults.poll_rate,
            on_progress=on_progress,
            display_dir=self.config.invocation_params.dir,
        )
        self.progress.firewall_finished(record, time.monotonic() - started)
        return dataclasses.replace(record, session=self.token)


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
