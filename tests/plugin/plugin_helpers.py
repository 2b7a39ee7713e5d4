"""Helpers of the plugin tests: an independent gate, a free port, the temp project."""

from __future__ import annotations

import socket
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from pytest_rime.server.embedded import EmbeddedServer

SEVERITY_RANK = {"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}


def run_config(data: Path, eval_file: str) -> dict[str, object]:
    """The test run config of the tiny dataset (the same for the SDK and the plugin)."""
    return {
        "run_name": "Tiny",
        "data_info": {
            "label_col": "y",
            "ref_path": str(data / "ref.csv"),
            "eval_path": str(data / eval_file),
            "categorical_features": ["color"],
        },
        "model_info": {"path": str(data / "model" / "model.py")},
        "random_seed": 0,
    }


def failing(cases: pd.DataFrame, fail_on: str = "high") -> pd.DataFrame:
    """Cases a gate at ``fail_on`` fails (computed here, not by the plugin)."""
    rank = cases["severity"].map(SEVERITY_RANK)
    return cases[(rank >= SEVERITY_RANK[fail_on.upper()]) & (cases["status"] != "SKIP")]


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RimeProject:
    """A conftest-free temp project holding a rime.yaml that points at the tiny data."""

    pytester: pytest.Pytester
    data: Path
    server: EmbeddedServer
    cache_dir: Path

    def write(
        self,
        *,
        eval_file: str = "eval.csv",
        extra: str = "",
        server: str | None = None,
        name: str = "rime.yaml",
        sections: str = "",
    ) -> Path:
        """Write a rime.yaml; ``extra`` lines go into the stress test entry.

        ``sections`` (e.g. a ``firewalls:`` list) follow at the top level.
        """
        address = server if server is not None else f"server: {{address: '{self.server.address}'}}"
        text = textwrap.dedent(
            f"""\
            {address}
            stress_tests:
              - name: Tiny
                config:
                  data_info:
                    label_col: y
                    ref_path: {self.data / "ref.csv"}
                    eval_path: {self.data / eval_file}
                    categorical_features: [color]
                  model_info: {{path: {self.data / "model" / "model.py"}}}
                  random_seed: 0
            """
        )
        text += textwrap.indent(textwrap.dedent(extra), "    ")
        text += textwrap.dedent(sections)
        path = self.pytester.path / name
        path.write_text(text)
        return path

    def run(self, *args: str, config: str = "rime.yaml") -> pytest.RunResult:
        """``pytest --rime-config <config> ...`` in a subprocess sharing the results cache."""
        return self.pytester.runpytest_subprocess(
            "--rime-config", config, "-o", f"cache_dir={self.cache_dir}", "-p", "no:randomly",
            *args, timeout=180,
        )  # fmt: skip
