"""Browser fixtures: the system's headless Chromium and a real server holding a gated run.

- ``chromium``: one headless Chromium for the session (Debian's ``/usr/bin/chromium``, driven
  by Playwright; never a downloaded browser) on a fresh profile, with the flags that keep it
  off the network. Tests skip when ``/usr/bin/chromium`` is missing.
- ``tab``: a new page (:class:`~browser_helpers.Tab`) per test whose requests to anything but
  loopback, ``file:``, ``data:`` or ``blob:`` URLs are aborted; its PNGs (``tab.snap(label)``,
  and one at teardown) go to ``$RIME_SCREENSHOT_DIR`` (default: a session temporary folder);
  the test errors if the page tried the network or raised a JavaScript error.
- ``gated``: a real server (in-process, loopback) on which the plugin ran ``rime.yaml``: a
  stress test whose evaluation data has ``age`` shifted (a failing feature) and a daily
  firewall whose middle day drifts; with the plugin's JSON report of that session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_helpers import CHROMIUM, GatedServer, Tab

from pytest_rime.sdk import RIMEClient
from pytest_rime.server.app import RunningServer, create_server
from pytest_rime.server.settings import ServerSettings

# Helpers of the SDK and server tests: the firewall tests' timestamped tables and model
# (firewall_data) and the named pipe a model blocks on (server_helpers.Gate).
for _helpers in ("sdk", "server"):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / _helpers))
from firewall_data import write_firewall_data  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Chromium flags: headless, and nothing that reaches out to the network by itself."""


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each test's PNG goes: ``$RIME_SCREENSHOT_DIR``, else a session temp folder."""
    configured = os.environ.get("RIME_SCREENSHOT_DIR")
    directory = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="session", autouse=True)
def _needs_chromium() -> None:
    """Skip before any other fixture (servers, plugin runs) when Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"the browser tests need {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Headless Chromium (``/usr/bin/chromium``) on a fresh profile."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright: pip install -e '.[browser]'")

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=list(LAUNCH_ARGS),
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture
def tab(
    chromium: BrowserContext, screenshot_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Tab]:
    """A new page; saved as ``<module>-<test>-end.png`` at teardown, then checked and closed."""
    opened = Tab.open(
        chromium, screenshot_dir, f"{request.node.module.__name__}-{request.node.name}"
    )
    yield opened
    opened.snap("end")
    opened.close()
    assert not opened.outside_requests, f"the page tried the network: {opened.outside_requests}"
    assert not opened.page_errors, f"JavaScript errors on the page: {opened.page_errors}"


def _rime_yaml(server: RunningServer, data: Any) -> str:
    return textwrap.dedent(
        f"""\
        server: {{address: '{server.address}'}}
        project: {{name: credit scoring, description: the browser tests' project}}
        stress_tests:
          - name: Credit
            config:
              data_info:
                label_col: label
                ref_path: {data.ref_path}
                eval_path: {data.shifted_ref_path}
                categorical_features: [city]
              model_info: {{path: {data.model_path}}}
              model_task: Binary Classification
              random_seed: 0
        firewalls:
          - name: Daily
            reference: Credit
            eval_path: {data.eval_path}
            timestamp_col: ts
        """
    )


@pytest.fixture(scope="session")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatedServer]:
    """A real server after ``pytest --rime-config rime.yaml --rime-report out.json`` ran on it."""
    base = tmp_path_factory.getbasetemp()
    server = create_server(
        ServerSettings(
            data_dir=tmp_path_factory.mktemp("rime-data"),
            host="127.0.0.1",
            port=0,
            web_port=0,
            allowed_local_paths=(base,),
            allowed_custom_images=(Path(sys.prefix), Path(sys.executable)),
        )
    )
    data = write_firewall_data(tmp_path_factory.mktemp("credit-data"))
    project = tmp_path_factory.mktemp("gate")
    (project / "rime.yaml").write_text(_rime_yaml(server, data))
    command = [
        sys.executable, "-m", "pytest", "--rime-config", "rime.yaml", "--rime-report",
        "out.json", "-p", "no:randomly", "-o", f"cache_dir={project / 'cache'}",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600)
    try:
        # The planted drift fails the gate (exit code 1); anything else is a broken setup.
        assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
        report = json.loads((project / "out.json").read_text())
        with RIMEClient(server.address, disable_tls=True) as client:
            yield GatedServer(server=server, report=report, data=data, client=client)
    finally:
        server.stop(grace=0)
