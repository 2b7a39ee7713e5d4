"""The web app's HTTP(S) server: a :class:`ThreadingHTTPServer` in a daemon thread.

It binds when created (so the port is known before the pages are wired) and serves once
:meth:`WebApp.start` hands it the app: a function from :class:`Request` to :class:`Response`,
whose :meth:`App.receive` also takes the streamed body of a PUT (uploads).
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from pytest_rime.server.web.bodies import drain, read_blocks
from pytest_rime.server.web.messages import Request, Response


class App(Protocol):
    """What the server serves: GET and POST requests, and PUTs with a streamed body."""

    def __call__(self, request: Request) -> Response:
        """The response to a GET or POST ``request``."""
        ...

    def receive(self, request: Request, blocks: Iterator[bytes]) -> Response:
        """The response to a PUT ``request`` whose body arrives as ``blocks``."""
        ...


MAX_BODY_BYTES = 16 * 1024
"""The largest request body accepted (the login form is the only thing posted)."""
MAX_DRAIN_BYTES = 1 << 20
"""Of a PUT body the app did not read, the most read and dropped so the client gets the answer."""

_log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: App

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away or failed the TLS handshake: nothing to report."""
        _log.debug("web request from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "rime"
    sys_version = ""
    timeout = 60  # seconds a silent client may hold a thread

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self._send(Response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, content_type="text/plain"))
            return
        self._answer(self.rfile.read(length))

    def do_PUT(self) -> None:
        self._answer(b"", streamed=True)

    def _answer(self, body: bytes, *, streamed: bool = False) -> None:
        path, _, query = self.path.partition("?")
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Request(self.command, path, query.partition("#")[0], headers, body)
        try:
            if streamed:
                blocks = read_blocks(self.rfile, headers)
                response = self.server.app.receive(request, blocks)
                self.close_connection |= not drain(blocks, MAX_DRAIN_BYTES)
            else:
                response = self.server.app(request)
        except Exception:
            _log.exception("web request %s %s failed", self.command, path)
            body = b"500 Internal Server Error (the server log says why)\n"
            response = Response(HTTPStatus.INTERNAL_SERVER_ERROR, body, "text/plain")
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.all_headers():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Request lines go to the debug log, not stderr."""
        _log.debug("web: " + format, *args)


class WebApp:
    """The web app's listening socket and, once started, its serving thread.

    Args:
        host: Interface to listen on.
        port: Port; 0 picks a free one.
        tls: Serve HTTPS with this context; plain HTTP when ``None``.

    Attributes:
        port: The bound port.
        scheme: ``"https"`` or ``"http"``.
    """

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None = None) -> None:
        self._server = _Server((host, port), _Handler)
        if tls is not None:
            # The handshake runs in the request's thread, so a slow client blocks no one else.
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port: int = self._server.server_address[1]
        self.scheme = "http" if tls is None else "https"
        self._thread: threading.Thread | None = None

    def start(self, app: App) -> None:
        """Serve ``app`` in a daemon thread."""
        self._server.app = app
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="rime-web", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (if started) and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
