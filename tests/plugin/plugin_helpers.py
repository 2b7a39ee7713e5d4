"""Helpers of the plugin tests: tiny data, an independent gate, a free port, the temp project."""

from __future__ import annotations

import shutil
import socket
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pytest_rime.sdk import RIMEClient
from pytest_rime.sdk.embedded import EmbeddedServer

MODEL = """
import numpy as np
import pandas as pd


def predict_df(df: pd.DataFrame) -> np.ndarray:
    x1 = pd.to_numeric(df["x1"], errors="coerce").fillna(0.0).clip(-3, 3).to_numpy(float)
    return 1.0 / (1.0 + np.exp(-3.0 * x1))
"""


def tiny_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    label = (x1 + 0.5 * rng.normal(size=n) > 0).astype(int)
    color = rng.choice(["red", "green", "blue"], size=n)
    return pd.DataFrame({"x1": x1.round(4), "x2": x2.round(4), "color": color, "y": label})


def write_tiny_data(directory: Path) -> Path:
    """ref.csv, eval.csv, eval_broken.csv (x1, the model's only input, shifted) and a model."""
    rng = np.random.default_rng(0)
    tiny_frame(rng, 300).to_csv(directory / "ref.csv", index=False)
    evaluation = tiny_frame(rng, 300)
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


def days_frame(rng: np.random.Generator, bad_day: int | None) -> pd.DataFrame:
    """:data:`DAYS` days of rows stamped ``ts``; on ``bad_day`` x1 is shifted after labelling."""
    frames = []
    for day in range(DAYS):
        frame = tiny_frame(rng, ROWS_PER_DAY)
        if day == bad_day:
            frame["x1"] = frame["x1"] + 2.0
        offsets = np.sort(rng.integers(0, 86400, ROWS_PER_DAY))
        stamps = FIRST_DAY + pd.Timedelta(days=day) + pd.to_timedelta(offsets, unit="s")
        frames.append(frame.assign(ts=stamps.strftime("%Y-%m-%d %H:%M:%S")))
    return pd.concat(frames, ignore_index=True)


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


def write_gate(pytester: pytest.Pytester, server: EmbeddedServer, entry: str) -> None:
    """Write a rime.yaml of the embedded ``server`` and one stress test ``entry`` (a list item)."""
    text = f"server: {{address: '{server.address}'}}\nstress_tests:\n" + textwrap.indent(
        textwrap.dedent(entry), "  "
    )
    (pytester.path / "rime.yaml").write_text(text)


def run_gate(
    pytester: pytest.Pytester, cache: Path, *args: str, timeout: float = 180
) -> pytest.RunResult:
    """``pytest --rime-config rime.yaml ...`` in a subprocess sharing the results ``cache``."""
    return pytester.runpytest_subprocess(
        "--rime-config", "rime.yaml", "-o", f"cache_dir={cache}", "-p", "no:randomly", *args,
        timeout=timeout,
    )  # fmt: skip


def example_gate_summary(pytester: pytest.Pytester, example: Path, min_passed: int) -> str:
    """Run the gate of the example project ``example`` (copied into the temp project).

    It passes with more than ``min_passed`` items and no failure, collects exactly the rime
    items and says that no case reached its gate. Returns the ``= rime =`` summary.
    """
    shutil.copytree(
        example,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".pytest_cache", "__pycache__"),
    )
    result = pytester.runpytest_subprocess("--rime-config", "rime.yaml", timeout=300)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    output = result.stdout.str()
    assert "starting stress test on 127.0.0.1:" in output
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] > min_passed and "failed" not in outcomes, outcomes
    items = outcomes["passed"] + outcomes.get("skipped", 0)
    assert f"collected {items} items" in output
    summary = output[output.index("= rime =") :]
    assert "no test case reached its fail_on gate" in summary, summary
    return summary
