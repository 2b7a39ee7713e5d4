"""The pytest-rime backend: gRPC servicers, SQLite store, blob store, job queue and web app.

Start it with ``rime serve`` or in-process with :func:`pytest_rime.server.app.create_server`.
This package imports nothing heavy at import time; :mod:`pytest_rime.sdk.embedded` starts a
server as a child process (``rime serve``) for the pytest plugin, without importing it.
"""

from __future__ import annotations
