"""A firewall job split by time bin into Ray tasks equals the single-process run.

Run inside a private network namespace (Ray binds the machine's address otherwise)::

    unshare -n sh -c 'ip link set lo up && pytest -m ray tests/ray/test_ray_firewall_split.py'
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

# The multi-day data set of the engine's split tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "engine"))
from firewall_split_data import DAY_ROWS, comparable, write_split_data

from pytest_rime.engine.firewall import FirewallRunResult, run_firewall
from pytest_rime.server.ray_firewall import SplitFirewallError
from pytest_rime.server.worker import run_job

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def arguments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return write_split_data(tmp_path_factory.mktemp("ray_split"))


@pytest.fixture(scope="module")
def single(arguments: dict[str, Any]) -> FirewallRunResult:
    return run_firewall(**arguments, log=lambda _line: None)


def _spec(arguments: dict[str, Any], address: str, split_rows: int, data_dir: Path) -> dict:
    return {
        "type": "FIREWALL_BATCH_TEST",
        "data_dir": str(data_dir),
        **arguments,
        "enable_events": True,
        "ray": {"address": address, "split_rows": split_rows},
    }


def _progress(job_dir: Path) -> dict[str, Any]:
    return json.loads((job_dir / "progress.json").read_text())


@pytest.mark.parametrize("split_rows", [1, 250])
def test_a_job_split_over_ray_equals_the_single_process_run(
    arguments, single, ray_cluster, tmp_path, capsys, split_rows
):
    spec = _spec(arguments, ray_cluster, split_rows, tmp_path)
    payload = run_job(spec, tmp_path)
    assert comparable(payload) == comparable(single.to_dict())
    assert FirewallRunResult.from_dict(payload).events == single.events
    bins = len(DAY_ROWS)
    text = f"{bins} / {bins} bins completed"
    assert _progress(tmp_path) == {"done": bins, "total": bins, "text": text}
    out = capsys.readouterr().out
    assert "Ray tasks" in out
    numbered = sorted(line.split(" bin ")[0] for line in out.splitlines() if line.startswith("["))
    assert numbered == [f"[{done}/{bins}]" for done in range(1, bins + 1)]
    # Each task's own log comes back prefixed with its bins.
    assert "(bins 2024-03-0" in out


def test_a_small_job_stays_in_the_worker_process(arguments, single, tmp_path, capsys):
    # No cluster answers at this address: a run that tried to connect would fail.
    spec = _spec(arguments, "127.0.0.1:1", sum(DAY_ROWS), tmp_path)
    payload = run_job(spec, tmp_path)
    assert comparable(payload) == comparable(single.to_dict())
    assert "Ray tasks" not in capsys.readouterr().out


def test_a_failing_task_fails_the_job_naming_its_bins(arguments, ray_cluster, tmp_path):
    model = tmp_path / "broken_model.py"
    model.write_text("def predict_df(df):\n    raise RuntimeError('the model is broken')\n")
    config = {**arguments["reference_config"], "model_info": {"path": str(model)}}
    spec = _spec({**arguments, "reference_config": config}, ray_cluster, 250, tmp_path)
    expected = r"Ray task of bins 2024-03-0.*the model is broken"
    with pytest.raises(SplitFirewallError, match=expected):
        run_job(spec, tmp_path)
