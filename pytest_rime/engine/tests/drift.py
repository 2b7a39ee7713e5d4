"""Drift tests: how far the evaluation data moved from the reference data.

Statistics are read from the shared feature profiles (computed once per run). Every per-feature
case carries the feature's model importance as its impact, so a drift on a feature the model
ignores is at most LOW (see :mod:`pytest_rime.engine.severity`).

Every case also carries the p-value of the shift it measures, so that a shift within sampling
noise is at most LOW once the run's p-values are adjusted (:mod:`pytest_rime.engine.evidence`):

- distribution shifts (PSI, Cramér's V, Jensen-Shannon on categories or reference-decile bins):
  Pearson's chi-squared test of homogeneity of the same ref x eval table, sparse bins merged
  (a permutation test of the pooled sample for samples too small for that);
- the KS statistic: the Kolmogorov-Smirnov distribution;
- null fractions: Fisher's exact test of the two proportions;
- correlations with the label: the Fisher z test of two correlations, with a jackknife
  variance that stays honest on heavy-tailed features.

On small samples PSI is biased upwards (about ``(bins - 1) * (1/n_ref + 1/n_eval)``: 0.4 at
45 rows a side), so a random split reaches the high threshold without any drift; the p-value
is what tells such a split from a real shift.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pytest_rime.engine.context import RunContext, Which
from pytest_rime.engine.data import CATEGORICAL, DATETIME, NUMERIC, TEXT, FeatureInfo
from pytest_rime.engine.distribution import profile_distribution
from pytest_rime.engine.drift_statistics import (
    Comparison,
    Shift,
    measure_shift,
    statistic_names,
)
from pytest_rime.engine.profile import FeatureProfile, compute_profile, numeric_values
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.results import JSONValue
from pytest_rime.engine.stats import (
    correlation_and_z_variance,
    correlation_difference_p_value,
    fisher_exact_p_value,
)
from pytest_rime.vocabulary import BINARY, IMAGES, MULTICLASS, NLP, REGRESSION, TABULAR

CATEGORY = "Drift"
DRIFT_THRESHOLDS = (0.05, 0.1, 0.2)
"""PSI's usual reading (below 0.1 stable, 0.1 to 0.2 a moderate shift, above 0.2 a significant
one): a 0.5 standard-deviation shift of a normal feature has a PSI of about 0.25. Thresholds
can sit this low because sampling noise no longer reaches MEDIUM or HIGH without evidence."""
STAT_PARAMS = {"numeric_statistic": "psi", "categorical_statistic": "psi"}
"""The parameters choosing a drift test's statistics, with their defaults."""
STAT_CHOICES = {
    "numeric_statistic": statistic_names("numeric"),
    "categorical_statistic": statistic_names("categorical"),
}


def measured_shift(
    comparison: Comparison, settings: TestSettings, rng: np.random.Generator
) -> Shift | None:
    """The shift of ``comparison`` by the statistics the test's parameters choose."""
    params = settings.params
    return measure_shift(
        comparison, params["numeric_statistic"], params["categorical_statistic"], rng
    )


def drift_finding(
    shift: Shift,
    comparison: Comparison,
    features: tuple[str, ...],
    what: str,
    impact: float | None,
) -> Finding:
    """A drift finding of ``comparison``'s ``shift`` with its p-value and distribution.

    ``what`` names the column in the description; ``metrics["distribution"]`` holds the ref and
    eval shares for the case's chart (:mod:`pytest_rime.engine.distribution`).
    """
    name, value = shift.statistic.name, shift.value
    metrics: dict[str, JSONValue] = {"statistic_name": name, name: value}
    if shift.evidence is not None:
        metrics["p_value_method"] = shift.evidence.method
    distribution = profile_distribution(comparison.profile)
    if distribution is not None:
        metrics["distribution"] = distribution
    return Finding(
        features,
        value,
        f"{shift.statistic.label} of {what} between ref and eval is {value:.3f}.",
        metrics,
        impact=impact,
        p_value=None if shift.evidence is None else shift.evidence.p_value,
    )


@register_test(
    "drift.feature_drift",
    name="Feature Drift",
    category=CATEGORY,
    thresholds=DRIFT_THRESHOLDS,
    description="Distribution of each feature in eval vs ref (PSI by default).",
    params=STAT_PARAMS,
    param_choices=STAT_CHOICES,
    column_drift=True,
)
def feature_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Per-feature distribution shift between ref and eval.

    Statistic: PSI over reference-decile bins (numeric) or categories (discrete); selectable
    ``numeric_statistic`` ("psi", "ks") and ``categorical_statistic`` ("psi", "chi2" as
    Cramér's V, "js" as Jensen-Shannon distance). Severity: the threshold level capped by the
    feature's model importance (impact). Text and datetime features are not compared.
    """
    findings = []
    for name, info in ctx.features.items():
        if info.type in (TEXT, DATETIME):
            continue
        profile = ctx.profile(name)
        if not profile.in_eval:
            findings.append(Finding.skip((name,), f"Feature {name!r} is missing from eval."))
            continue
        comparison = Comparison(profile, ctx.ref[name], ctx.eval[name])
        shift = measured_shift(comparison, settings, ctx.rng(f"drift.feature_drift:{name}"))
        if shift is None:
            findings.append(
                Finding.skip((name,), f"Feature {name!r} has no non-null values in ref or eval.")
            )
            continue
        findings.append(
            drift_finding(shift, comparison, (name,), f"feature {name!r}", ctx.importance.of(name))
        )
    return findings


def series_comparison(
    ctx: RunContext, key: str, ref: pd.Series, cur: pd.Series, kind: str
) -> Comparison:
    """Comparison of a non-feature column (label, predictions); its profile is cached."""

    def compute() -> FeatureProfile:
        info = FeatureInfo(name=key, type=kind, value_kind="other", in_model=False)
        return compute_profile(info, ref.to_frame(key), cur.to_frame(key))

    return Comparison(ctx.memo(f"profile:{key}", compute), ref, cur)


def _shift_finding(
    ctx: RunContext,
    comparison: Comparison,
    settings: TestSettings,
    what: str,
    impact: float | None,
) -> Finding:
    shift = measured_shift(comparison, settings, ctx.rng(f"drift:{what}"))
    if shift is None:
        return Finding.skip((), f"The {what} has no non-null values in ref or eval.")
    return drift_finding(shift, comparison, (), f"the {what}", impact)


@register_test(
    "drift.label_drift",
    name="Label Drift",
    category=CATEGORY,
    thresholds=DRIFT_THRESHOLDS,
    description="Distribution of the label in eval vs ref (PSI by default).",
    needs_labels=True,
    params=STAT_PARAMS,
    param_choices=STAT_CHOICES,
    data_types=(TABULAR, NLP, IMAGES),
)
def label_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Shift of the label distribution (classes for classification, deciles for regression).

    Severity: the threshold level; not capped (the label is not a model input).
    """
    kind = NUMERIC if ctx.model_task == REGRESSION else CATEGORICAL
    comparison = series_comparison(ctx, "label", ctx.labels("ref"), ctx.labels("eval"), kind)
    return [_shift_finding(ctx, comparison, settings, "label", None)]


@register_test(
    "drift.prediction_drift",
    name="Prediction Drift",
    category=CATEGORY,
    thresholds=DRIFT_THRESHOLDS,
    description="Distribution of the model's predictions in eval vs ref (PSI by default).",
    needs_predictions=True,
    params=STAT_PARAMS,
    param_choices=STAT_CHOICES,
    data_types=(TABULAR, NLP, IMAGES),
)
def prediction_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Shift of the predictions (probabilities, values, or predicted classes for multi-class).

    Severity: the threshold level, impact 1.0 (the predictions are the model's output).
    """
    if ctx.model_task == MULTICLASS:
        ref, cur = ctx.predicted_labels("ref"), ctx.predicted_labels("eval")
        kind = CATEGORICAL
    else:
        ref, cur = ctx.predictions("ref"), ctx.predictions("eval")
        kind = NUMERIC
    comparison = series_comparison(ctx, "prediction", pd.Series(ref), pd.Series(cur), kind)
    return [_shift_finding(ctx, comparison, settings, "predictions", 1.0)]


def confidences(ctx: RunContext, which: Which) -> np.ndarray | None:
    """The model's confidence in each ``ref`` or ``eval`` prediction: its top class probability.

    ``None`` for regression and for multi-class predictions given as labels only.
    """
    if ctx.model_task == REGRESSION:
        return None
    predictions = np.asarray(ctx.predictions(which), dtype=float)
    if ctx.model_task == BINARY:
        top: np.ndarray = np.maximum(predictions, 1.0 - predictions)
        return top
    if predictions.ndim != 2:
        return None
    best: np.ndarray = predictions.max(axis=1)
    return best


@register_test(
    "drift.confidence_drift",
    name="Confidence Drift",
    category=CATEGORY,
    thresholds=DRIFT_THRESHOLDS,
    description="Distribution of the model's confidence (its top class probability) in eval vs "
    "ref (PSI by default).",
    needs_predictions=True,
    params=STAT_PARAMS,
    param_choices=STAT_CHOICES,
    data_types=(NLP, IMAGES),
)
def confidence_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Shift of the model's confidence: unfamiliar inputs often show as less sure predictions.

    Classification with probabilities only (a SKIP otherwise). Severity: the threshold level,
    impact 1.0 (the confidence is the model's output).
    """
    ref, cur = confidences(ctx, "ref"), confidences(ctx, "eval")
    if ref is None or cur is None:
        return [Finding.skip((), "The model gives no class probabilities to take confidence of.")]
    comparison = series_comparison(ctx, "confidence", pd.Series(ref), pd.Series(cur), NUMERIC)
    return [_shift_finding(ctx, comparison, settings, "model's confidence", 1.0)]


@register_test(
    "drift.nulls_per_feature_drift",
    name="Nulls Per Feature Drift",
    category=CATEGORY,
    thresholds=(0.05, 0.1, 0.2),
    description="Change of each feature's share of missing values from ref to eval.",
)
def nulls_per_feature_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Absolute difference of the null fraction of each feature between ref and eval.

    Severity: the threshold level capped by the feature's model importance.
    """
    findings = []
    for name in ctx.feature_names:
        profile = ctx.profile(name)
        if not profile.in_eval:
            findings.append(Finding.skip((name,), f"Feature {name!r} is missing from eval."))
            continue
        if not profile.ref_rows or not profile.eval_rows:
            findings.append(Finding.skip((name,), "Ref or eval has no rows."))
            continue
        ref_rate, eval_rate = profile.ref_null_fraction, profile.eval_null_fraction
        findings.append(
            Finding(
                features=(name,),
                statistic=abs(eval_rate - ref_rate),
                description=(
                    f"Feature {name!r} is missing in {eval_rate:.1%} of eval rows vs "
                    f"{ref_rate:.1%} of ref rows."
                ),
                metrics={
                    "ref_null_fraction": ref_rate,
                    "eval_null_fraction": eval_rate,
                    "p_value_method": "Fisher exact",
                },
                impact=ctx.importance.of(name),
                p_value=fisher_exact_p_value(
                    profile.ref_nulls,
                    profile.ref_rows,
                    profile.eval_nulls,
                    profile.eval_rows,
                    "two-sided",
                ),
            )
        )
    return findings


def _label_numbers(ctx: RunContext, which: Which) -> np.ndarray:
    labels = ctx.labels(which)
    if ctx.model_task == BINARY:
        return np.where(labels.isna(), np.nan, (labels == ctx.positive_class).astype(float))
    return numeric_values(labels)


@register_test(
    "drift.correlation_drift",
    name="Correlation Drift (Feature to Label)",
    category=CATEGORY,
    thresholds=(0.1, 0.2, 0.3),
    description="Change of each numeric feature's Pearson correlation with the label.",
    needs_labels=True,
)
def correlation_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """|Pearson(feature, label) in eval - Pearson(feature, label) in ref| per numeric feature.

    Binary labels are coded 1 for the positive class; multi-class labels have no order, so the
    test is skipped for them. Severity: the threshold level capped by the feature's importance.
    """
    if ctx.model_task == MULTICLASS:
        return [Finding.skip((), "Correlation with a multi-class label is not defined.")]
    y_ref, y_eval = _label_numbers(ctx, "ref"), _label_numbers(ctx, "eval")
    findings = []
    for name, info in ctx.features.items():
        if not info.is_numeric:
            continue
        if name not in ctx.eval.columns:
            findings.append(Finding.skip((name,), f"Feature {name!r} is missing from eval."))
            continue
        ref_corr = correlation_and_z_variance(numeric_values(ctx.ref[name]), y_ref)
        eval_corr = correlation_and_z_variance(numeric_values(ctx.eval[name]), y_eval)
        if np.isnan(ref_corr[0]) or np.isnan(eval_corr[0]):
            findings.append(
                Finding.skip((name,), f"Feature {name!r} or the label is constant or empty.")
            )
            continue
        findings.append(_correlation_finding(name, ref_corr, eval_corr, ctx.importance.of(name)))
    return findings


def _correlation_finding(
    name: str, ref: tuple[float, float], cur: tuple[float, float], impact: float | None
) -> Finding:
    """The correlation drift case of feature ``name`` from ``(r, variance of atanh r)`` pairs."""
    ref_corr, eval_corr = ref[0], cur[0]
    return Finding(
        features=(name,),
        statistic=abs(eval_corr - ref_corr),
        description=(
            f"Correlation of feature {name!r} with the label moved from "
            f"{ref_corr:.3f} (ref) to {eval_corr:.3f} (eval)."
        ),
        metrics={
            "ref_correlation": ref_corr,
            "eval_correlation": eval_corr,
            "p_value_method": "Fisher z (jackknife variance)",
        },
        impact=impact,
        p_value=correlation_difference_p_value(ref, cur),
    )
