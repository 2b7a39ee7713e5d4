"""Data Cleanliness tests: problems of the data itself.

Missing columns, duplicate rows, label balance, redundant features and label leakage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pytest_rime.engine.context import REGRESSION, RunContext
from pytest_rime.engine.data import TEXT
from pytest_rime.engine.importance import label_dependence
from pytest_rime.engine.registry import Finding, TestSettings, register_test

CATEGORY = "Data Cleanliness"
IDENTIFIER_SHARE = 0.5
"""A categorical feature with more distinct values than this share of rows is an identifier."""


@register_test(
    "data_cleanliness.required_features",
    name="Required Features",
    category=CATEGORY,
    thresholds=(1.0, 1.0, 1.0),
    description="Every feature of the reference data is present in the evaluation data.",
)
def required_features(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """One case per feature of ref missing from eval (statistic 1 = missing), else one PASS.

    Severity: HIGH for a feature the model uses (impact 1.0: the model cannot run without it),
    LOW for a feature in ``features_not_in_model`` (impact 0).
    """
    missing = [name for name in ctx.feature_names if name not in ctx.eval.columns]
    if not missing:
        return [
            Finding(
                features=(),
                statistic=0.0,
                description="All reference features are present in eval.",
                metrics={"num_missing_features": 0},
            )
        ]
    return [
        Finding(
            features=(name,),
            statistic=1.0,
            description=f"Feature {name!r} of the reference data is missing from eval.",
            metrics={"num_missing_features": len(missing)},
            impact=1.0 if ctx.features[name].in_model else 0.0,
        )
        for name in missing
    ]


@register_test(
    "data_cleanliness.duplicate_rows",
    name="Duplicate Rows",
    category=CATEGORY,
    thresholds=(0.01, 0.05, 0.1),
    description="Share of evaluation rows that repeat an earlier row exactly.",
)
def duplicate_rows(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Share of eval rows identical (all columns) to an earlier eval row.

    Severity: the threshold level (not about the model, so not capped).
    """
    if ctx.eval.empty:
        return [Finding.skip((), "The evaluation data has no rows.")]
    duplicated = ctx.eval.duplicated(keep="first").to_numpy()
    count = int(duplicated.sum())
    share = count / len(duplicated)
    return [
        Finding(
            features=(),
            statistic=share,
            description=f"{count} eval rows ({share:.1%}) duplicate an earlier row.",
            metrics={"num_duplicate_rows": count, "duplicate_fraction": share},
        )
    ]


@register_test(
    "data_cleanliness.label_imbalance",
    name="Label Imbalance",
    category=CATEGORY,
    thresholds=(5.0, 10.0, 20.0),
    description="Ratio of the most to the least frequent class in the reference labels.",
)
def label_imbalance(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Majority / minority class count in the reference labels (classification only).

    A single class gives an infinite ratio. Severity: the threshold level (not capped).
    """
    if ctx.model_task == REGRESSION:
        return [Finding.skip((), "Label imbalance applies to classification only.")]
    if ctx.label_col is None or ctx.label_col not in ctx.ref.columns:
        return [Finding.skip((), "The reference data has no label column.")]
    counts = ctx.labels("ref").value_counts(dropna=True)
    if counts.empty:
        return [Finding.skip((), "The reference labels are all missing.")]
    majority, minority = int(counts.iloc[0]), int(counts.iloc[-1])
    ratio = majority / minority if len(counts) > 1 else float("inf")
    shares = {str(k): float(v) for k, v in (counts / counts.sum()).items()}
    text = (
        f"The reference labels have a single class '{counts.index[0]}'."
        if len(counts) == 1
        else f"The most frequent class '{counts.index[0]}' has {ratio:.1f}x the rows of the "
        f"least frequent class '{counts.index[-1]}'."
    )
    return [
        Finding(
            features=(),
            statistic=ratio,
            description=text,
            metrics={"imbalance_ratio": ratio, "class_shares": shares},
        )
    ]


def _correlation_matrix(ctx: RunContext, method: str) -> pd.DataFrame:
    names = [n for n, info in ctx.features.items() if info.is_numeric]
    frame = pd.DataFrame({n: pd.to_numeric(ctx.ref[n], errors="coerce") for n in names})
    frame = frame.loc[:, frame.nunique(dropna=True) > 1]  # constant columns have no correlation
    return frame.astype(float).corr(method=method)  # type: ignore[arg-type]


@register_test(
    "data_cleanliness.high_feature_correlation",
    name="High Feature Correlation",
    category=CATEGORY,
    thresholds=(0.8, 0.9, 0.95),
    description="Pairs of numeric features that are almost linear functions of each other.",
    params={"method": "pearson"},
    param_choices={"method": ("pearson", "spearman")},
)
def high_feature_correlation(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """|correlation| of each pair of numeric features in ref (Pearson, or Spearman).

    One case per pair at or above the low threshold, else one PASS case with the largest
    correlation. Severity: the threshold level (a data property, not capped).
    """
    method = settings.params["method"]
    corr = _correlation_matrix(ctx, method)
    names = [str(name) for name in corr.columns]
    signed = corr.to_numpy(dtype=float)
    values = np.abs(signed)
    upper = np.triu(np.ones_like(values, dtype=bool), k=1) & np.isfinite(values)
    rows, cols = np.nonzero(upper & (values >= settings.thresholds[0]))
    findings = [
        Finding(
            features=(names[i], names[j]),
            statistic=float(values[i, j]),
            description=(
                f"Features {names[i]!r} and {names[j]!r} have {method} correlation "
                f"{signed[i, j]:.3f} in ref: one may be redundant."
            ),
            metrics={"correlation": float(signed[i, j]), "method": method},
        )
        for i, j in zip(rows, cols, strict=True)
    ]
    if findings:
        return findings
    top = float(values[upper].max()) if upper.any() else 0.0
    return [
        Finding(
            features=(),
            statistic=top,
            description=f"No pair of numeric features is highly correlated (max |{method}| "
            f"{top:.3f}).",
            metrics={"max_abs_correlation": top, "method": method},
        )
    ]


def _is_identifier(ctx: RunContext, name: str) -> bool:
    info = ctx.features[name]
    column = ctx.ref[name]
    return info.type == TEXT or (
        not info.is_numeric and column.nunique(dropna=True) > IDENTIFIER_SHARE * len(column)
    )


@register_test(
    "data_cleanliness.high_mutual_information",
    name="High Mutual Information (Feature to Label)",
    category=CATEGORY,
    thresholds=(0.7, 0.85, 0.95),
    description="Features that nearly determine the label in ref (possible label leakage).",
)
def high_mutual_information(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Mutual information of each feature with the label in ref, divided by the label entropy.

    Numbers are binned at reference deciles; text and identifier-like categorical features
    (more distinct values than half the rows) are skipped, since they trivially "determine" the
    label. 1.0 means the feature alone gives the label: check it is not derived from it.
    Severity: the threshold level (a data property, not capped).
    """
    if ctx.label_col is None or ctx.label_col not in ctx.ref.columns:
        return [Finding.skip((), "The reference data has no label column.")]
    if ctx.ref.empty or ctx.labels("ref").nunique(dropna=False) < 2:
        return [Finding.skip((), "The reference labels have fewer than two values.")]
    findings = []
    for name in ctx.feature_names:
        if _is_identifier(ctx, name):
            findings.append(Finding.skip((name,), f"Feature {name!r} is text or identifier-like."))
            continue
        share = label_dependence(ctx, name)
        findings.append(
            Finding(
                features=(name,),
                statistic=share,
                description=(
                    f"Feature {name!r} carries {share:.1%} of the label's information in ref."
                ),
                metrics={"normalized_mutual_information": share},
            )
        )
    return findings
