"""Who may see the web app: API keys as a header or a login session cookie.

With API keys configured, every route but ``/login`` and ``/logout`` needs either a
``rime-api-key`` header holding a key or the session cookie the login form sets. The cookie
holds an HMAC of the key under a secret drawn when the server starts (never the key itself),
so a restart or removing the key ends the session. Keys are compared through their HMACs,
in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from http import HTTPStatus
from urllib.parse import urlsplit

from pytest_rime.report.pages import render_login
from pytest_rime.server.web.messages import Request, Response, html_page, redirect

API_KEY_HEADER = "rime-api-key"
SESSION_COOKIE = "rime_session"


def safe_next(target: str) -> str:
    r"""``target`` when it is a path of this site (``/...``), else ``/``.

    Refuses anything that could leave the site: a scheme or host, ``//host`` and ``/\host``
    (browsers read both as another host), control characters.
    """
    parts = urlsplit(target)
    if (
        not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or "\\" in target
        or parts.scheme
        or parts.netloc
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)
    ):
        return "/"
    return target


class Access:
    """The access rule of one server.

    Args:
        api_keys: Accepted keys; empty means everyone may see every page.
        secure_cookie: Mark the session cookie ``Secure`` (the site is served over HTTPS).
    """

    def __init__(self, api_keys: Sequence[str], *, secure_cookie: bool) -> None:
        self._secret = secrets.token_bytes(32)
        self._sessions = tuple(self._session_of(key) for key in api_keys)
        self._secure = secure_cookie

    @property
    def required(self) -> bool:
        """Whether a key is needed at all."""
        return bool(self._sessions)

    def _session_of(self, key: str) -> str:
        return hmac.new(self._secret, key.encode("utf-8"), hashlib.sha256).hexdigest()

    def _is_session(self, value: str) -> bool:
        found = False
        for session in self._sessions:  # no early exit: the time does not tell which matched
            found |= hmac.compare_digest(value.encode("ascii", "replace"), session.encode())
        return found

    def is_key(self, key: str) -> bool:
        """Whether ``key`` is one of the accepted API keys."""
        return self._is_session(self._session_of(key))

    def allows(self, request: Request) -> bool:
        """Whether ``request`` carries a valid key header or session cookie (or none is needed)."""
        if not self.required:
            return True
        if self.is_key(request.headers.get(API_KEY_HEADER, "")):
            return True
        cookie = request.cookie(SESSION_COOKIE)
        return bool(cookie) and self._is_session(cookie)

    def _cookie(self, value: str, *extra: str) -> str:
        flags = ["HttpOnly", "SameSite=Strict", "Path=/", *extra]
        if self._secure:
            flags.append("Secure")
        return "; ".join([f"{SESSION_COOKIE}={value}", *flags])

    def challenge(self, request: Request) -> Response:
        """The answer to a request without a valid key: 401, with the login form for a page."""
        if request.wants_html:
            return html_page(
                render_login(next_url=safe_next(request.target)), HTTPStatus.UNAUTHORIZED
            )
        body = f"401 Unauthorized: send a valid {API_KEY_HEADER} header or log in at /login\n"
        return Response(HTTPStatus.UNAUTHORIZED, body.encode(), "text/plain; charset=utf-8")

    def login_form(self, request: Request) -> Response:
        """``GET /login``: the form, returning to ``?next=`` once logged in."""
        return html_page(render_login(next_url=safe_next(request.param("next", "/"))))

    def login(self, request: Request) -> Response:
        """``POST /login`` (fields ``api_key``, ``next``): set the session and go to ``next``."""
        form = request.form()
        target = safe_next(form.get("next", "/"))
        key = form.get("api_key", "")
        if not self.required:
            return redirect(target)
        if not key or not self.is_key(key):
            page = render_login(error="That API key is not valid.", next_url=target)
            return html_page(page, HTTPStatus.UNAUTHORIZED)
        return redirect(target, self._cookie(self._session_of(key)))

    def logout(self, request: Request) -> Response:
        """``/logout``: clear the session cookie and show the login form."""
        return redirect("/login", self._cookie("", "Max-Age=0"))
