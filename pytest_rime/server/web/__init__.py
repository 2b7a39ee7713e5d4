"""The web app behind ``get_link()``: projects, test runs, firewalls and jobs as pages.

Stdlib HTTP(S) server, pages rendered by :mod:`pytest_rime.report`:

- :mod:`~pytest_rime.server.web.server`: :class:`WebApp`, the listening socket (HTTPS with the
  server's certificate) and its serving thread;
- :mod:`~pytest_rime.server.web.routes`: :class:`Site`, the routes, access and error pages;
- :mod:`~pytest_rime.server.web.auth`: API keys, the login form and its session cookie;
- :mod:`~pytest_rime.server.web.pages`: each page, from the store to a response;
- :mod:`~pytest_rime.server.web.joblog`: reading a job log by offset (the live log);
- :mod:`~pytest_rime.server.web.messages`: requests and responses as plain values;
- :mod:`~pytest_rime.server.web.tls`: the SSL context.
"""

from __future__ import annotations

from pytest_rime.server.web.routes import Site
from pytest_rime.server.web.server import WebApp
from pytest_rime.server.web.tls import server_context

__all__ = ["Site", "WebApp", "server_context"]
