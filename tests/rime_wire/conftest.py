"""Fixtures of the rime wire tests: stubs of our ``rime`` protos on ``rime_channel``."""

from __future__ import annotations

import grpc
import pytest
from rime_wire_helpers import RimeStubs


@pytest.fixture
def stubs(rime_channel: grpc.Channel) -> RimeStubs:
    """Every rime service of ``rime_server``."""
    return RimeStubs.on(rime_channel)
