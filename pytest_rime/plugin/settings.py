"""Command line options and ini keys of the plugin, read into one frozen :class:`Settings`.

Each setting exists as an option and (where it makes sense in a file) an ini key; the option
wins over the ini key (the pytest-asyncio convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_rime.plugin.gate import FAIL_ON_LEVELS


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
        dest="rime_report",
        metavar="PATH",
        default=None,
        help="Write the results as JSON, or as Markdown when PATH ends in .md",
    )
    group.addoption(
        "--rime-fail-on",
        dest="rime_fail_on",
        choices=FAIL_ON_LEVELS,
        default=None,
        help="Lowest severity that fails a test case (overrides defaults.fail_on)",
    )
    parser.addini("rime_config", "rime.yaml files to collect", type="paths", default=[])
    parser.addini("rime_report", "Path of the JSON or Markdown results report", default="")
    parser.addini("rime_fail_on", "Default lowest severity that fails a test case", default="")


@dataclass(frozen=True)
class Settings:
    """The plugin's effective settings for a session.

    Attributes:
        config_paths: rime.yaml files to collect (absolute).
        rerun: Ignore cached results.
        report_path: Where to write the results report.
        fail_on: Global gate from the command line or ini (``None``: each file's default).
    """

    config_paths: tuple[Path, ...] = ()
    rerun: bool = False
    report_path: Path | None = None
    fail_on: str | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        """Read options and ini keys; raise :class:`pytest.UsageError` on a bad value."""
        invocation_dir = config.invocation_params.dir
        ini_dir = config.inipath.parent if config.inipath else config.rootpath
        cli_paths: list[str] = config.getoption("rime_config")
        paths = (
            [(invocation_dir / p).resolve() for p in cli_paths]
            if cli_paths
            else [Path(p).resolve() for p in config.getini("rime_config")]
        )
        report: str | None = config.getoption("rime_report")
        ini_report: str = config.getini("rime_report")
        fail_on: str | None = (
            config.getoption("rime_fail_on") or config.getini("rime_fail_on") or None
        )
        if fail_on is not None and fail_on.lower() not in FAIL_ON_LEVELS:
            raise pytest.UsageError(
                f"ini key rime_fail_on: expected one of {', '.join(FAIL_ON_LEVELS)}, "
                f"got {fail_on!r}"
            )
        return cls(
            config_paths=tuple(dict.fromkeys(paths)),
            rerun=bool(config.getoption("rime_rerun")),
            report_path=(
                (invocation_dir / report).resolve()
                if report
                else (ini_dir / ini_report).resolve()
                if ini_report
                else None
            ),
            fail_on=fail_on.lower() if fail_on else None,
        )
