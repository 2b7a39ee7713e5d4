"""Shared pieces of the plugin tests: one tiny dataset, one real server, one results cache.

Every pytester run talks to the same ``rime serve`` child process (started once per test
session) and shares one pytest cache dir, so a config the engine already ran comes back from
the cache; the expected outcomes are computed independently through the SDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plugin_helpers import (
    BAD_DAY,
    RimeProject,
    cases_through_sdk,
    days_frame,
    write_tiny_data,
)

from pytest_rime.sdk import RIMEClient
from pytest_rime.sdk.embedded import EmbeddedServer, start_embedded_server


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ref.csv, eval.csv, eval_broken.csv (x1, the model's only input, shifted) and a model."""
    return write_tiny_data(tmp_path_factory.mktemp("tiny_data"))


@pytest.fixture(scope="session")
def days_data(tiny_data: Path) -> Path:
    """Beside the tiny data: days.csv (healthy) and days_bad.csv (x1 shifted on day 1)."""
    rng = np.random.default_rng(1)
    days_frame(rng, None).to_csv(tiny_data / "days.csv", index=False)
    days_frame(rng, BAD_DAY).to_csv(tiny_data / "days_bad.csv", index=False)
    return tiny_data


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """A real ``rime serve`` on 127.0.0.1 with a free port, for the whole test session."""
    with start_embedded_server(tmp_path_factory.mktemp("server")) as server:
        yield server


@pytest.fixture(scope="session")
def sdk_client(embedded_server: EmbeddedServer) -> Iterator[RIMEClient]:
    with RIMEClient(embedded_server.address, disable_tls=True) as client:
        yield client


@pytest.fixture(scope="session")
def clean_cases(sdk_client: RIMEClient, tiny_data: Path) -> pd.DataFrame:
    return cases_through_sdk(sdk_client, tiny_data, "eval.csv")


@pytest.fixture(scope="session")
def broken_cases(sdk_client: RIMEClient, tiny_data: Path) -> pd.DataFrame:
    return cases_through_sdk(sdk_client, tiny_data, "eval_broken.csv")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pytest_cache")


@pytest.fixture
def rime_project(
    pytester: pytest.Pytester, tiny_data: Path, embedded_server: EmbeddedServer, shared_cache: Path
) -> RimeProject:
    return RimeProject(pytester, tiny_data, embedded_server, shared_cache)
