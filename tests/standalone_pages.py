"""Reading a standalone HTML report in tests: its data, its sections, its outside URLs."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

_WEB = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.ids: list[str] = []
        self.gate_counts: list[dict[str, int]] = []
        self._data_script = False
        self.data = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.urls += [values[name] for name in ("src", "href", "action") if name in values]
        if "id" in values:
            self.ids.append(values["id"])
        if "data-gate-counts" in values:
            self.gate_counts.append(json.loads(values["data-gate-counts"]))
        self._data_script = tag == "script" and values.get("id") == "rime-data"

    def handle_data(self, data: str) -> None:
        if self._data_script:
            self.data += data

    def handle_endtag(self, tag: str) -> None:
        self._data_script = False


def read_page(html: str) -> _Page:
    """The page parsed: ``urls`` (src, href, action), ``ids``, ``gate_counts``, ``data``."""
    page = _Page()
    page.feed(html)
    page.close()
    return page


def outside_urls(html: str) -> list[str]:
    """Every src / href / action / CSS ``url()`` that leaves the file (``http(s)://``, ``//``)."""
    urls = read_page(html).urls + re.findall(r"url\(\s*['\"]?([^'\")]+)", html)
    return [url for url in urls if _WEB.match(url)]


def page_data(html: str) -> dict[str, Any]:
    """The page's ``<script type="application/json" id="rime-data">`` object."""
    data: dict[str, Any] = json.loads(read_page(html).data)
    return data


def counts_without_total(counts: dict[str, int]) -> dict[str, int]:
    """A section's gate counts without ``total`` (as the plugin's JSON report has them)."""
    return {gate: n for gate, n in counts.items() if gate != "total"}
