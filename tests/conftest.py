"""Shared fixtures: real in-process rime servers and small tabular data sets.

- ``rime_server``: a fresh server on 127.0.0.1 port 0 with a temporary data dir
  (``.address`` is ``"127.0.0.1:PORT"``, ``.web_port``, ``.data_dir``, ``.stop()``).
- ``rime_server_factory``: ``start(data_dir=None, **settings)`` for servers with options (api
  keys, ``max_concurrent_jobs``, ...) or a restart on the same ``data_dir``; every server it
  started is stopped at teardown.
- ``rime_channel``: an insecure gRPC channel to ``rime_server``.
- ``rime_serve_args``: options for the ``rime serve`` processes tests start (none here).
- ``write_tabular_dataset``: ``write(directory, **options) -> TabularDataset`` writes
  ``ref.csv``, ``eval.csv`` and ``model.py`` (``predict_df``) and builds configs for them.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest

from pytest_rime.server.app import RunningServer, create_server
from pytest_rime.server.settings import ServerSettings

ServerFactory = Callable[..., RunningServer]

MODEL_SOURCE = """
import numpy as np


def predict_df(df):
    score = 0.04 * (df["age"] - 40) + 0.5 * (df["income"] - 50) / 20
    score = score + np.where(df["city"] == "Paris", 0.5, 0.0)
    return 1.0 / (1.0 + np.exp(-score))
"""


@pytest.fixture
def rime_server_factory(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    """Start servers on 127.0.0.1:0; ``start(data_dir=None, **ServerSettings fields)``.

    Unless given, ``allowed_local_paths`` is the session's temporary directory, so configs may
    name the files tests write there, and ``allowed_custom_images`` the running interpreter's
    environment.
    """
    started: list[RunningServer] = []

    def start(data_dir: Path | None = None, **settings: Any) -> RunningServer:
        settings.setdefault("allowed_local_paths", (tmp_path_factory.getbasetemp(),))
        settings.setdefault("allowed_custom_images", (Path(sys.prefix), Path(sys.executable)))
        server = create_server(
            ServerSettings(
                data_dir=data_dir or tmp_path / "rime-data",
                host="127.0.0.1",
                port=0,
                web_port=0,
                **settings,
            )
        )
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop(grace=0)


@pytest.fixture
def rime_serve_args() -> list[str]:
    """Options every ``rime serve`` process a test starts gets (tests/ray adds the executor's)."""
    return []


@pytest.fixture
def rime_server(rime_server_factory: ServerFactory) -> RunningServer:
    """A fresh in-process server with a temporary data dir."""
    return rime_server_factory()


@pytest.fixture
def rime_channel(rime_server: RunningServer) -> Iterator[grpc.Channel]:
    """An insecure channel to ``rime_server``."""
    with grpc.insecure_channel(rime_server.address) as channel:
        yield channel


@dataclass(frozen=True)
class TabularDataset:
    """Files of a small binary classification problem and configs that use them."""

    directory: Path
    ref_path: Path
    eval_path: Path
    model_path: Path
    label_col: str = "label"

    def config(self, **overrides: Any) -> dict[str, Any]:
        """A test run config for these files; ``overrides`` replace top-level keys."""
        config: dict[str, Any] = {
            "run_name": "tabular smoke",
            "data_info": {
                "label_col": self.label_col,
                "ref_path": str(self.ref_path),
                "eval_path": str(self.eval_path),
                "categorical_features": ["city"],
            },
            "model_info": {"path": str(self.model_path)},
            "model_task": "Binary Classification",
            "random_seed": 0,
        }
        config.update(overrides)
        return config


def _frame(rng: np.random.Generator, rows: int, age_shift: float) -> pd.DataFrame:
    age = rng.integers(18, 80, rows) + int(age_shift)
    income = rng.normal(50, 15, rows).round(2)
    city = rng.choice(["Paris", "Lyon", "Nice"], rows)
    score = 0.04 * (age - 40) + 0.5 * (income - 50) / 20 + np.where(city == "Paris", 0.5, 0.0)
    label = (rng.random(rows) < 1 / (1 + np.exp(-score))).astype(int)
    return pd.DataFrame({"age": age, "income": income, "city": city, "label": label})


def _write_tabular_dataset(
    directory: Path,
    *,
    rows: int = 200,
    eval_age_shift: float = 0.0,
    model_prelude: str = "",
    seed: int = 0,
) -> TabularDataset:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ref_path, eval_path = directory / "ref.csv", directory / "eval.csv"
    _frame(rng, rows, 0.0).to_csv(ref_path, index=False)
    _frame(rng, rows, eval_age_shift).to_csv(eval_path, index=False)
    model_path = directory / "model.py"
    model_path.write_text(textwrap.dedent(model_prelude) + MODEL_SOURCE)
    return TabularDataset(directory, ref_path, eval_path, model_path)


@pytest.fixture
def write_tabular_dataset() -> Callable[..., TabularDataset]:
    """``write(directory, *, rows=200, eval_age_shift=0.0, model_prelude="", seed=0)``.

    ``model_prelude`` is Python code put at the top of ``model.py`` (e.g. to make the model
    import a library, crash or block).
    """
    return _write_tabular_dataset
