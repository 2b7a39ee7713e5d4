"""Helpers of the browser tests: a watched Chromium tab and questions asked of a page's DOM."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Locator, Page, Request, Route

    from pytest_rime.sdk import RIMEClient
    from pytest_rime.server.app import RunningServer

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's chromium package: the only browser the tests use (none is downloaded)."""

LOCAL_SCHEMES = ("file", "data", "blob", "about")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")

WAIT_MS = 15_000
"""How long a page gets to draw a chart or apply a filter."""


def is_local(url: str, *, loopback: bool = True) -> bool:
    """Whether ``url`` is a file/data/blob URL (or, with ``loopback``, on 127.0.0.1)."""
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or (loopback and parts.hostname in LOOPBACK)


@dataclass
class Tab:
    """A page and what it did: requests beyond loopback (aborted), dialogs, script errors.

    Attributes:
        page: The Chromium page.
        screenshots: Where :meth:`snap` saves ``<name>-<label>.png``.
        name: The test's name, the screenshots' prefix.
    """

    page: Page
    screenshots: Path
    name: str
    outside_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, context: BrowserContext, screenshots: Path, name: str) -> Tab:
        """A new page of ``context`` whose requests beyond loopback are aborted and recorded."""
        tab = cls(context.new_page(), screenshots, re.sub(r"[^A-Za-z0-9_.-]+", "_", name))
        tab.page.route("**/*", tab._only_loopback)
        tab.page.on("dialog", tab._dialog)
        tab.page.on("pageerror", lambda error: tab.page_errors.append(str(error)))
        return tab

    def _only_loopback(self, route: Route, request: Request) -> None:
        if is_local(request.url):
            route.continue_()
        else:
            self.outside_requests.append(request.url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def offline(self) -> list[str]:
        """Abort every request but ``file:``/``data:``/``blob:`` ones; returns those tried."""
        tried: list[str] = []

        def abort_all(route: Route, request: Request) -> None:
            if is_local(request.url, loopback=False):
                route.continue_()
            else:
                route.abort()

        def record(request: Request) -> None:
            if not is_local(request.url, loopback=False):
                tried.append(request.url)

        self.page.unroute("**/*")
        self.page.route("**/*", abort_all)
        self.page.on("request", record)
        return tried

    def snap(self, label: str) -> Path:
        """Save a PNG of the whole page as ``<name>-<label>.png``; its path."""
        path = self.screenshots / f"{self.name}-{label}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    def close(self) -> None:
        """Close the page."""
        self.page.close()


@dataclass(frozen=True)
class GatedServer:
    """The server the plugin gated a run on, the plugin's JSON report and the data it used."""

    server: RunningServer
    report: dict[str, Any]
    data: Any
    client: RIMEClient

    @property
    def run(self) -> dict[str, Any]:
        """The report's only stress test run."""
        (run,) = self.report["runs"]
        return dict(run)

    @property
    def firewall(self) -> dict[str, Any]:
        """The report's only firewall."""
        (firewall,) = self.report["firewalls"]
        return dict(firewall)

    @property
    def project_id(self) -> str:
        """The project of the gated run and the firewall (from the run's link)."""
        return urlsplit(self.run["link"]).path.split("/")[2]  # /projects/<id>/test-runs/<run>

    def url(self, path: str) -> str:
        """``path`` on the server's web app."""
        return f"{self.server.web_base_url}{path}"


def follows(page: Page, first: str, second: str) -> bool:
    """Whether the first element matching ``second`` comes after the first matching ``first``."""
    return bool(
        page.evaluate(
            """([a, b]) => {
                const x = document.querySelector(a), y = document.querySelector(b);
                return !!(x && y && (x.compareDocumentPosition(y)
                    & Node.DOCUMENT_POSITION_FOLLOWING));
            }""",
            [first, second],
        )
    )


def shown(locator: Locator) -> int:
    """How many elements of ``locator`` are not hidden (by a ``hidden`` attribute or CSS)."""
    return int(locator.evaluate_all("els => els.filter(e => e.offsetParent !== null).length"))


def number_in(text: str) -> int:
    """The first whole number in ``text`` (``12 shown`` -> 12); fails when there is none."""
    match = re.search(r"\d+", text.replace(",", ""))
    assert match, f"no number in {text!r}"
    return int(match.group())


def wait_for_chart(canvas: Locator) -> int:
    """Wait until rime.js drew a chart on ``canvas``; its ``data-points`` count."""
    canvas.page.wait_for_function(
        "c => Number(c.dataset.points) > 0", arg=canvas.element_handle(), timeout=WAIT_MS
    )
    return int(canvas.get_attribute("data-points") or 0)


def chart_data_length(canvas: Locator) -> int:
    """Points of the first dataset of the Chart.js chart on ``canvas`` (0: no chart)."""
    return int(
        canvas.evaluate(
            "c => { const chart = window.Chart && Chart.getChart(c);"
            " return chart ? chart.data.datasets[0].data.length : 0; }"
        )
    )


def open_a_closed_chart(page: Page) -> Locator:
    """Open the first closed case that has a chart, wait for its chart; its canvas.

    The canvas has no chart before (rime.js draws a case's chart when it opens).
    """
    case = page.locator(".case:has(details:not([open])):has(canvas.chart)").first
    opened = page.locator(f"#{case.get_attribute('id')}")  # not re-matched once open
    canvas = opened.locator("canvas.chart")
    assert canvas.get_attribute("data-points") is None
    opened.locator("summary").click()
    assert wait_for_chart(canvas) > 0
    assert chart_data_length(canvas) > 0
    return canvas
