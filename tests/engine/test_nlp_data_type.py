"""The ``nlp`` data type: texts read and checked, models of every supported kind called."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from text_data import make_texts, train_pipeline, write_text_run

from pytest_rime.engine.errors import ConfigError, DataError, ModelError
from pytest_rime.engine.run import run_stress_test
from pytest_rime.engine.validation import validate_config
from pytest_rime.vocabulary import BINARY, MULTICLASS


def _quiet(_line: str) -> None:
    pass


@pytest.fixture
def text_run(tmp_path: Path):  # type: ignore[no-untyped-def]
    return write_text_run(tmp_path, make_texts(300, 0), make_texts(300, 1))


def test_a_healthy_text_classifier_runs_the_nlp_tests_only(text_run) -> None:  # type: ignore[no-untyped-def]
    result = run_stress_test(text_run.config(model_task="Text Classification"), log=_quiet)
    assert result.data_type == "nlp"
    assert result.model_task == BINARY
    assert {b.category for b in result.batches} >= {"Model Performance", "Drift"}
    assert all(b.test_id != "drift.feature_drift" for b in result.batches)
    accuracy = next(p for p in result.model_perf if p.name == "Accuracy")
    assert accuracy.eval_metric is not None and accuracy.eval_metric > 0.8
    assert result.metadata["predict_calls"] >= 2


def test_multi_class_texts_are_multi_class(tmp_path: Path) -> None:
    classes = ("sport", "money", "health")
    run = write_text_run(tmp_path, make_texts(300, 0, classes), make_texts(300, 1, classes))
    result = run_stress_test(run.config(), log=_quiet)
    assert result.model_task == MULTICLASS


@pytest.mark.parametrize(
    ("source", "function"),
    [
        (
            "def predict_batch(texts):\n    return PIPE.predict_proba(texts)[:, 1]\n",
            "predict_batch",
        ),
        ("def predict_df(df):\n    return PIPE.predict_proba(df['text'])[:, 1]\n", "predict_df"),
        (
            "def predict_dict(x):\n    return PIPE.predict_proba([x['text']])[0, 1]\n",
            "predict_dict",
        ),
    ],
)
def test_model_files_of_every_interface(
    tmp_path: Path,
    text_run,
    source: str,
    function: str,  # type: ignore[no-untyped-def]
) -> None:
    model = tmp_path / "model.py"
    model.write_text(
        f"import joblib\nPIPE = joblib.load({str(text_run.model_path)!r})\n{source}",
        encoding="utf-8",
    )
    config = text_run.config(model_info={"path": str(model)})
    result = run_stress_test(config, log=_quiet)
    assert result.metadata["model_source"] == str(model)
    accuracy = next(p for p in result.model_perf if p.name == "Accuracy")
    assert accuracy.eval_metric is not None and accuracy.eval_metric > 0.8
    assert function in {
        line.split("(")[0][4:] for line in source.splitlines() if line[:4] == "def "
    }


def test_precomputed_probability_lists_are_a_matrix(tmp_path: Path) -> None:
    classes = ("sport", "money", "health")
    ref, cur = make_texts(200, 0, classes), make_texts(200, 1, classes)
    pipeline = train_pipeline(ref)
    ref["probabilities"] = pipeline.predict_proba(ref["text"]).tolist()
    cur["probabilities"] = pipeline.predict_proba(cur["text"]).tolist()
    run = write_text_run(tmp_path, ref, cur)
    config = run.config()
    del config["model_info"]
    config["data_info"]["pred_col"] = "probabilities"
    result = run_stress_test(config, log=_quiet)
    accuracy = next(p for p in result.model_perf if p.name == "Accuracy")
    expected = np.mean(pipeline.predict(cur["text"]) == cur["label"])
    assert accuracy.eval_metric == pytest.approx(expected)


def test_text_column_is_required_and_named(tmp_path: Path) -> None:
    run = write_text_run(tmp_path, make_texts(50, 0), make_texts(50, 1))
    config = run.config()
    config["data_info"]["text_col"] = "body"
    with pytest.raises(DataError, match=re.escape("ref.jsonl has no text column 'body'")):
        run_stress_test(config, log=_quiet)


def test_only_empty_reference_texts_are_rejected(tmp_path: Path) -> None:
    ref = make_texts(50, 0).assign(text="  ")
    run = write_text_run(tmp_path, ref, make_texts(50, 1), train=make_texts(50, 2))
    with pytest.raises(DataError, match=re.escape("ref.jsonl is empty")):
        run_stress_test(run.config(), log=_quiet)


def test_nlp_configs_take_their_own_keys_and_tasks(text_run) -> None:  # type: ignore[no-untyped-def]
    config = text_run.config()
    config["data_info"]["categorical_features"] = ["source"]
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert info.value.key == "data_info.categorical_features"
    with pytest.raises(ConfigError, match="for data_type 'nlp', got 'Regression'"):
        validate_config(text_run.config(model_task="Regression"))
    tabular = {"data_info": {"ref_path": "r.csv", "eval_path": "e.csv", "text_col": "t"}}
    with pytest.raises(ConfigError) as info:
        validate_config(tabular)
    assert info.value.key == "data_info.text_col"
    with pytest.raises(
        ConfigError, match=re.escape("unknown test id 'drift.feature_drift' for data_type")
    ):
        validate_config(text_run.config(tests_config={"drift.feature_drift": {}}))


def test_a_model_file_without_a_text_function_is_a_model_error(tmp_path: Path, text_run) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "model.py"
    model.write_text("def predict(x):\n    return 0\n", encoding="utf-8")
    with pytest.raises(ModelError, match="neither predict_batch\\(texts\\) nor predict_df"):
        run_stress_test(text_run.config(model_info={"path": str(model)}), log=_quiet)
