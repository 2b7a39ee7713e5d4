"""The job worker's memory cap: address space, or private memory for a would-be Ray driver."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

_PROBE = """
import json, resource, sys
from pytest_rime.server.worker import apply_limits
apply_limits(json.loads(sys.argv[1]))
print(json.dumps([resource.getrlimit(resource.RLIMIT_AS)[0],
                  resource.getrlimit(resource.RLIMIT_DATA)[0]]))
"""


def _limits_after(spec: dict[str, object]) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(spec)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    address_space, data = json.loads(out.splitlines()[-1])
    return address_space, data


@pytest.mark.parametrize(
    ("spec", "capped"),
    [
        ({"type": "MODEL_STRESS_TEST", "ram_request_megabytes": 512}, "as"),
        ({"type": "FIREWALL_BATCH_TEST", "ram_request_megabytes": 512}, "as"),
        (
            {"type": "FIREWALL_BATCH_TEST", "ram_request_megabytes": 512,
             "ray": {"address": "127.0.0.1:1", "split_rows": 0}},
            "as",
        ),
        (
            {"type": "FIREWALL_BATCH_TEST", "ram_request_megabytes": 512,
             "ray": {"address": "127.0.0.1:1", "split_rows": 1000}},
            "data",
        ),
    ],
)  # fmt: skip
def test_the_cap_is_twice_the_ram_request_on_the_right_limit(
    spec: dict[str, object], capped: str
) -> None:
    address_space, data = _limits_after(spec)
    limit = 2 * 512 * 2**20
    inherited_as = resource.getrlimit(resource.RLIMIT_AS)[0]
    inherited_data = resource.getrlimit(resource.RLIMIT_DATA)[0]
    assert (address_space, data) == (
        (limit, inherited_data) if capped == "as" else (inherited_as, limit)
    )
