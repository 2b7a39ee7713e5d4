"""One HTTP request and response of the web app, as plain values (no sockets).

The routes (:mod:`~pytest_rime.server.web.routes`) turn a :class:`Request` into a
:class:`Response`; the handler (:mod:`~pytest_rime.server.web.server`) does the I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

HTML = "text/html; charset=utf-8"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
"""Scripts only from the app's own files: markup that slipped into a page could not run."""

_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)
"""Sent with every response: a script policy, no sniffing, no framing, no caching of
(possibly private) pages."""


@dataclass(frozen=True)
class Request:
    """What the app needs of a request.

    Attributes:
        method: ``GET`` or ``POST``.
        path: The path as sent, without its query (not percent-decoded).
        query: The query string, not parsed.
        headers: Header values by lower-case name.
        body: The request body (form posts only).
    """

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def target(self) -> str:
        """The path with its query, as the client asked for it."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def param(self, name: str, default: str = "") -> str:
        """The first value of query parameter ``name``."""
        return parse_qs(self.query).get(name, [default])[0]

    def form(self) -> dict[str, str]:
        """The body as an ``application/x-www-form-urlencoded`` form (first value of each)."""
        fields = parse_qs(self.body.decode("utf-8", errors="replace"))
        return {name: values[0] for name, values in fields.items()}

    def cookie(self, name: str) -> str:
        """The value of cookie ``name`` (empty when absent or the header is malformed)."""
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("cookie", ""))
        except CookieError:
            return ""
        morsel = jar.get(name)
        return morsel.value if morsel is not None else ""

    @property
    def wants_html(self) -> bool:
        """Whether the client asked for a page (a browser navigating) rather than data."""
        return "text/html" in self.headers.get("accept", "")


@dataclass(frozen=True)
class Response:
    """A complete response: status, body, content type and further headers."""

    status: HTTPStatus
    body: bytes = b""
    content_type: str = HTML
    headers: tuple[tuple[str, str], ...] = ()

    def all_headers(self) -> list[tuple[str, str]]:
        """Every header to send, the security headers included."""
        return [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            *_HEADERS,
            *self.headers,
        ]


def html_page(page: str, status: HTTPStatus = HTTPStatus.OK, **headers: str) -> Response:
    """An HTML page; ``headers`` are further headers (underscores in names become dashes)."""
    extra = tuple((name.replace("_", "-"), value) for name, value in headers.items())
    return Response(status, page.encode("utf-8"), HTML, extra)


def json_body(data: Any) -> Response:
    """A JSON document (200)."""
    return Response(HTTPStatus.OK, json.dumps(data).encode("utf-8"), "application/json")


def redirect(location: str, *cookies: str) -> Response:
    """A 303 to ``location`` (a same-site path), setting the given ``Set-Cookie`` values."""
    headers = (("Location", location), *(("Set-Cookie", cookie) for cookie in cookies))
    return Response(HTTPStatus.SEE_OTHER, headers=headers)
