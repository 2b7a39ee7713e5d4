"""Data Cleanliness tests: problems of the data itself.

Missing columns, duplicate rows, label balance, redundant features and label leakage.

Findings about the data itself are context for a reviewer, not a model failure, so they are at
most LOW (``Finding.severity_cap`` with the reason in the description) unless their measured
effect on the model is material:

- **Duplicate Rows**: capped when every repeated row could coincide by chance, i.e. none holds
  a value that occurs in its column only within its own copies (data of few distinct values
  per column repeats rows naturally; a row of continuous values repeated is a pipeline fault).
- **Label Imbalance**: capped unless the model recalls less than :data:`MIN_MINORITY_RECALL`
  of the rarest class on eval (then the imbalance has hurt the model); a single class is not
  capped.
- **High Feature Correlation**: always capped (no model effect is measured; the importances of
  both features are in the metrics).
- **High Mutual Information (Feature to Label)**: the statistic is the smaller of the ref and
  eval shares of the label's information; capped unless the model leans on the feature
  (permutation importance at least :data:`LEAKAGE_MIN_IMPORTANCE`). A feature that nearly
  determines the label in both sets and that the model relies on is target leakage: HIGH.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.data import TEXT
from pytest_rime.engine.errors import ModelError
from pytest_rime.engine.importance import PERMUTATION, label_dependence
from pytest_rime.engine.pairwise import strong_correlations
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.results import JSONValue, Severity
from pytest_rime.engine.stats import discretize, entropy, mutual_information
from pytest_rime.vocabulary import REGRESSION

CATEGORY = "Data Cleanliness"
IDENTIFIER_SHARE = 0.5
"""A categorical feature with more distinct values than this share of rows is an identifier."""

MIN_MINORITY_RECALL = 0.1
"""Label Imbalance is material (not capped) when the model recalls less of the rarest class:
it all but ignores that class. A healthy model of a naturally rare label (3% of card holders
default) recalls a third of it at the 0.5 cut-off; that is a threshold choice, not damage."""

LEAKAGE_MIN_IMPORTANCE = 0.5
"""Permutation importance from which the model leans on a feature (leakage can be HIGH)."""

CONTEXT = "it describes the data, not the model: context for the reviewer, at most LOW."


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

    Severity: the threshold level, at most LOW when every repeated row could coincide by
    chance (:func:`improbable_duplicates` finds none).
    """
    if ctx.eval.empty:
        return [Finding.skip((), "The evaluation data has no rows.")]
    duplicated = ctx.eval.duplicated(keep="first").to_numpy()
    count = int(duplicated.sum())
    share = count / len(duplicated)
    improbable = int(improbable_duplicates(ctx.eval)[duplicated].sum()) if count else 0
    chance = improbable / len(duplicated) < settings.thresholds[0]
    return [
        Finding(
            features=(),
            statistic=share,
            description=(
                f"{count} eval rows ({share:.1%}) duplicate an earlier row; {improbable} of them "
                "hold a value found nowhere else in its column."
            ),
            metrics={
                "num_duplicate_rows": count,
                "duplicate_fraction": share,
                "num_improbable_duplicates": improbable,
            },
            severity_cap=Severity.LOW if chance else None,
            cap_reason=(
                "Every repeated row is made of values common in their columns, so rows can "
                f"coincide by chance: {CONTEXT}"
            ),
        )
    ]


def improbable_duplicates(frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Rows repeated in ``frame`` that hold a value occurring only within their own copies.

    Such a row is unlikely to repeat by chance (e.g. a continuous measurement); rows of values
    common in their columns (few distinct values per column) coincide naturally.
    """
    improbable: npt.NDArray[np.bool_] = np.zeros(len(frame), dtype=bool)
    if frame.empty or frame.shape[1] == 0:
        return improbable
    repeated = frame.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return improbable
    # Only repeated rows can qualify, and only the values they hold need counting: every copy
    # of a repeated row is itself repeated, so its copies are counted among those rows alone.
    candidates = frame.loc[repeated]
    copies = _group_sizes(
        candidates.groupby(list(candidates.columns), dropna=False, sort=False).ngroup()
    )
    rarest = np.full(len(candidates), np.iinfo(np.int64).max)
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        holding = values.isin(candidates.iloc[:, position].unique()).to_numpy()
        sizes = _group_sizes(
            values[holding].groupby(values[holding], dropna=False, sort=False).ngroup()
        )
        rarest = np.minimum(rarest, sizes[repeated[holding]])
    improbable[repeated] = rarest <= copies
    return improbable


def _group_sizes(groups: pd.Series) -> npt.NDArray[np.int64]:
    codes = groups.to_numpy(dtype=np.int64)
    sizes: npt.NDArray[np.int64] = np.bincount(codes)[codes]
    return sizes


@register_test(
    "data_cleanliness.label_imbalance",
    name="Label Imbalance",
    category=CATEGORY,
    thresholds=(5.0, 10.0, 20.0),
    description="Ratio of the most to the least frequent class in the reference labels.",
)
def label_imbalance(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Majority / minority class count in the reference labels (classification only).

    A single class gives an infinite ratio. Severity: the threshold level, at most LOW unless
    the model recalls less than :data:`MIN_MINORITY_RECALL` of the rarest class on eval.
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
    recall = None if len(counts) == 1 else minority_recall(ctx, counts.index[-1])
    material = len(counts) == 1 or (recall is not None and recall < MIN_MINORITY_RECALL)
    if recall is None:
        effect = "Without eval predictions its effect on the model is not measured"
    else:
        effect = f"The model recalls {recall:.1%} of class '{counts.index[-1]}' on eval"
    return [
        Finding(
            features=(),
            statistic=ratio,
            description=text if len(counts) == 1 else f"{text} {effect}.",
            metrics={"imbalance_ratio": ratio, "class_shares": shares, "minority_recall": recall},
            severity_cap=None if material else Severity.LOW,
            cap_reason=f"The rare class is recalled: {CONTEXT}",
        )
    ]


def minority_recall(ctx: RunContext, minority: object) -> float | None:
    """Share of the eval rows labelled ``minority`` that the model predicts as ``minority``.

    ``None`` without eval labels or predictions, or when eval has no such row.
    """
    if not ctx.has_labels or not ctx.has_predictions:
        return None
    try:
        predicted = np.asarray(ctx.predicted_labels("eval"))
    except ModelError:
        return None
    rows = (ctx.labels("eval") == minority).to_numpy()
    return float(np.mean(predicted[rows] == minority)) if rows.any() else None


def _numeric_ref(ctx: RunContext) -> pd.DataFrame:
    """The numeric features of ref as floats, without constant columns (no correlation)."""
    names = [n for n, info in ctx.features.items() if info.is_numeric]
    frame = pd.DataFrame({n: pd.to_numeric(ctx.ref[n], errors="coerce") for n in names})
    # constant columns have no correlation (min < max: two distinct values, without a hash pass)
    frame = frame.astype(float)
    return frame.loc[:, (frame.min() < frame.max()).to_numpy()]


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
    correlation. Severity: the threshold level, at most LOW (a property of the data; the
    features' model importances are in the metrics).

    Bounded for wide data (:func:`pytest_rime.engine.pairwise.strong_correlations`): every
    pair is computed exactly, in blocks of columns, so memory grows linearly with the number
    of features; at most :data:`~pytest_rime.engine.pairwise.MAX_REPORTED_PAIRS` pairs are
    reported (the strongest). When more pairs reach the threshold, the weaker ones are not
    reported and each case's ``pairs_above_threshold`` metric gives their total.
    """
    method = settings.params["method"]
    frame = _numeric_ref(ctx)
    names = [str(name) for name in frame.columns]
    strong = strong_correlations(frame, method, settings.thresholds[0])
    dropped = strong.total - len(strong.pairs)
    findings = []
    for i, j, signed in strong.pairs:
        metrics: dict[str, JSONValue] = {
            "correlation": signed,
            "method": method,
            "importances": [ctx.importance.of(names[i]), ctx.importance.of(names[j])],
        }
        if dropped:
            metrics["pairs_above_threshold"] = strong.total
        findings.append(
            Finding(
                features=(names[i], names[j]),
                statistic=abs(signed),
                description=(
                    f"Features {names[i]!r} and {names[j]!r} have {method} correlation "
                    f"{signed:.3f} in ref: one may be redundant."
                ),
                metrics=metrics,
                severity_cap=Severity.LOW,
                cap_reason=f"Correlated features are redundant, not wrong: {CONTEXT}",
            )
        )
    if dropped:
        ctx.log(
            f"High Feature Correlation: {strong.total} pairs reach {settings.thresholds[0]}; "
            f"the {len(strong.pairs)} strongest are reported"
        )
    if findings:
        return findings
    return [
        Finding(
            features=(),
            statistic=strong.top,
            description=f"No pair of numeric features is highly correlated (max |{method}| "
            f"{strong.top:.3f}).",
            metrics={"max_abs_correlation": strong.top, "method": method},
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
    """Share of the label's information each feature carries (MI / label entropy).

    Measured on ref and on eval (numbers binned at deciles of their own set); the statistic is
    the smaller share (ref alone when eval lacks the feature or labels). Text and
    identifier-like categorical features (more distinct values than half the rows) are
    skipped, since they trivially "determine" the label. 1.0 means the feature alone gives the
    label. Severity: the threshold level, at most LOW unless the model leans on the feature
    (permutation importance at least :data:`LEAKAGE_MIN_IMPORTANCE`): then a feature that
    nearly determines the label in both sets is target leakage, HIGH.
    """
    if ctx.label_col is None or ctx.label_col not in ctx.ref.columns:
        return [Finding.skip((), "The reference data has no label column.")]
    if ctx.ref.empty or ctx.labels("ref").nunique(dropna=False) < 2:
        return [Finding.skip((), "The reference labels have fewer than two values.")]
    measured = ctx.importance.method == PERMUTATION
    findings = []
    for name in ctx.feature_names:
        if _is_identifier(ctx, name):
            findings.append(Finding.skip((name,), f"Feature {name!r} is text or identifier-like."))
            continue
        share = label_dependence(ctx, name)
        in_eval = _eval_label_dependence(ctx, name)
        statistic = share if in_eval is None else min(share, in_eval)
        importance = ctx.importance.of(name) if measured else None
        leans = importance is not None and importance >= LEAKAGE_MIN_IMPORTANCE
        where = "ref" if in_eval is None else f"ref and {in_eval:.1%} in eval"
        if importance is None:
            reliance = "without a model its use by the model is not measured"
        else:
            reliance = f"its model importance is {importance:.2f}"
        findings.append(
            Finding(
                features=(name,),
                statistic=statistic,
                description=(
                    f"Feature {name!r} carries {share:.1%} of the label's information in "
                    f"{where}; {reliance}."
                ),
                metrics={
                    "normalized_mutual_information": share,
                    "eval_normalized_mutual_information": in_eval,
                    "importance": importance,
                },
                severity_cap=None if leans and in_eval is not None else Severity.LOW,
                cap_reason=(
                    "Not target leakage: the model does not lean on it (or eval does not show "
                    f"it); {CONTEXT}"
                ),
            )
        )
    return findings


def _eval_label_dependence(ctx: RunContext, name: str) -> float | None:
    """MI of feature ``name`` with the label on eval / the label entropy (``None``: no data)."""
    if name not in ctx.eval.columns or not ctx.has_labels or ctx.eval.empty:
        return None
    labels, h_label = ctx.memo("data_cleanliness.eval_label_codes", lambda: _label_codes(ctx))
    if h_label == 0:
        return None
    return mutual_information(discretize(ctx.eval[name]), labels) / h_label


def _label_codes(ctx: RunContext) -> tuple[npt.NDArray[np.int64], float]:
    """The eval labels as codes and their entropy (once per run, shared by the features)."""
    labels = discretize(ctx.labels("eval"))
    return labels, entropy(labels)
