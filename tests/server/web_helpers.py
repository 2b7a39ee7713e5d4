"""An HTTP client for web app tests: one request, sent as given, redirects not followed."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass(frozen=True)
class Reply:
    """A response: status, headers and body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


def fetch(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> Reply:
    """``GET url`` (``POST`` of ``form`` when given); the path is sent as it is, unnormalised."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=30, context=context
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    sent = dict(headers or {})
    body = None
    if form is not None:
        body = urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request("POST" if form is not None else "GET", target, body, sent)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


PAGE = {"Accept": "text/html,application/xhtml+xml"}
"""The Accept header of a browser navigating to a page."""


def tail_log(url: str, offset: int = 0, timeout: float = 60.0) -> tuple[str, dict[str, Any]]:
    """Poll a job's ``<url>?offset=N`` as the job page does, until ``done``.

    Returns the text read from ``offset`` on and the last answer.
    """
    deadline = time.monotonic() + timeout
    parts: list[str] = []
    tick = threading.Event()
    while True:
        answer = fetch(f"{url}?offset={offset}").json()
        parts.append(answer["text"])
        offset = answer["offset"]
        if answer["done"]:
            return "".join(parts), answer
        assert time.monotonic() < deadline, f"{url} not done after {timeout}s"
        tick.wait(0.05)
