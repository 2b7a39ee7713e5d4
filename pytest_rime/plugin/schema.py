"""The ``rime.yaml`` schema: parse and check a config file into frozen specs.

Every problem raises :class:`RimeConfigError` naming the file,
the dotted key and what was expected (the plugin turns it into a :class:`pytest.UsageError`), e.g.
``rime.yaml: stress_tests[0].fail_on: expected one of low, medium, high, got 'hgh'``.

Sections are parsed by the functions in ``_SECTIONS``. A ``firewalls`` entry names a stress
test of the same file as its reference; it is checked once all stress tests are parsed.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, TypeVar

from pytest_rime.plugin.gate import (
    FAIL_ON_LEVELS,
    FailOnPolicy,
    IgnoreRules,
    name_key,
    parse_fraction,
)
from pytest_rime.vocabulary import BIN_SIZES as BIN_SIZES  # re-exported
from pytest_rime.vocabulary import (
    DEFAULT_BIN_SIZE,
    KNOWN_DATA_TYPES,
    VocabularyError,
    join_key,
    parse_thresholds,
)

DATA_TYPES = KNOWN_DATA_TYPES
"""Values accepted for ``data_type`` (the server says which it supports)."""
DEFAULT_TIMEOUT_SECONDS = 3600.0
DEFAULT_POLL_RATE_SECONDS = 1.0
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0

LOCAL_PATH_KEYS = (
    ("data_info", "ref_path"),
    ("data_info", "eval_path"),
    ("data_info", "ref_pred_path"),
    ("data_info", "eval_pred_path"),
    ("model_info", "path"),
)
"""Keys of a test run config that may name local files, uploaded before the run starts."""


class RimeConfigError(ValueError):
    """A ``rime.yaml`` (or a config file it references) is wrong.

    Attributes:
        source: The file (or call) where the problem is.
        key: Dotted path of the offending key, e.g. ``stress_tests[0].fail_on``.
    """

    def __init__(self, source: str, key: str, message: str) -> None:
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")
        self.source = source
        self.key = key


@dataclass(frozen=True)
class _Where:
    """Where a value sits: the file and the dotted key path."""

    source: str
    key: str = ""

    def child(self, key: str | int) -> _Where:
        return _Where(self.source, join_key(self.key, key))

    def error(self, message: str) -> RimeConfigError:
        return RimeConfigError(self.source, self.key, message)


@dataclass(frozen=True)
class ServerSpec:
    """Where the backend is. ``address=None`` means the embedded server.

    Attributes:
        address: ``host:port`` of a running RIME server, or ``None`` for the embedded one.
        api_key_env: Name of the environment variable holding the API key.
        tls: Whether to connect with TLS.
        connect_timeout: Seconds to wait for the server to answer when connecting.
    """

    address: str | None = None
    api_key_env: str | None = None
    tls: bool = False
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS

    @property
    def api_key(self) -> str:
        """The API key read from :attr:`api_key_env` (empty when none is configured)."""
        return os.environ.get(self.api_key_env, "") if self.api_key_env else ""


@dataclass(frozen=True)
class ProjectSpec:
    """The project runs are stored in (found by name, created when missing)."""

    name: str
    description: str = ""


@dataclass(frozen=True)
class Defaults:
    """Settings that apply to every stress test of a file."""

    fail_on: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    poll_rate: float = DEFAULT_POLL_RATE_SECONDS
    max_skipped: float | None = None


@dataclass(frozen=True)
class StressTestSpec:
    """One stress test to run.

    Attributes:
        name: Run name: the first segment of every item name of the run.
        config: The test run config, with local paths made absolute (not yet uploaded).
        source: Where the spec was written, for messages (``rime.yaml: stress_tests[0]``).
        data_type: ``tabular``, ``nlp`` or ``images`` (the entry's, else the config's own).
        rime_managed_image: Managed image to run in.
        custom_image: Name of a custom image to run in.
        ram_request_megabytes: RAM request of the job.
        cpu_request_millicores: CPU request of the job.
        fail_on: Gate overrides for this stress test.
        ignore: Tests and features whose cases are skipped.
        max_skipped: Largest share of SKIP cases (0..1) that passes (``None``: the default).
        line: 0-based line of the entry in its rime.yaml (``None``: not from a rime.yaml).
    """

    name: str
    config: Mapping[str, Any]
    source: str
    data_type: str = "tabular"
    rime_managed_image: str | None = None
    custom_image: str | None = None
    ram_request_megabytes: int | None = None
    cpu_request_millicores: int | None = None
    fail_on: FailOnPolicy = field(default_factory=FailOnPolicy)
    ignore: IgnoreRules = field(default_factory=IgnoreRules)
    max_skipped: float | None = None
    line: int | None = None


@dataclass(frozen=True)
class FirewallSpec:
    """One firewall run: timestamped data tested in time bins against a reference stress test.

    Attributes:
        name: Firewall name: the first segment of every item name of its bins.
        reference: The stress test (of the same file) whose run is the firewall's reference.
        project: Project holding the firewall (a project has one firewall).
        eval_path: The timestamped data, absolute when local (not yet uploaded).
        timestamp_col: Column of ``eval_path`` holding each row's time.
        bin_size: ``hour`` or ``day``.
        thresholds: Monitored metric thresholds, ``{metric: [low, medium, high]}``.
        source: Where the spec was written, for messages (``rime.yaml: firewalls[0]``).
        fail_on: Gate overrides for the cases and events of the firewall's bins.
        ignore: Tests and features whose cases are skipped.
        max_skipped: Largest share of SKIP cases (0..1) of a bin that passes.
        line: 0-based line of the entry in its rime.yaml.
    """

    name: str
    reference: StressTestSpec
    project: ProjectSpec
    eval_path: str
    timestamp_col: str
    source: str
    bin_size: str = DEFAULT_BIN_SIZE
    thresholds: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)
    fail_on: FailOnPolicy = field(default_factory=FailOnPolicy)
    ignore: IgnoreRules = field(default_factory=IgnoreRules)
    max_skipped: float | None = None
    line: int | None = None

    @property
    def bin_size_seconds(self) -> int:
        """Length of a bin in seconds."""
        return BIN_SIZES[self.bin_size]


@dataclass(frozen=True)
class RimeFileSpec:
    """A parsed ``rime.yaml``."""

    path: Path
    server: ServerSpec
    project: ProjectSpec | None
    defaults: Defaults
    stress_tests: tuple[StressTestSpec, ...]
    firewalls: tuple[FirewallSpec, ...] = ()


# -- value checks -------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _mapping(value: Any, where: _Where, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise where.error(
            f"expected a mapping with keys {', '.join(allowed)}, got {_type_name(value)}"
        )
    for key in value:
        if key not in allowed:
            raise where.child(str(key)).error(f"unknown key (expected one of {', '.join(allowed)})")
    return value


def _string(value: Any, where: _Where) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error(f"expected a non-empty string, got {value!r}")
    return value


def _bool(value: Any, where: _Where) -> bool:
    if not isinstance(value, bool):
        raise where.error(f"expected true or false, got {value!r}")
    return value


def _positive_int(value: Any, where: _Where) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise where.error(f"expected a positive integer, got {value!r}")
    return value


def _positive_number(value: Any, where: _Where) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise where.error(f"expected a positive number of seconds, got {value!r}")
    return float(value)


def _level(value: Any, where: _Where) -> str:
    if not isinstance(value, str) or value.lower() not in FAIL_ON_LEVELS:
        raise where.error(f"expected one of {', '.join(FAIL_ON_LEVELS)}, got {value!r}")
    return value.lower()


def _fraction(value: Any, where: _Where) -> float:
    try:
        return parse_fraction(value)
    except ValueError as exc:
        raise where.error(str(exc)) from None


def _names(value: Any, where: _Where) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise where.error(f"expected a list of names, got {value!r}")
    return frozenset(name_key(v) for v in value)


def _level_map(value: Any, where: _Where, what: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise where.error(f"expected a mapping of {what} to a level, got {_type_name(value)}")
    return {name_key(str(k)): _level(v, where.child(str(k))) for k, v in value.items()}


# -- sections -----------------------------------------------------------------------------


def _server(value: Any, where: _Where) -> ServerSpec:
    section = _mapping(value, where, ("address", "api_key_env", "tls", "connect_timeout"))
    if "address" not in section:
        raise where.child("address").error(
            "required key is missing (leave out the whole server section for the embedded server)"
        )
    key_env = None
    if "api_key_env" in section:
        key_env = _string(section["api_key_env"], where.child("api_key_env"))
        if key_env not in os.environ:
            raise where.child("api_key_env").error(f"environment variable {key_env} is not set")
    return ServerSpec(
        address=_string(section["address"], where.child("address")),
        api_key_env=key_env,
        tls=_bool(section.get("tls", False), where.child("tls")),
        connect_timeout=_positive_number(
            section.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT_SECONDS),
            where.child("connect_timeout"),
        ),
    )


def _project(value: Any, where: _Where) -> ProjectSpec:
    section = _mapping(value, where, ("name", "description"))
    if "name" not in section:
        raise where.child("name").error("required key is missing")
    description = section.get("description", "")
    if not isinstance(description, str):
        raise where.child("description").error(f"expected a string, got {description!r}")
    return ProjectSpec(name=_string(section["name"], where.child("name")), description=description)


def _defaults(value: Any, where: _Where) -> Defaults:
    section = _mapping(value, where, ("fail_on", "timeout", "poll_rate", "max_skipped"))
    fail_on = section.get("fail_on")
    return Defaults(
        max_skipped=_fraction(section["max_skipped"], where.child("max_skipped"))
        if "max_skipped" in section
        else None,
        fail_on=None if fail_on is None else _level(fail_on, where.child("fail_on")),
        timeout=_positive_number(
            section.get("timeout", DEFAULT_TIMEOUT_SECONDS), where.child("timeout")
        ),
        poll_rate=_positive_number(
            section.get("poll_rate", DEFAULT_POLL_RATE_SECONDS), where.child("poll_rate")
        ),
    )


def _fail_on(value: Any, where: _Where) -> FailOnPolicy:
    if isinstance(value, str):
        return FailOnPolicy(default=_level(value, where))
    section = _mapping(value, where, ("default", "categories", "tests"))
    default = section.get("default")
    return FailOnPolicy(
        default=None if default is None else _level(default, where.child("default")),
        categories=_level_map(
            section.get("categories", {}), where.child("categories"), "categories"
        ),
        tests=_level_map(section.get("tests", {}), where.child("tests"), "tests"),
    )


def _ignore(value: Any, where: _Where) -> IgnoreRules:
    section = _mapping(value, where, ("tests", "features"))
    return IgnoreRules(
        tests=_names(section.get("tests", []), where.child("tests")),
        features=_names(section.get("features", []), where.child("features")),
    )


def _load_structured_file(path: Path, where: _Where) -> Any:
    """Read a JSON or YAML file (by suffix); problems name ``where``."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise where.error(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise where.error(
            f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"
        ) from None


def _with_local_paths(config: Mapping[str, Any], base_dir: Path, where: _Where) -> dict[str, Any]:
    """Copy of ``config`` with local file references made absolute; each must exist."""
    resolved = {k: dict(v) if isinstance(v, Mapping) else v for k, v in config.items()}
    for section_name, key in LOCAL_PATH_KEYS:
        section = resolved.get(section_name)
        if not isinstance(section, dict) or not isinstance(section.get(key), str):
            continue
        value: str = section[key]
        if "://" in value:
            continue
        path = (base_dir / value).resolve()
        if not path.exists():
            raise where.child(section_name).child(key).error(f"file not found: {path}")
        section[key] = str(path)
    return resolved


def _test_run_config(
    section: Mapping[str, Any], where: _Where, base_dir: Path
) -> tuple[dict[str, Any], _Where]:
    """The test run config of a stress test entry (inline ``config`` or ``config_path``)."""
    if ("config" in section) == ("config_path" in section):
        raise where.error("expected exactly one of 'config' (inline) or 'config_path'")
    if "config" in section:
        config_where = where.child("config")
        raw = section["config"]
        config_dir = base_dir
    else:
        path_where = where.child("config_path")
        path = (base_dir / _string(section["config_path"], path_where)).resolve()
        if not path.is_file():
            raise path_where.error(f"file not found: {path}")
        raw = _load_structured_file(path, path_where)
        config_where, config_dir = _Where(str(path)), path.parent
    if not isinstance(raw, Mapping):
        raise config_where.error(f"expected a test run config mapping, got {_type_name(raw)}")
    return _with_local_paths(raw, config_dir, config_where), config_where


STRESS_TEST_KEYS = (
    "name",
    "data_type",
    "config",
    "config_path",
    "rime_managed_image",
    "custom_image",
    "ram_request_megabytes",
    "cpu_request_millicores",
    "fail_on",
    "ignore",
    "max_skipped",
)
"""Keys of one ``stress_tests`` entry (also the keyword arguments of ``rime.stress_test``)."""


class _Gating(TypedDict):
    fail_on: FailOnPolicy
    ignore: IgnoreRules
    max_skipped: float | None


def _gating(section: Mapping[str, Any], where: _Where) -> _Gating:
    """``fail_on``, ``ignore`` and ``max_skipped`` of a stress test or firewall entry."""
    return {
        "fail_on": _fail_on(section["fail_on"], where.child("fail_on"))
        if "fail_on" in section
        else FailOnPolicy(),
        "ignore": _ignore(section["ignore"], where.child("ignore"))
        if "ignore" in section
        else IgnoreRules(),
        "max_skipped": _fraction(section["max_skipped"], where.child("max_skipped"))
        if "max_skipped" in section
        else None,
    }


def parse_stress_test(value: Any, where: _Where, base_dir: Path) -> StressTestSpec:
    """Parse one ``stress_tests`` entry; relative paths are resolved against ``base_dir``."""
    section = _mapping(value, where, STRESS_TEST_KEYS)
    config, config_where = _test_run_config(section, where, base_dir)
    if "name" in section:
        name = _string(section["name"], where.child("name"))
    elif "run_name" in config:
        name = _string(config["run_name"], config_where.child("run_name"))
    else:
        raise where.child("name").error("required key is missing (or give the config a run_name)")
    if "::" in name:
        raise where.child("name").error(f"'::' is not allowed in a run name, got {name!r}")
    config.setdefault("run_name", name)
    # The entry's data_type, else the config's own (a config naming ``data_type: nlp`` runs as
    # nlp without repeating it), else tabular.
    data_type = section.get("data_type", config.get("data_type", "tabular"))
    if data_type not in DATA_TYPES:
        raise where.child("data_type").error(
            f"expected one of {', '.join(DATA_TYPES)}, got {data_type!r}"
        )
    if "rime_managed_image" in section and "custom_image" in section:
        raise where.error("expected at most one of 'rime_managed_image' or 'custom_image'")
    optional_int = {
        key: _positive_int(section[key], where.child(key)) if key in section else None
        for key in ("ram_request_megabytes", "cpu_request_millicores")
    }
    return StressTestSpec(
        name=name,
        config=config,
        source=f"{where.source}: {where.key}" if where.key else where.source,
        data_type=data_type,
        rime_managed_image=(
            _string(section["rime_managed_image"], where.child("rime_managed_image"))
            if "rime_managed_image" in section
            else None
        ),
        custom_image=(
            _string(section["custom_image"], where.child("custom_image"))
            if "custom_image" in section
            else None
        ),
        ram_request_megabytes=optional_int["ram_request_megabytes"],
        cpu_request_millicores=optional_int["cpu_request_millicores"],
        **_gating(section, where),
    )


def _stress_tests(value: Any, where: _Where, base_dir: Path) -> tuple[StressTestSpec, ...]:
    if not isinstance(value, list) or not value:
        raise where.error(f"expected a non-empty list of stress tests, got {value!r}")
    specs = tuple(parse_stress_test(v, where.child(i), base_dir) for i, v in enumerate(value))
    names = [spec.name for spec in specs]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise (
                where.child(index)
                .child("name")
                .error(f"duplicate run name {name!r} (each stress test needs its own name)")
            )
    return specs


FIREWALL_KEYS = (
    "name",
    "reference",
    "project",
    "eval_path",
    "timestamp_col",
    "bin_size",
    "thresholds",
    "fail_on",
    "ignore",
    "max_skipped",
)
"""Keys of one ``firewalls`` entry."""


def _thresholds(value: Any, where: _Where) -> dict[str, tuple[float, float, float]]:
    """``{metric: [low, medium, high]}``; metric names are checked by the server.

    Each list must be three finite numbers, ascending or descending: the server knows each
    metric's bad direction and checks which of the two it must be.
    """
    if not isinstance(value, Mapping):
        raise where.error(
            f"expected a mapping of monitored metric to [low, medium, high], got "
            f"{_type_name(value)}"
        )
    parsed: dict[str, tuple[float, float, float]] = {}
    for metric, levels in value.items():
        at = where.child(str(metric))
        if not isinstance(levels, list):
            raise at.error(f"expected a list [low, medium, high] of 3 numbers, got {levels!r}")
        try:
            parsed[str(metric)] = parse_thresholds(levels, at.key, order="monotonic")
        except VocabularyError as exc:
            raise at.error(exc.detail) from None
    return parsed


def _local_or_url(value: Any, where: _Where, base_dir: Path) -> str:
    """A URL as given, or a local path made absolute (it must exist)."""
    text = _string(value, where)
    if "://" in text:
        return text
    path = (base_dir / text).resolve()
    if not path.is_file():
        raise where.error(f"file not found: {path}")
    return str(path)


def parse_firewall(
    value: Any,
    where: _Where,
    base_dir: Path,
    stress_tests: Mapping[str, StressTestSpec],
    file_project: ProjectSpec | None,
) -> FirewallSpec:
    """Parse one ``firewalls`` entry; ``reference`` must name one of ``stress_tests``."""
    section = _mapping(value, where, FIREWALL_KEYS)
    for key in ("name", "reference", "eval_path", "timestamp_col"):
        if key not in section:
            raise where.child(key).error("required key is missing")
    name = _string(section["name"], where.child("name"))
    if "::" in name:
        raise where.child("name").error(f"'::' is not allowed in a firewall name, got {name!r}")
    reference = _string(section["reference"], where.child("reference"))
    if reference not in stress_tests:
        known = ", ".join(repr(n) for n in stress_tests) or "none"
        raise where.child("reference").error(
            f"no stress test named {reference!r} in this file (stress tests: {known})"
        )
    bin_size = section.get("bin_size", DEFAULT_BIN_SIZE)
    if bin_size not in BIN_SIZES:
        raise where.child("bin_size").error(
            f"expected one of {', '.join(BIN_SIZES)}, got {bin_size!r}"
        )
    project = (
        ProjectSpec(name=_string(section["project"], where.child("project")))
        if "project" in section
        else file_project or ProjectSpec(name=name)
    )
    return FirewallSpec(
        name=name,
        reference=stress_tests[reference],
        project=project,
        eval_path=_local_or_url(section["eval_path"], where.child("eval_path"), base_dir),
        timestamp_col=_string(section["timestamp_col"], where.child("timestamp_col")),
        source=f"{where.source}: {where.key}",
        bin_size=bin_size,
        thresholds=_thresholds(section.get("thresholds", {}), where.child("thresholds")),
        **_gating(section, where),
    )


def _firewalls(
    value: Any,
    where: _Where,
    base_dir: Path,
    stress_tests: tuple[StressTestSpec, ...],
    file_project: ProjectSpec | None,
) -> tuple[FirewallSpec, ...]:
    if not isinstance(value, list) or not value:
        raise where.error(f"expected a non-empty list of firewalls, got {value!r}")
    by_name = {spec.name: spec for spec in stress_tests}
    specs = tuple(
        parse_firewall(v, where.child(i), base_dir, by_name, file_project)
        for i, v in enumerate(value)
    )
    for index, spec in enumerate(specs):
        if spec.name in by_name or spec.name in [other.name for other in specs[:index]]:
            raise (
                where.child(index)
                .child("name")
                .error(
                    f"duplicate name {spec.name!r} (each stress test and firewall needs its own)"
                )
            )
        projects = [other.project.name for other in specs[:index]]
        if spec.project.name in projects:
            raise (
                where.child(index)
                .child("project")
                .error(
                    f"project {spec.project.name!r} already holds "
                    f"firewalls[{projects.index(spec.project.name)}] (a project has one "
                    "firewall); give this entry its own project"
                )
            )
    return specs


_SECTIONS: Mapping[str, Callable[[Any, _Where, Path], Any]] = {
    "server": lambda v, w, _base: _server(v, w),
    "project": lambda v, w, _base: _project(v, w),
    "defaults": lambda v, w, _base: _defaults(v, w),
    "stress_tests": _stress_tests,
}
_FILE_KEYS = (*_SECTIONS, "firewalls")


def load_rime_file(path: Path, display: str | None = None) -> RimeFileSpec:
    """Read and check a ``rime.yaml``.

    Args:
        path: The file; relative paths inside it are resolved against its directory.
        display: How messages name the file (default: ``path``), e.g. ``rime.yaml``.

    Returns:
        The parsed spec.

    Raises:
        RimeConfigError: The file is missing, not YAML, or a key is unknown or wrong.
    """
    where = _Where(display or str(path))
    if not path.is_file():
        raise where.error("file not found (given by --rime-config or the rime_config ini key)")
    raw = _load_structured_file(path, where)
    section = _mapping(raw, where, _FILE_KEYS)
    if "stress_tests" not in section:
        raise where.child("stress_tests").error("required key is missing")
    parsed = {
        key: parse(section[key], where.child(key), path.parent)
        for key, parse in _SECTIONS.items()
        if key in section
    }
    lines = entry_lines(path)
    stress_tests = _with_lines(parsed["stress_tests"], lines.get("stress_tests", []))
    firewalls = (
        _firewalls(
            section["firewalls"],
            where.child("firewalls"),
            path.parent,
            stress_tests,
            parsed.get("project"),
        )
        if "firewalls" in section
        else ()
    )
    return RimeFileSpec(
        path=path,
        server=parsed.get("server", ServerSpec()),
        project=parsed.get("project"),
        defaults=parsed.get("defaults", Defaults()),
        stress_tests=stress_tests,
        firewalls=_with_lines(firewalls, lines.get("firewalls", [])),
    )


_S = TypeVar("_S", StressTestSpec, FirewallSpec)


def _with_lines(specs: tuple[_S, ...], lines: list[int]) -> tuple[_S, ...]:
    return tuple(
        dataclasses.replace(spec, line=lines[i]) if i < len(lines) else spec
        for i, spec in enumerate(specs)
    )


def entry_lines(path: Path) -> dict[str, list[int]]:
    """0-based line of each entry of the top-level lists of a YAML file (``{}`` if unknown).

    Items and reports point at the ``stress_tests`` / ``firewalls`` entry they come from.
    """
    import yaml

    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    if not isinstance(root, yaml.MappingNode):
        return {}
    return {
        str(key.value): [item.start_mark.line for item in value.value]
        for key, value in root.value
        if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.SequenceNode)
    }


def stress_test_from_call(
    config_or_path: Mapping[str, Any] | str | os.PathLike[str],
    options: Mapping[str, Any],
    source: str,
    base_dir: Path,
) -> StressTestSpec:
    """Spec for ``rime.stress_test(config_or_path, **options)`` and ``@pytest.mark.rime``.

    Args:
        config_or_path: A test run config dict, or the path of a JSON/YAML file holding one.
        options: Other keys of a ``stress_tests`` entry (``fail_on``, ``ignore``, images...).
        source: Who asked, for messages.
        base_dir: Directory relative paths are resolved against.
    """
    key = "config" if isinstance(config_or_path, Mapping) else "config_path"
    value = config_or_path if isinstance(config_or_path, Mapping) else os.fspath(config_or_path)
    return parse_stress_test({key: value, **options}, _Where(source), base_dir)
