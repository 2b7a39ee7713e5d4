"""Subset Performance tests of image classifiers (``data_type="images"``).

The tabular subset tests (:mod:`pytest_rime.engine.tests.subset`) split the eval rows by the
values of one feature; an image column has no values to split by, so these tests split by:

- **label**: the rows of each class (the tabular categorical split of the label column);
- **image properties** (:mod:`pytest_rime.engine.image_properties`): brightness, contrast,
  sharpness, colourfulness and aspect ratio in ``numeric_bins`` reference-quantile bins
  (duplicate edges removed), a property with at most ``max_categories`` reference values
  (size, channels) by value; unreadable images in ``"(missing)"``; colour-only properties are
  left out when every image is grey, and a property of one value in ref and eval is no split;
- **metadata**: every column besides the image, label, prediction and timestamp columns,
  split as the tabular tests split a feature
  (:func:`~pytest_rime.engine.tests.subset.feature_subsets`).

**Tests**:

- ``Image Subset Performance`` (``subset_performance.image_subset_performance``): one case per
  split (label, each property, each metadata column): the worst subset's gap of the ``metric``
  (default Accuracy) to the metric on all eval rows, signed so that worse is positive, as the
  tabular ``Subset <metric>``; thresholds (0.05, 0.1, 0.2).
- ``Image Subset Degradation`` (``subset_performance.image_subset_degradation``): one case per
  split: the worst subset's drop of the metric from ref to eval, as the tabular Subset
  Performance Degradation; thresholds (0.1, 0.2, 0.3).

A subset enters a test when the rows its metric averages over number at least
``min_subset_size`` (default 50).

**Evidence**: the gap's p-value is the share of random eval subsets of the same size that do as
badly (:data:`~pytest_rime.engine.resampling.NULL_DRAWS` draws, tail extrapolated), with the
same label mix except for the label split, whose subsets are single classes; Bonferroni over
the split's subsets (:func:`~pytest_rime.engine.tests.subset.pick_worst`). The degradation's
p-value is the tabular permutation test of the subset's ref and eval rows
(:func:`~pytest_rime.engine.tests.subset.degradation_p_value`).

**Severity**, as the tabular subset tests: the threshold level capped by the worst subset's
share of the eval rows (:func:`~pytest_rime.engine.tests.subset.impact_of_share`: a subset of at
least 3 % of the rows may be HIGH, 1-3 % at most MEDIUM, under 1 % at most LOW); conditional
metrics at most MEDIUM (:func:`~pytest_rime.engine.tests.subset.subset_impact`); and a gap is at
most MEDIUM when it is a known weakness (:func:`~pytest_rime.engine.tests.subset.known_weakness`:
the model is right there as often as its own probabilities promise, or the subset was as weak
in ref and the model beats the no-skill constant there). A model worse than knowing nothing on
a subset is HIGH whatever ref shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.data import CATEGORICAL, DATETIME, TEXT, FeatureInfo
from pytest_rime.engine.datatypes.images import image_column
from pytest_rime.engine.image_properties import properties
from pytest_rime.engine.metrics import ACCURACY, Metric, all_metrics
from pytest_rime.engine.performance import dataset_metrics
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.tests.subset import (
    _SUM_FORMS,
    ABSOLUTE_THRESHOLDS,
    AUTO,
    DEGRADATION_THRESHOLDS,
    SUBSET_PARAMS,
    SubsetSplit,
    SubsetValue,
    _categorical_split,
    _numeric_split,
    chosen_metric,
    drop_finding,
    feature_subsets,
    gap_candidates,
    scored_drops,
    subset_drops,
    subset_null,
    subset_values,
    worst_gap,
)
from pytest_rime.vocabulary import IMAGES

CATEGORY = "Subset Performance"
SPLIT_PROPERTIES = (
    "brightness",
    "contrast",
    "sharpness",
    "colourfulness",
    "aspect_ratio",
    "height",
    "width",
    "channels",
)
"""Image properties the rows are split by (the per-channel means follow the brightness)."""

COLOUR_ONLY = ("colourfulness",)
REGRESSION_METRICS = ("MAE", "MSE", "RMSE", "MAPE")
SUM_METRICS = tuple(
    m.name for m in all_metrics() if m.name in _SUM_FORMS and m.name not in REGRESSION_METRICS
)
"""Classification metrics the tests may use: sums over rows (the random subsets are sums)."""

PARAMS: Mapping[str, Any] = {**SUBSET_PARAMS, "metric": AUTO}
CHOICES = {"metric": (AUTO, *SUM_METRICS)}


@dataclass(frozen=True)
class ImageSplit:
    """A split of the rows and whether its null keeps the label mix (not for the label)."""

    kind: str
    split: SubsetSplit
    stratified: bool = True


def _property_split(ctx: RunContext, name: str, params: Mapping[str, Any]) -> SubsetSplit:
    bins, max_categories = int(params["numeric_bins"]), int(params["max_categories"])
    key = f"image_property:{name}:{bins}:{max_categories}"

    def compute() -> SubsetSplit:
        ref = properties(ctx, "ref")[name]
        cur = properties(ctx, "eval")[name]
        if ref.nunique(dropna=True) <= max_categories:
            names, ref_codes, eval_codes = _categorical_split(
                ref.map(lambda v: f"{v:.4g}", na_action="ignore"),
                cur.map(lambda v: f"{v:.4g}", na_action="ignore"),
                max_categories,
            )
        else:
            names, ref_codes, eval_codes = _numeric_split(ref, cur, bins)
        return SubsetSplit(name, tuple(names), ref_codes, eval_codes, key)

    return ctx.memo(f"subsets:{key}", compute)


def image_splits(ctx: RunContext, params: Mapping[str, Any]) -> list[ImageSplit]:
    """Every split of an images run: label, image properties, metadata columns."""
    splits: list[ImageSplit] = []
    if ctx.label_col is not None:
        info = FeatureInfo(ctx.label_col, CATEGORICAL, "str", in_model=False)
        label = feature_subsets(ctx, info, params)
        if label is not None:
            splits.append(ImageSplit("label", label, stratified=False))
    channels = pd.concat([properties(ctx, "ref")["channels"], properties(ctx, "eval")["channels"]])
    grey = bool((channels.dropna() <= 1).all())
    both = pd.concat([properties(ctx, "ref"), properties(ctx, "eval")])
    for name in SPLIT_PROPERTIES:
        if both[name].nunique(dropna=True) > 1 and not (grey and name in COLOUR_ONLY):
            splits.append(ImageSplit("image property", _property_split(ctx, name, params)))
    column = image_column(ctx.config)
    for info in ctx.features.values():
        if info.name == column or info.type in (TEXT, DATETIME):
            continue
        split = feature_subsets(ctx, info, params)
        if split is not None:
            splits.append(ImageSplit("metadata column", split))
    return splits


# ----------------------------------------------------------------------------- evidence
def _gap_p_value(
    ctx: RunContext, item: ImageSplit, metric: Metric, value: SubsetValue
) -> float | None:
    split = item.split
    null = subset_null(
        ctx, [split], seed=f"image_subset_null:{split.key}", stratified=item.stratified
    )
    return null.p_value(split, metric, value)


# -------------------------------------------------------------------------------- tests
def _too_few(item: ImageSplit, values: list[SubsetValue], min_size: int, what: str) -> Finding:
    sizes = ", ".join(f"{v.name!r}: {v.size}" for v in values) or "no rows"
    return Finding.skip(
        (item.split.feature,),
        f"Skipped: {what} of {item.kind} {item.split.feature!r} have {min_size} rows "
        f"(eval sizes {sizes}; min_subset_size={min_size}).",
    )


def _gap_finding(
    ctx: RunContext, settings: TestSettings, item: ImageSplit, metric: Metric
) -> Finding:
    split, min_size = item.split, int(settings.params["min_subset_size"])
    overall = dataset_metrics(ctx, "eval").get(metric.name)
    values = subset_values(ctx, "eval", split, metric, min_size)
    scored = (
        []
        if overall is None
        else gap_candidates(values, metric, overall, lambda v: _gap_p_value(ctx, item, metric, v))
    )
    if overall is None or len(scored) < 2:
        return _too_few(item, values, min_size, "fewer than two subsets")
    case = worst_gap(ctx, split, metric, overall, scored, min_size)
    of = f"{item.kind} {split.feature!r}"
    mix = "labels" if item.stratified else "size"
    return case.finding(
        case.describe("subset", of, mix),
        {"split": item.kind, **case.mix_metrics(min_size, mix, values)},
    )


def _degradation_finding(
    ctx: RunContext, settings: TestSettings, item: ImageSplit, metric: Metric
) -> Finding:
    split, min_size = item.split, int(settings.params["min_subset_size"])
    scored = scored_drops(ctx, split, metric, subset_drops(ctx, split, metric, min_size))
    if not scored:
        after = subset_values(ctx, "eval", split, metric, min_size)
        return _too_few(item, after, min_size, "no subset in both ref and eval")
    drops = [d for _, _, d in scored]
    naming = ("subset", f"{item.kind} {split.feature!r}")
    return drop_finding(ctx, split, metric, scored, drops, naming, min_size, {"split": item.kind})


_Make = Callable[[RunContext, TestSettings, ImageSplit, Metric], Finding]


def _split_findings(ctx: RunContext, settings: TestSettings, make: _Make) -> list[Finding]:
    metric = chosen_metric(ctx, settings, ACCURACY)
    if isinstance(metric, Finding):
        return [metric]
    return [make(ctx, settings, item, metric) for item in image_splits(ctx, settings.params)]


@register_test(
    "subset_performance.image_subset_performance",
    name="Image Subset Performance",
    category=CATEGORY,
    thresholds=ABSOLUTE_THRESHOLDS,
    description="Images split by label, by bins of each image property and by metadata "
    "columns: the gap of the worst subset's metric to all eval rows.",
    needs_labels=True,
    needs_predictions=True,
    params=PARAMS,
    param_choices=CHOICES,
    data_types=(IMAGES,),
)
def image_subset_performance(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Per split, the worst subset's gap of the metric (default Accuracy) to all eval rows.

    Severity: the threshold level, capped by the subset's share of eval and at MEDIUM for a
    known weakness (module docstring).
    """
    return _split_findings(ctx, settings, _gap_finding)


@register_test(
    "subset_performance.image_subset_degradation",
    name="Image Subset Degradation",
    category=CATEGORY,
    thresholds=DEGRADATION_THRESHOLDS,
    description="Images split by label, by bins of each image property and by metadata "
    "columns: the largest drop of a subset's metric from ref to eval.",
    needs_labels=True,
    needs_predictions=True,
    params=PARAMS,
    param_choices=CHOICES,
    data_types=(IMAGES,),
)
def image_subset_degradation(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Per split, the worst subset's drop of the metric (default Accuracy) from ref to eval.

    Severity: the threshold level capped by the subset's share of eval (module docstring).
    """
    return _split_findings(ctx, settings, _degradation_finding)
