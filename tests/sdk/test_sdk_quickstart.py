"""examples/sdk/quickstart.py runs as documented, and again against the same server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_rime.server.app import RunningServer

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "sdk" / "quickstart.py"


@pytest.mark.slow
def test_quickstart_runs_twice_against_one_server(rime_server: RunningServer) -> None:
    address = rime_server.address
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, str(QUICKSTART), "--address", address],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert "Image quickstart_image: READY" in outputs[0]
    assert "image quickstart_image already exists; reusing it" in outputs[1]
    assert "images: ['quickstart_image']" in outputs[1]
    assert "firewall:" in outputs[1]  # the second run reaches the end
