"""Bias and Fairness tests over the columns named in ``data_info.protected_features``.

Without protected features every test gives one SKIP case saying how to enable it. Groups of
a protected feature are its subsets (:func:`pytest_rime.engine.tests.subset.feature_subsets`:
categories, "Other", "(missing)", or quantile bins of a numeric feature); groups smaller than
``min_group_size`` rows (for Equal Opportunity: positives, for Predictive Equality:
negatives) are left out, and at least two groups must remain.

- **Demographic Parity** (binary classification, eval): positive prediction rate per group;
  statistic ``1 - min rate / max rate``. Default thresholds (0.1, 0.2, 0.3): the
  **four-fifths rule** (a ratio below 0.8) is a FAIL at MEDIUM; a ratio below 0.7 is HIGH.
- **Equal Opportunity** (binary, eval): Recall (true positive rate) per group; statistic
  ``max - min``; thresholds (0.1, 0.2, 0.3).
- **Predictive Equality** (binary, eval): FPR per group; statistic ``max - min``; thresholds
  (0.1, 0.2, 0.3).
- **Protected Feature Drift**: PSI of the protected feature's distribution from ref to eval
  (as Feature Drift); thresholds (0.1, 0.2, 0.3).
- **Discrimination By Proxy**: for every other model feature, Cramér's V between it and the
  protected feature on ref (both discretised: 10 quantile bins for numbers, one code per value
  otherwise, nulls as a value); thresholds (0.3, 0.5, 0.7). The normalised mutual information
  (MI / entropy of the protected feature) is in the metrics.

**Evidence** (the p-value each case reports, adjusted over the run by
:mod:`pytest_rime.engine.evidence`): the rate tests use Pearson's chi-squared test that the
predicted label does not depend on the group (a permutation test when an expected count is
below 5: :func:`pytest_rime.engine.resampling.independence_test`), so a small group's rate
that differs by chance is not MEDIUM or HIGH. Equal Opportunity and Predictive Equality test
within the positives and the negatives. **Demographic Parity is tested given the true label**
(chi-squared summed over the two label values) when eval has labels: a group whose true
positive rate is higher gets more positive predictions from any accurate model, and a model
that reproduces the base-rate difference of the data is not discriminating beyond it. When
the raw rates differ significantly but not given the label, the case is at most LOW and says
that the disparity follows the groups' label rates (both rates per group are in the metrics).
Protected Feature Drift uses the chi-squared homogeneity test of Feature Drift; Discrimination
By Proxy the chi-squared test of independence of the two discretised columns.

Severity: the threshold level. The parity tests and the drift have impact 1.0 / none (never
lowered); a proxy case has the proxy's model importance as impact, so a proxy the model
ignores is at most LOW.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.data import DATETIME, TEXT, FeatureInfo
from pytest_rime.engine.drift_statistics import Comparison, measure_shift
from pytest_rime.engine.metrics import BoolArray, Metric, all_metrics
from pytest_rime.engine.performance import metric_inputs
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.resampling import IndependenceTest, independence_test
from pytest_rime.engine.results import JSONValue, Severity
from pytest_rime.engine.stats import IntArray, discretize, entropy, mutual_information
from pytest_rime.engine.tests._families import named_test
from pytest_rime.engine.tests.drift import drift_finding
from pytest_rime.engine.tests.subset import SubsetSplit, feature_subsets, subset_values
from pytest_rime.vocabulary import BINARY

CATEGORY = "Bias and Fairness"
PARITY_THRESHOLDS = (0.1, 0.2, 0.3)
GAP_THRESHOLDS = (0.1, 0.2, 0.3)
DRIFT_THRESHOLDS = (0.1, 0.2, 0.3)
PROXY_THRESHOLDS = (0.3, 0.5, 0.7)
GROUP_PARAMS = {"min_group_size": 30, "numeric_bins": 5, "max_categories": 10}
"""``tests_config`` parameters of the group-based tests, with their defaults."""

NO_PROTECTED = (
    "Skipped: no protected features; list the columns to check in "
    "data_info.protected_features to run the Bias and Fairness tests."
)


def _protected(
    ctx: RunContext, per_feature: Callable[[FeatureInfo], Finding | list[Finding]]
) -> list[Finding]:
    """Apply ``per_feature`` to every protected feature (SKIP cases for missing ones)."""
    names = ctx.config.data_info.protected_features
    if not names:
        return [Finding.skip((), NO_PROTECTED)]
    findings: list[Finding] = []
    for name in names:
        info = ctx.features.get(name)
        if info is None:
            findings.append(
                Finding.skip(
                    (name,),
                    f"Skipped: data_info.protected_features names {name!r}, which is not a "
                    "feature column of the reference data.",
                )
            )
        elif name not in ctx.eval.columns:
            findings.append(
                Finding.skip((name,), f"Skipped: protected feature {name!r} is missing from eval.")
            )
        else:
            result = per_feature(info)
            findings.extend(result if isinstance(result, list) else [result])
    return findings


def _groups(ctx: RunContext, info: FeatureInfo, settings: TestSettings) -> SubsetSplit | None:
    return feature_subsets(ctx, info, settings.params)


def _binary_only(ctx: RunContext) -> list[Finding] | None:
    if ctx.model_task != BINARY:
        return [
            Finding.skip(
                (), f"Skipped: defined for binary classification, the task is {ctx.model_task}."
            )
        ]
    return None


def _group_rates(
    feature: str, rates: dict[str, tuple[int, float]], what: str, min_size: int
) -> dict[str, JSONValue] | Finding:
    """Metrics of per-group ``rates`` ({group: (size, rate)}), or a SKIP when < 2 groups."""
    if len(rates) < 2:
        return Finding.skip(
            (feature,),
            f"Skipped: fewer than two groups of protected feature {feature!r} have "
            f"{min_size} rows to compare the {what} (min_group_size={min_size}).",
        )
    low = min(rates, key=lambda g: rates[g][1])
    high = max(rates, key=lambda g: rates[g][1])
    return {
        "groups": [{"group": g, "size": n, "rate": r} for g, (n, r) in rates.items()],
        "lowest_group": low,
        "lowest_rate": rates[low][1],
        "highest_group": high,
        "highest_rate": rates[high][1],
        "difference": rates[high][1] - rates[low][1],
        "min_group_size": min_size,
    }


@register_test(
    "bias_and_fairness.demographic_parity",
    name="Demographic Parity",
    category=CATEGORY,
    thresholds=PARITY_THRESHOLDS,
    description="Positive prediction rate across the groups of each protected feature.",
    needs_predictions=True,
    params=GROUP_PARAMS,
)
def demographic_parity(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """1 - (lowest / highest positive prediction rate) over the groups, on eval.

    Severity: the threshold level (four-fifths rule = MEDIUM), impact 1.0.
    """
    skip = _binary_only(ctx)
    if skip is not None:
        return skip
    positive = np.asarray(ctx.predicted_labels("eval") == ctx.positive_class)
    min_size = int(settings.params["min_group_size"])
    labels = _eval_positive_labels(ctx)
    alpha = ctx.config.significance_level

    def per_feature(info: FeatureInfo) -> Finding:
        split = _groups(ctx, info, settings)
        assert split is not None  # protected features exist in eval
        codes = split.eval_codes
        sizes = np.bincount(codes, minlength=len(split.names))
        sums = np.bincount(codes, weights=positive.astype(float), minlength=len(split.names))
        kept = [i for i in range(len(split.names)) if sizes[i] >= max(min_size, 1)]
        rates = {split.names[i]: (int(sizes[i]), float(sums[i] / sizes[i])) for i in kept}
        metrics = _group_rates(info.name, rates, "positive prediction rate", min_size)
        if isinstance(metrics, Finding):
            return metrics
        top = metrics["highest_rate"]
        ratio = metrics["lowest_rate"] / top if top > 0 else 1.0
        rows = np.isin(codes, kept)
        rng = ctx.rng(f"demographic_parity:{info.name}")
        raw = independence_test(codes[rows], positive[rows], rng)
        description = (
            f"Positive prediction rate by {info.name!r} ranges from "
            f"{metrics['lowest_rate']:.1%} ({metrics['lowest_group']!r}) to {top:.1%} "
            f"({metrics['highest_group']!r}): ratio {ratio:.2f} (the four-fifths rule "
            f"asks for at least 0.8); {_sentence(raw, 'the groups differ')}."
        )
        extra: dict[str, JSONValue] = {"ratio": ratio, "unconditional_p_value": raw.p_value}
        tested, cap, reason = raw, None, ""
        if labels is not None:
            known = rows & ~np.isnan(labels)
            tested = independence_test(codes[known], positive[known], rng, strata=labels[known])
            label_rates = _label_rates(split, codes[known], labels[known], kept)
            extra["label_rates"] = label_rates
            description += f" Given the true label, {_sentence(tested, 'they differ')}."
            if raw.p_value < alpha <= tested.p_value:
                cap = Severity.LOW
                low, high = min(label_rates.values()), max(label_rates.values())
                reason = (
                    "At most LOW: the disparity follows the groups' true positive rates "
                    f"({low:.1%} to {high:.1%}); the model reproduces the data's base-rate "
                    "difference, not a bias beyond it."
                )
        return Finding(
            features=(info.name,),
            statistic=1.0 - ratio,
            description=description,
            metrics={**metrics, **extra, **_test_metrics(tested)},
            impact=1.0,
            severity_cap=cap,
            cap_reason=reason,
            p_value=tested.p_value,
        )

    return _protected(ctx, per_feature)


def _eval_positive_labels(ctx: RunContext) -> np.ndarray | None:
    """1.0 / 0.0 for a positive / other eval label, NaN when missing; ``None`` without labels."""
    if not ctx.has_labels:
        return None
    labels = ctx.labels("eval")
    return np.where(labels.isna(), np.nan, (labels == ctx.positive_class).astype(float))


def _label_rates(
    split: SubsetSplit, codes: IntArray, labels: np.ndarray, kept: list[int]
) -> dict[str, float]:
    sizes = np.bincount(codes, minlength=len(split.names))
    sums = np.bincount(codes, weights=labels, minlength=len(split.names))
    return {split.names[i]: float(sums[i] / sizes[i]) for i in kept if sizes[i]}


def _sentence(test: IndependenceTest, what: str) -> str:
    return f"{what} with p = {test.p_value:.2g} ({test.method}, {test.dof} degrees of freedom)"


def _test_metrics(test: IndependenceTest) -> dict[str, JSONValue]:
    return {"chi2": test.statistic, "dof": test.dof, "p_value_method": test.method}


def _metric(slug: str) -> Metric:
    return next(m for m in all_metrics() if m.slug == slug)


def _rate_gap(ctx: RunContext, settings: TestSettings, slug: str, what: str) -> list[Finding]:
    """Max - min of the metric ``slug`` over the groups of each protected feature (eval)."""
    skip = _binary_only(ctx)
    if skip is not None:
        return skip
    metric = _metric(slug)
    min_size = int(settings.params["min_group_size"])

    inputs = metric_inputs(ctx, "eval")
    among: BoolArray = ~inputs.y_true if metric.name == "FPR" else inputs.y_true

    def per_feature(info: FeatureInfo) -> Finding:
        split = _groups(ctx, info, settings)
        assert split is not None
        values = subset_values(ctx, "eval", split, metric, min_size)
        rates = {v.name: (v.size, v.value) for v in values if v.value is not None}
        metrics = _group_rates(info.name, rates, what, min_size)
        if isinstance(metrics, Finding):
            return metrics
        codes = split.eval_codes[inputs.rows]
        kept = [split.names.index(name) for name in rates]
        rows = among & np.isin(codes, kept)
        tested = independence_test(
            codes[rows], inputs.y_pred[rows], ctx.rng(f"{metric.slug}_gap:{info.name}")
        )
        return Finding(
            features=(info.name,),
            statistic=metrics["difference"],
            description=(
                f"{what[0].upper()}{what[1:]} by {info.name!r} ranges from "
                f"{metrics['lowest_rate']:.1%} ({metrics['lowest_group']!r}) to "
                f"{metrics['highest_rate']:.1%} ({metrics['highest_group']!r}); "
                f"{_sentence(tested, 'the groups differ')}."
            ),
            metrics={**metrics, "metric": metric.name, **_test_metrics(tested)},
            impact=1.0,
            p_value=tested.p_value,
        )

    return _protected(ctx, per_feature)


_GAP_TESTS = (
    (
        "equal_opportunity",
        "Equal Opportunity",
        "Recall (true positive rate) across the groups of each protected feature.",
        "recall",
        "recall (true positive rate)",
    ),
    (
        "predictive_equality",
        "Predictive Equality",
        "False positive rate across the groups of each protected feature.",
        "fpr",
        "false positive rate",
    ),
)
"""The rate gap tests: slug, name, description, metric slug, the rate in words."""


def _register_gap_test(slug: str, name: str, description: str, metric: str, what: str) -> None:
    register_test(
        f"bias_and_fairness.{slug}",
        name=name,
        category=CATEGORY,
        thresholds=GAP_THRESHOLDS,
        description=description,
        needs_predictions=True,
        needs_labels=True,
        params=GROUP_PARAMS,
    )(
        named_test(
            slug,
            f"Highest minus lowest {_metric(metric).name} over the groups, on eval.\n\n"
            "Severity: the threshold level, impact 1.0.",
            lambda ctx, settings: _rate_gap(ctx, settings, metric, what),
        )
    )


for _gap_test in _GAP_TESTS:
    _register_gap_test(*_gap_test)


@register_test(
    "bias_and_fairness.protected_feature_drift",
    name="Protected Feature Drift",
    category=CATEGORY,
    thresholds=DRIFT_THRESHOLDS,
    description="Shift of each protected feature's distribution from ref to eval (PSI).",
)
def protected_feature_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """PSI of each protected feature between ref and eval (bins as in Feature Drift).

    Severity: the threshold level; not lowered by the model importance (a change of the
    population's make-up matters whether or not the model reads the column).
    """

    def per_feature(info: FeatureInfo) -> Finding:
        if info.type in (TEXT, DATETIME):
            return Finding.skip((info.name,), f"Protected feature {info.name!r} is {info.type}.")
        comparison = Comparison(ctx.profile(info.name), ctx.ref[info.name], ctx.eval.get(info.name))
        shift = measure_shift(comparison, "psi", "psi", ctx.rng(f"protected:{info.name}"))
        if shift is None:
            return Finding.skip(
                (info.name,), f"Protected feature {info.name!r} has no values in ref or eval."
            )
        what = f"protected feature {info.name!r}"
        return drift_finding(shift, comparison, (info.name,), what, None)

    return _protected(ctx, per_feature)


def cramers_v(x_codes: IntArray, y_codes: IntArray) -> float:
    """Cramér's V of two aligned code arrays (0 when either has a single value)."""
    _, x = np.unique(x_codes, return_inverse=True)
    _, y = np.unique(y_codes, return_inverse=True)
    rows, cols = int(x.max(initial=-1)) + 1, int(y.max(initial=-1)) + 1
    if min(rows, cols) < 2:
        return 0.0
    table = np.bincount(x * cols + y, minlength=rows * cols).reshape(rows, cols).astype(float)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    chi2 = float(np.sum((table - expected) ** 2 / expected))
    return float(np.sqrt(chi2 / (table.sum() * (min(rows, cols) - 1))))


@register_test(
    "bias_and_fairness.discrimination_by_proxy",
    name="Discrimination By Proxy",
    category=CATEGORY,
    thresholds=PROXY_THRESHOLDS,
    description="Association (Cramér's V) of each model feature with each protected feature.",
)
def discrimination_by_proxy(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Cramér's V between each other model feature and the protected feature, on ref.

    Severity: the threshold level capped by the proxy feature's model importance.
    """

    def per_feature(info: FeatureInfo) -> list[Finding]:
        protected = discretize(ctx.ref[info.name])
        h_protected = entropy(protected)
        findings = []
        for name in ctx.model_features:
            if name == info.name or ctx.features[name].type in (TEXT, DATETIME):
                continue
            codes = discretize(ctx.ref[name])
            association = cramers_v(codes, protected)
            mi = mutual_information(codes, protected)
            tested = independence_test(codes, protected, ctx.rng(f"proxy:{name}:{info.name}"))
            findings.append(
                Finding(
                    features=(name, info.name),
                    statistic=association,
                    description=(
                        f"Feature {name!r} predicts protected feature {info.name!r} with "
                        f"Cramér's V {association:.3f}."
                    ),
                    metrics={
                        "cramers_v": association,
                        "mutual_information": mi,
                        "normalized_mutual_information": mi / h_protected if h_protected else 0.0,
                        "protected_feature": info.name,
                        **_test_metrics(tested),
                    },
                    impact=ctx.importance.of(name),
                    p_value=tested.p_value,
                )
            )
        return findings

    return _protected(ctx, per_feature)
