"""xdist support: the controller hands its session token and embedded server to the workers.

Registered only when pytest-xdist is installed, on the controller. Workers read the values
from ``config.workerinput`` (see :mod:`pytest_rime.plugin.session`), so all of them share one
embedded server and one run per stress test.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_rime.plugin.runner import RunFailed
from pytest_rime.plugin.session import (
    WORKER_EMBEDDED_ADDRESS,
    WORKER_EMBEDDED_IDENTITY,
    WORKER_SESSION,
    get_session,
)


class XdistControllerPlugin:
    """Fills each worker's ``workerinput`` (pytest_configure_node is an xdist hook)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_configure_node(self, node: Any) -> None:
        """Pass the session token and, when rime.yaml files need it, the embedded server."""
        session = get_session(self.config)
        node.workerinput[WORKER_SESSION] = session.token
        if session.needs_embedded_server():
            try:
                node.workerinput[WORKER_EMBEDDED_ADDRESS] = session.embedded_address()
            except RunFailed:
                return  # each worker tries itself and reports the failure as a collection error
            node.workerinput[WORKER_EMBEDDED_IDENTITY] = session.embedded_identity()
