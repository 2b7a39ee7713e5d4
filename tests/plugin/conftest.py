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
from plugin_helpers import RimeProject, run_config

from pytest_rime.sdk import RIMEClient
from pytest_rime.server.embedded import EmbeddedServer, start_embedded_server

MODEL = """
import numpy as np
import pandas as pd


def predict_df(df: pd.DataFrame) -> np.ndarray:
    x1 = pd.to_numeric(df["x1"], errors="coerce").fillna(0.0).clip(-3, 3).to_numpy(float)
    return 1.0 / (1.0 + np.exp(-3.0 * x1))
"""


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    label = (x1 + 0.5 * rng.normal(size=n) > 0).astype(int)
    color = rng.choice(["red", "green", "blue"], size=n)
    return pd.DataFrame({"x1": x1.round(4), "x2": x2.round(4), "color": color, "y": label})


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ref.csv, eval.csv, eval_broken.csv (x1, the model's only input, shifted) and a model."""
    directory = tmp_path_factory.mktemp("tiny_data")
    rng = np.random.default_rng(0)
    _frame(rng, 300).to_csv(directory / "ref.csv", index=False)
    evaluation = _frame(rng, 300)
    evaluation.to_csv(directory / "eval.csv", index=False)
    evaluation.assign(x1=evaluation["x1"] + 2.0).to_csv(directory / "eval_broken.csv", index=False)
    (directory / "model").mkdir()
    (directory / "model" / "model.py").write_text(MODEL)
    return directory


FIRST_DAY = pd.Timestamp("2024-05-01", tz="UTC")
DAYS = 3
BAD_DAY = 1
ROWS_PER_DAY = 150


def day_label(day: int) -> str:
    """``2024-05-02`` for day 1: the label of a daily bin."""
    return (FIRST_DAY + pd.Timedelta(days=day)).strftime("%Y-%m-%d")


def _days(rng: np.random.Generator, bad_day: int | None) -> pd.DataFrame:
    """:data:`DAYS` days of rows stamped ``ts``; on ``bad_day`` x1 is shifted after labelling."""
    frames = []
    for day in range(DAYS):
        frame = _frame(rng, ROWS_PER_DAY)
        if day == bad_day:
            frame["x1"] = frame["x1"] + 2.0
        offsets = np.sort(rng.integers(0, 86400, ROWS_PER_DAY))
        stamps = FIRST_DAY + pd.Timedelta(days=day) + pd.to_timedelta(offsets, unit="s")
        frames.append(frame.assign(ts=stamps.strftime("%Y-%m-%d %H:%M:%S")))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="session")
def days_data(tiny_data: Path) -> Path:
    """Beside the tiny data: days.csv (healthy) and days_bad.csv (x1 shifted on day 1)."""
    rng = np.random.default_rng(1)
    _days(rng, None).to_csv(tiny_data / "days.csv", index=False)
    _days(rng, BAD_DAY).to_csv(tiny_data / "days_bad.csv", index=False)
    return tiny_data


@pytest.fixture(scope="session")
def rime_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """A real ``rime serve`` on 127.0.0.1 with a free port, for the whole test session."""
    with start_embedded_server(tmp_path_factory.mktemp("server")) as server:
        yield server


@pytest.fixture(scope="session")
def sdk_client(rime_server: EmbeddedServer) -> Iterator[RIMEClient]:
    with RIMEClient(rime_server.address, disable_tls=True) as client:
        yield client


def cases_through_sdk(client: RIMEClient, data: Path, eval_file: str) -> pd.DataFrame:
    """Test cases of the tiny config, run with the SDK alone (the independent expectation)."""
    config = run_config(data, eval_file)
    config["data_info"] = {  # type: ignore[index]
        **config["data_info"],  # type: ignore[dict-item]
        "ref_path": client.upload_dataset_file(data / "ref.csv"),
        "eval_path": client.upload_dataset_file(data / eval_file),
    }
    model_dir = client.upload_model_directory(data / "model")
    config["model_info"] = {"path": f"{model_dir}/model.py"}
    job = client.start_stress_test(config)
    job.get_status(wait_until_finish=True, poll_rate_sec=0.2)
    return job.get_test_cases_result()


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
def project(
    pytester: pytest.Pytester, tiny_data: Path, rime_server: EmbeddedServer, shared_cache: Path
) -> RimeProject:
    return RimeProject(pytester, tiny_data, rime_server, shared_cache)
