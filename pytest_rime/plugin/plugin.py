"""The plugin's hooks and the ``rime`` fixture.

pytest imports this module in every session of every project where pytest-rime is
installed, so it imports only pytest and the light settings module; everything else (the
SDK with grpc and pandas, the YAML parser, collectors) is imported when a rime option,
fixture or marker is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_rime.plugin.cases import CATEGORIES, category_marker
from pytest_rime.plugin.settings import Settings, add_options

if TYPE_CHECKING:
    from pytest_rime.plugin.collect import RimeFile
    from pytest_rime.plugin.fixture import RimeFixture

_FIXTURE_KEY = pytest.StashKey["RimeFixture"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``rime`` options and ini keys."""
    add_options(parser)


def _covers(invocation_dir: Path, arg: str, path: Path) -> bool:
    """Whether the collection argument ``arg`` already collects ``path``."""
    arg_path = (invocation_dir / arg.split("::", 1)[0]).resolve()
    return arg_path == path or arg_path in path.parents


def pytest_configure(config: pytest.Config) -> None:
    """Register markers; with rime configs, check them and make them collection arguments."""
    config.addinivalue_line(
        "markers",
        "rime(config=..., fail_on=...): a RIME test case item, or (with config=) run that "
        "stress test for this test and hand its result to the rime fixture as rime.result",
    )
    config.addinivalue_line("markers", "rime_firewall: RIME test cases of a firewall's time bins")
    for category in CATEGORIES:
        config.addinivalue_line(
            "markers", f"{category_marker(category)}: RIME test cases of category {category}"
        )
    settings = Settings.from_config(config)
    if settings.config_paths:
        from pytest_rime.plugin.session import SESSION_KEY, RimeSession

        config.stash[SESSION_KEY] = RimeSession(config, settings)
        invocation_dir = config.invocation_params.dir
        for path in settings.config_paths:
            if not any(_covers(invocation_dir, arg, path) for arg in config.args):
                config.args.append(str(path))
    if not hasattr(config, "workerinput"):
        from pytest_rime.plugin.report import ReportPlugin

        config.pluginmanager.register(
            ReportPlugin(settings.report_paths, lambda: _html_report(config)), "rime-report"
        )
        if config.pluginmanager.hasplugin("xdist"):
            from pytest_rime.plugin.xdist import XdistControllerPlugin

            config.pluginmanager.register(XdistControllerPlugin(config), "rime-xdist")


def _html_report(config: pytest.Config) -> Path | None:
    """Where the session's HTML report goes (``None``: no rime.yaml needs one)."""
    from pytest_rime.plugin.session import SESSION_KEY

    session = config.stash.get(SESSION_KEY, None)
    return None if session is None else session.html_report


def pytest_report_header(config: pytest.Config) -> list[str]:
    """One line naming the rime.yaml files, their servers and the global gate."""
    from pytest_rime.plugin.session import SESSION_KEY

    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return []
    files = ", ".join(
        f"{path.name} ({spec.server.address or 'embedded server'})"
        for path, spec in session.files.items()
    )
    settings = session.settings
    extras = [f"fail_on={settings.fail_on}"] * bool(settings.fail_on)
    extras += ["rerun"] * settings.rerun
    return [f"rime: {files}" + "".join(f", {extra}" for extra in extras)]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> RimeFile | None:
    """Collect the rime.yaml files named by ``--rime-config`` / ``rime_config``.

    A YAML file given as an argument (``pytest rime.yaml``) is one of them when it has a
    top-level ``stress_tests`` or ``firewalls`` key (see :func:`.settings.rime_file_args`).
    """
    from pytest_rime.plugin.session import SESSION_KEY

    session = parent.config.stash.get(SESSION_KEY, None)
    if session is None or file_path.resolve() not in session.files:
        return None
    from pytest_rime.plugin.collect import RimeFile

    return RimeFile.from_parent(parent, path=file_path)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A rime item's skip points at its run's entry in the rime.yaml, not at our source."""
    report = yield
    location = getattr(item, "rime_location", None)
    if location is not None and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (location[0], location[1], report.longrepr[2])
    return report


def _rime_fixture(config: pytest.Config) -> RimeFixture:
    if _FIXTURE_KEY not in config.stash:
        from pytest_rime.plugin.fixture import RimeFixture
        from pytest_rime.plugin.session import get_session

        config.stash[_FIXTURE_KEY] = RimeFixture(get_session(config))
    return config.stash[_FIXTURE_KEY]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Run the stress test of ``@pytest.mark.rime(config=...)`` before the test's fixtures."""
    marker = item.get_closest_marker("rime")
    if marker is not None and (marker.kwargs or marker.args):
        _rime_fixture(item.config).run_marker(item)
    elif _FIXTURE_KEY in item.config.stash:
        item.config.stash[_FIXTURE_KEY].run_marker(item)


@pytest.fixture(scope="session")
def rime(request: pytest.FixtureRequest) -> RimeFixture:
    """Stress tests from Python tests: ``rime.client``, ``rime.stress_test()``, ``rime.result``."""
    return _rime_fixture(request.config)
