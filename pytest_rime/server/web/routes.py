"""The web app: which path is which page, who may see it, and what errors look like.

:class:`Site` is the app :class:`~pytest_rime.server.web.server.WebApp` serves: a callable
from :class:`Request` to :class:`Response`. ``/login`` and ``/logout`` are open; every other
path first passes :class:`~pytest_rime.server.web.auth.Access` (401 without a key when the
server has keys, so even which pages exist stays private). The upload URLs
(``/upload-urls/<token>``, :mod:`pytest_rime.server.upload_urls`) are open too: their token is
the capability; they are the only thing that takes a PUT.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from http import HTTPStatus

from pytest_rime.report.pages import render_error
from pytest_rime.server.errors import InvalidArgumentError, NotFoundError
from pytest_rime.server.jobs import JobQueue
from pytest_rime.server.settings import ServerSettings
from pytest_rime.server.store import Store
from pytest_rime.server.upload_urls import URL_PATH, Receipt, UploadUrls
from pytest_rime.server.web.auth import Access
from pytest_rime.server.web.bodies import BodyError, declared_length
from pytest_rime.server.web.messages import Request, Response, html_page
from pytest_rime.server.web.pages import Pages

_ID = r"([A-Za-z0-9_-]+)"
_NAME = r"([A-Za-z0-9_-][A-Za-z0-9_.-]*)"  # a static file name: no "/", no leading dot
_UPLOAD_URL = re.compile(re.escape(URL_PATH) + _ID)

_log = logging.getLogger(__name__)


def error_page(status: HTTPStatus, message: str) -> Response:
    """An error page (``message`` is shown escaped)."""
    return html_page(render_error(int(status), message), status)


def _receipt(receipt: Receipt) -> Response:
    body = f"{int(receipt.status)} {receipt.message}\n".encode()
    allow = (("Allow", "PUT"),) if receipt.status == HTTPStatus.METHOD_NOT_ALLOWED else ()
    return Response(receipt.status, body, "text/plain; charset=utf-8", allow)


class Site:
    """Every route of the web app.

    Args:
        store: Where the pages read from.
        jobs: The job queue (live progress and log files of jobs).
        settings: The server's settings (API keys; TLS makes the session cookie ``Secure``).
        base_url: The web app's URL as people reach it (absolute links in downloads).
        upload_urls: The upload URLs this server hands out (PUT ``/upload-urls/<token>``).
    """

    def __init__(
        self,
        store: Store,
        jobs: JobQueue,
        settings: ServerSettings,
        base_url: str,
        upload_urls: UploadUrls,
    ) -> None:
        self._upload_urls = upload_urls
        secure = settings.tls_cert is not None or base_url.startswith("https:")
        self._access = Access(settings.api_keys, secure_cookie=secure)
        pages = Pages(store, jobs, base_url)
        self._open: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("GET", "/login"): self._access.login_form,
            ("POST", "/login"): self._access.login,
            ("GET", "/logout"): self._access.logout,
            ("POST", "/logout"): self._access.logout,
        }
        self._routes: list[tuple[re.Pattern[str], Callable[..., Response]]] = [
            (re.compile(r"/(?:projects/?)?"), pages.projects),
            (re.compile(rf"/projects/{_ID}/?"), pages.project),
            (re.compile(rf"/projects/{_ID}/test-runs/{_ID}/?"), pages.run),
            (re.compile(rf"/firewalls/{_ID}/?"), pages.firewall),
            (re.compile(rf"/jobs/{_ID}/?"), pages.job),
            (re.compile(rf"/jobs/{_ID}/log"), pages.job_log),
            (re.compile(rf"/static/{_NAME}"), pages.static),
            (re.compile(rf"/reports/test-runs/{_ID}\.html"), pages.run_report),
            (re.compile(rf"/reports/firewalls/{_ID}\.html"), pages.firewall_report),
        ]

    def __call__(self, request: Request) -> Response:
        """The response to ``request``."""
        open_route = self._open.get((request.method, request.path))
        if open_route is not None:
            return open_route(request)
        upload = _UPLOAD_URL.fullmatch(request.path)
        if upload is not None:  # its state, without using it: 405 while it may be PUT to
            return _receipt(self._upload_urls.probe(upload.group(1)))
        if not self._access.allows(request):
            return self._access.challenge(request)
        for pattern, page in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if request.method != "GET":
                return error_page(HTTPStatus.METHOD_NOT_ALLOWED, f"{request.method} not allowed")
            try:
                return page(request, *match.groups())
            except NotFoundError as exc:
                return error_page(HTTPStatus.NOT_FOUND, str(exc))
            except InvalidArgumentError as exc:
                return error_page(HTTPStatus.BAD_REQUEST, str(exc))
        return error_page(HTTPStatus.NOT_FOUND, f"no page at {request.path}")

    def receive(self, request: Request, blocks: Iterator[bytes]) -> Response:
        """A PUT: the bytes of an upload URL's file (no API key needed, the URL is the key)."""
        upload = _UPLOAD_URL.fullmatch(request.path)
        if upload is None:
            return error_page(HTTPStatus.METHOD_NOT_ALLOWED, "PUT is only for upload URLs")
        try:
            declared = declared_length(request.headers)
        except BodyError as exc:
            return _receipt(Receipt(HTTPStatus.BAD_REQUEST, str(exc)))
        return _receipt(self._upload_urls.receive(upload.group(1), blocks, declared))
