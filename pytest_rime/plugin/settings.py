"""Command line options and ini keys of the plugin, read into one frozen :class:`Settings`.

Each setting exists as an option and (where it makes sense in a file) an ini key; the option
wins over the ini key (the pytest-asyncio convention).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_rime.plugin.gate import FAIL_ON_LEVELS, parse_fraction

_RIME_KEYS = re.compile(r"^(stress_tests|firewalls)\s*:", re.MULTILINE)
_YAML_SUFFIXES = (".yaml", ".yml")


def add_options(parser: pytest.Parser) -> None:
    """Register the ``rime`` option group and ini keys."""
    # Help style (xdist's): capitalised, no final period.
    group = parser.getgroup("rime", "Model quality gates with pytest-rime")
    group.addoption(
        "--rime-config",
        action="append",
        dest="rime_config",
        metavar="PATH",
        default=[],
        help="rime.yaml whose stress tests become test items (repeatable)",
    )
    group.addoption(
        "--rime-rerun",
        action="store_true",
        dest="rime_rerun",
        default=False,
        help="Run the stress tests again instead of reusing cached results",
    )
    group.addoption(
        "--rime-report",
        action="append",
        dest="rime_report",
        metavar="PATH",
        default=[],
        help="Write the results as JSON, as Markdown when PATH ends in .md, or as one "
        "self-contained HTML page when it ends in .html (repeatable)",
    )
    group.addoption(
        "--rime-fail-on",
        dest="rime_fail_on",
        choices=FAIL_ON_LEVELS,
        default=None,
        help="Lowest severity that fails a test case (overrides defaults.fail_on)",
    )
    group.addoption(
        "--rime-max-skipped",
        dest="rime_max_skipped",
        metavar="FRACTION",
        default=None,
        help="Fail a run whose skipped test cases exceed this share (0.1 or 10%%; default none)",
    )
    group.addoption(
        "--rime-show-warnings",
        action="store_true",
        dest="rime_show_warnings",
        default=False,
        help="Show each finding below the gate as a warning (also with -v)",
    )
    parser.addini("rime_config", "rime.yaml files to collect", type="paths", default=[])
    parser.addini("rime_report", "Path of the JSON, Markdown or HTML results report", default="")
    parser.addini("rime_fail_on", "Default lowest severity that fails a test case", default="")
    parser.addini(
        "rime_max_skipped", "Default largest share of skipped test cases of a run", default=""
    )
    parser.addini(
        "rime_show_warnings", "Show each finding below the gate as a warning", type="bool"
    )


def looks_like_rime_file(path: Path) -> bool:
    """Whether ``path`` is a YAML file with a top-level ``stress_tests`` or ``firewalls`` key."""
    if path.suffix.lower() not in _YAML_SUFFIXES or not path.is_file():
        return False
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return _RIME_KEYS.search(text) is not None


def rime_file_args(config: pytest.Config) -> list[Path]:
    """rime.yaml files given as collection arguments (``pytest rime.yaml``), absolute."""
    invocation_dir = config.invocation_params.dir
    paths = ((invocation_dir / arg.split("::", 1)[0]).resolve() for arg in config.args)
    return [path for path in paths if looks_like_rime_file(path)]


@dataclass(frozen=True)
class Settings:
    """The plugin's effective settings for a session.

    Attributes:
        config_paths: rime.yaml files to collect (absolute).
        rerun: Ignore cached results.
        report_paths: Where to write results reports (JSON, Markdown or HTML by suffix).
        fail_on: Global gate from the command line or ini (``None``: each file's default).
        max_skipped: Global largest share of skipped cases (``None``: each file's default).
        show_warnings: Show each finding below the gate as a pytest warning.
    """

    config_paths: tuple[Path, ...] = ()
    rerun: bool = False
    report_paths: tuple[Path, ...] = ()
    fail_on: str | None = None
    max_skipped: float | None = None
    show_warnings: bool = False

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        """Read options and ini keys; raise :class:`pytest.UsageError` on a bad value."""
        invocation_dir = config.invocation_params.dir
        ini_dir = config.inipath.parent if config.inipath else config.rootpath
        cli_paths: list[str] = config.getoption("rime_config")
        paths = [(invocation_dir / p).resolve() for p in cli_paths] + rime_file_args(config)
        if not paths:
            paths = [Path(p).resolve() for p in config.getini("rime_config")]
        reports: list[str] = config.getoption("rime_report") or []
        ini_report: str = config.getini("rime_report")
        fail_on: str | None = (
            config.getoption("rime_fail_on") or config.getini("rime_fail_on") or None
        )
        if fail_on is not None and fail_on.lower() not in FAIL_ON_LEVELS:
            raise pytest.UsageError(
                f"ini key rime_fail_on: expected one of {', '.join(FAIL_ON_LEVELS)}, "
                f"got {fail_on!r}"
            )
        max_skipped_text: str | None = config.getoption("rime_max_skipped") or (
            config.getini("rime_max_skipped") or None
        )
        try:
            max_skipped = None if max_skipped_text is None else parse_fraction(max_skipped_text)
        except ValueError as exc:
            raise pytest.UsageError(f"--rime-max-skipped / rime_max_skipped: {exc}") from None
        return cls(
            config_paths=tuple(dict.fromkeys(paths)),
            max_skipped=max_skipped,
            show_warnings=bool(
                config.getoption("rime_show_warnings") or config.getini("rime_show_warnings")
            )
            or config.get_verbosity() > 0,
            rerun=bool(config.getoption("rime_rerun")),
            report_paths=tuple(
                dict.fromkeys(
                    [(invocation_dir / report).resolve() for report in reports]
                    if reports
                    else [(ini_dir / ini_report).resolve()] * bool(ini_report)
                )
            ),
            fail_on=fail_on.lower() if fail_on else None,
        )
