"""Subset Performance tests of text classifiers (``data_type="nlp"``).

The tabular subset tests (:mod:`pytest_rime.engine.tests.subset`) split the eval rows by the
values of one feature; a text has no values to split by, so these tests split by what the
texts are like. **Families of subsets** (each defined on ref and applied to ref and eval):

- **Text Length**: the number of word tokens (:func:`pytest_rime.engine.text.tokens`) in
  ``numeric_bins`` reference-quantile bins (duplicate edges removed), named ``"< 6 tokens"``,
  ``"[6, 9) tokens"``, ``">= 14 tokens"``;
- **Negation**: texts with a negation word (:data:`NEGATION`: not, no, never, none, nothing,
  nobody, nowhere, neither, nor, cannot, without, or a word ending in ``n't``) and without;
- **Numbers**: texts with a digit and without;
- **Questions**: texts whose last non-space character is ``?`` and the others;
- **Label Class**: the rows of each class of the label (at most ``max_categories`` classes,
  the others in ``"Other"``); the case is about the label column;
- **Metadata**: every column besides the text, label, prediction and timestamp columns, split
  as the tabular tests split a feature (:func:`~pytest_rime.engine.tests.subset.feature_subsets`:
  categories by value, numbers in reference-quantile bins, ``"(missing)"``); one case per
  column.

**Tests**, two per family (ids ``subset_performance.text_<family>_subsets`` and
``subset_performance.text_<family>_degradation``):

- ``<Family> Subsets``: the worst subset's gap of the ``metric`` parameter (default
  Accuracy) to the metric on all eval rows, signed so that worse is positive (absolute for
  metrics in 0..1, relative for log loss), as the tabular ``Subset <metric>`` tests. Default
  thresholds (0.05, 0.1, 0.2), the tabular Subset Accuracy thresholds.
- ``<Family> Subset Degradation``: the worst subset's drop of the ``metric`` from ref to eval,
  as the tabular Subset Performance Degradation. Thresholds (0.1, 0.2, 0.3).

A subset enters a test only when the rows its metric averages over number at least
``min_subset_size`` (default 50); a family with fewer than two such subsets in eval (no
question among the texts, say) is a SKIP case naming the sizes.

**Evidence**: the gap's p-value is the share of random eval subsets of the same size that do
as badly (``NULL_DRAWS`` draws, with the same label mix for every family but Label Class,
whose subsets are single classes and are compared with random rows of any class), Bonferroni
over the family's subsets; the degradation's p-value is the tabular permutation test of the
subset's ref and eval rows (:func:`~pytest_rime.engine.tests.subset.degradation_p_value`).

**Severity**, as the tabular subset tests: the threshold level of the statistic, capped by
the worst subset's share of the eval rows (its impact,
:func:`~pytest_rime.engine.tests.subset.impact_of_share`: a subset of at least 3 % of the
rows may be HIGH, 1-3 % at most MEDIUM, under 1 % at most LOW); conditional metrics
(F1, Precision, Recall, FPR, FNR and macro versions) at most MEDIUM; and a gap is at most
MEDIUM when it is a known weakness rather than a fault
(:func:`~pytest_rime.engine.tests.subset.known_weakness`: the model is right on the subset as
often as its own probabilities promise, or the subset was as weak in ref and the model beats
the no-skill constant there). So a subset is HIGH only when it is materially worse, with
evidence, on enough rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from pytest_rime.engine.context import RunContext, Which
from pytest_rime.engine.data import CATEGORICAL, DATETIME, TEXT, FeatureInfo
from pytest_rime.engine.metrics import ACCURACY, IntArray, Metric
from pytest_rime.engine.performance import dataset_metrics
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.stats import unsorted_quantile_edges
from pytest_rime.engine.tests._families import named_test
from pytest_rime.engine.tests.subset import (
    ABSOLUTE_THRESHOLDS,
    AUTO,
    DEGRADATION_THRESHOLDS,
    SUBSET_PARAMS,
    SubsetSplit,
    SubsetValue,
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
from pytest_rime.engine.text import text_col, texts, tokens
from pytest_rime.vocabulary import NLP

CATEGORY = "Subset Performance"
NEGATION = re.compile(
    r"\b(?:not|no|never|none|nothing|nobody|nowhere|neither|nor|cannot|without)\b|n['\u2019]t\b",
    re.IGNORECASE,
)
"""A negation word, or a contraction ending in ``n't`` (straight or curly apostrophe)."""

DIGIT = re.compile(r"\d")
SUM_METRICS = (
    "Accuracy",
    "Log Loss",
    "Multi-class Log Loss",
    "Precision",
    "Recall",
    "F1",
    "FPR",
    "FNR",
    "Macro Precision",
    "Macro Recall",
    "Macro F1",
)
"""Metrics the tests may use: those of classification that are sums over rows (the random
subsets of the evidence are sums; AUC is not one)."""

PARAMS: Mapping[str, Any] = {**SUBSET_PARAMS, "metric": AUTO}
CHOICES = {"metric": (AUTO, *SUM_METRICS)}


# ----------------------------------------------------------------------------- families
def _codes_of(values: pd.Series, names: list[str]) -> IntArray:
    return np.asarray(values.map({name: i for i, name in enumerate(names)}), dtype=np.int64)


def _flag_split(
    ctx: RunContext, key: str, test: Callable[[str], bool], yes: str, no: str
) -> SubsetSplit:
    def codes(which: Which) -> IntArray:
        return np.asarray([0 if test(text) else 1 for text in texts(ctx, which)], dtype=np.int64)

    return SubsetSplit(text_col(ctx), (yes, no), codes("ref"), codes("eval"), f"nlp:{key}")


def _length_split(ctx: RunContext, params: Mapping[str, Any]) -> SubsetSplit:
    bins = int(params["numeric_bins"])

    def lengths(which: Which) -> np.ndarray:
        return np.asarray([len(tokens(text)) for text in texts(ctx, which)], dtype=float)

    ref, cur = lengths("ref"), lengths("eval")
    edges = unsorted_quantile_edges(ref, bins)
    labels = [f"{edge:.4g}" for edge in edges]
    if labels:
        names = [
            f"< {labels[0]} tokens",
            *(f"[{a}, {b}) tokens" for a, b in pairwise(labels)),
            f">= {labels[-1]} tokens",
        ]
    else:
        names = ["all lengths"]
    return SubsetSplit(
        text_col(ctx),
        tuple(names),
        np.searchsorted(edges, ref, side="right").astype(np.int64),
        np.searchsorted(edges, cur, side="right").astype(np.int64),
        f"nlp:length:{bins}",
    )


def label_split(ctx: RunContext, params: Mapping[str, Any]) -> SubsetSplit | None:
    """The rows of each label class (the tabular categorical split of the label column)."""
    label = ctx.label_col
    if label is None:
        return None
    info = FeatureInfo(label, CATEGORICAL, "other")
    return feature_subsets(ctx, info, params)


def metadata_columns(ctx: RunContext) -> list[FeatureInfo]:
    """The metadata columns of an nlp run: every feature but the text (and datetime ones)."""
    column = text_col(ctx)
    return [
        info
        for info in ctx.features.values()
        if info.name != column and info.type not in (TEXT, DATETIME)
    ]


def _is_question(text: str) -> bool:
    return text.rstrip().endswith("?")


@dataclass(frozen=True)
class Family:
    """A family of subsets: its test slug and name, how to split, and what it is in words."""

    slug: str
    name: str
    what: str
    splits: Callable[[RunContext, Mapping[str, Any]], list[SubsetSplit]]
    stratified: bool = True


def _memo_split(
    key: str, make: Callable[[RunContext, Mapping[str, Any]], SubsetSplit | None]
) -> Callable[[RunContext, Mapping[str, Any]], list[SubsetSplit]]:
    def splits(ctx: RunContext, params: Mapping[str, Any]) -> list[SubsetSplit]:
        split = ctx.memo(f"nlp_subset:{key}:{params['numeric_bins']}", lambda: make(ctx, params))
        return [] if split is None else [split]

    return splits


def _metadata_splits(ctx: RunContext, params: Mapping[str, Any]) -> list[SubsetSplit]:
    found = (feature_subsets(ctx, info, params) for info in metadata_columns(ctx))
    return [split for split in found if split is not None]


FAMILIES = (
    Family("length", "Text Length", "text length", _memo_split("length", _length_split)),
    Family(
        "negation",
        "Negation",
        "negation",
        _memo_split(
            "negation",
            lambda ctx, _: _flag_split(
                ctx, "negation", lambda t: bool(NEGATION.search(t)), "negated", "not negated"
            ),
        ),
    ),
    Family(
        "number",
        "Number",
        "numbers",
        _memo_split(
            "number",
            lambda ctx, _: _flag_split(
                ctx, "number", lambda t: bool(DIGIT.search(t)), "with numbers", "without numbers"
            ),
        ),
    ),
    Family(
        "question",
        "Question",
        "questions",
        _memo_split(
            "question",
            lambda ctx, _: _flag_split(ctx, "question", _is_question, "question", "not a question"),
        ),
    ),
    Family(
        "label_class",
        "Label Class",
        "label class",
        lambda ctx, params: [s for s in [label_split(ctx, params)] if s is not None],
        stratified=False,
    ),
    Family("metadata", "Metadata", "metadata column", _metadata_splits),
)
"""The families of subsets, in report order (module docstring)."""


# ----------------------------------------------------------------------------- evidence
def _gap_p_value(
    ctx: RunContext, split: SubsetSplit, stratified: bool, metric: Metric, value: SubsetValue
) -> float | None:
    """P-value that a random eval subset of the same size (and label mix) does as badly."""
    null = subset_null(ctx, [split], seed=f"nlp_subset_null:{split.key}", stratified=stratified)
    return null.p_value(split, metric, value)


# -------------------------------------------------------------------------------- tests
def _too_few(family: Family, split: SubsetSplit, values: list[SubsetValue], min_size: int) -> str:
    sizes = ", ".join(f"{v.name!r}: {v.size}" for v in values) or "no rows"
    return (
        f"Skipped: fewer than two {family.what} subsets of {split.feature!r} have "
        f"{min_size} eval rows to compare (sizes {sizes}; min_subset_size={min_size})."
    )


def _gap_finding(
    ctx: RunContext, settings: TestSettings, family: Family, split: SubsetSplit, metric: Metric
) -> Finding:
    min_size = int(settings.params["min_subset_size"])
    overall = dataset_metrics(ctx, "eval").get(metric.name)
    values = subset_values(ctx, "eval", split, metric, min_size)
    if overall is None or sum(v.value is not None for v in values) < 2:
        return Finding.skip((split.feature,), _too_few(family, split, values, min_size))
    scored = gap_candidates(
        values, metric, overall, lambda v: _gap_p_value(ctx, split, family.stratified, metric, v)
    )
    if len(scored) < 2:
        return Finding.skip((split.feature,), _too_few(family, split, values, min_size))
    case = worst_gap(ctx, split, metric, overall, scored, min_size)
    mix = "labels" if family.stratified else "size"
    return case.finding(
        case.describe(f"the {family.what} subset", repr(split.feature), mix),
        {"family": family.name, **case.mix_metrics(min_size, mix, values)},
    )


def _degradation_finding(
    ctx: RunContext, settings: TestSettings, family: Family, split: SubsetSplit, metric: Metric
) -> Finding:
    min_size = int(settings.params["min_subset_size"])
    after = subset_values(ctx, "eval", split, metric, min_size)
    if sum(v.value is not None for v in after) < 2:
        return Finding.skip((split.feature,), _too_few(family, split, after, min_size))
    scored = scored_drops(ctx, split, metric, subset_drops(ctx, split, metric, min_size))
    if not scored:
        sizes = ", ".join(f"{v.name!r}: {v.size}" for v in after) or "no rows"
        return Finding.skip(
            (split.feature,),
            f"Skipped: no {family.what} subset of {split.feature!r} has {min_size} rows in both "
            f"ref and eval (eval sizes {sizes}; min_subset_size={min_size}).",
        )
    drops = [d for _, _, d in scored]
    naming = (f"the {family.what} subset", repr(split.feature))
    return drop_finding(
        ctx, split, metric, scored, drops, naming, min_size, {"family": family.name}
    )


_Make = Callable[[RunContext, TestSettings, Family, SubsetSplit, Metric], Finding]


def family_findings(
    ctx: RunContext, settings: TestSettings, family: Family, make: _Make
) -> list[Finding]:
    """One case per split of ``family`` (one per metadata column, else one), made by ``make``."""
    if text_col(ctx) not in ctx.eval.columns:
        return [Finding.skip((), f"Skipped: the data has no text column {text_col(ctx)!r}.")]
    metric = chosen_metric(ctx, settings, ACCURACY)
    if isinstance(metric, Finding):
        return [metric]
    splits = family.splits(ctx, settings.params)
    if not splits:
        what = "label column" if family.slug == "label_class" else "metadata column"
        return [Finding.skip((), f"Skipped: the data has no {what} to split by.")]
    return [make(ctx, settings, family, split, metric) for split in splits]


def _register(family: Family) -> None:
    """Register the gap and the degradation test of ``family``."""
    texts_by = f"Texts split by {family.what}:"
    kinds: tuple[tuple[str, str, tuple[float, float, float], str, str, _Make], ...] = (
        (
            "subsets",
            f"{family.name} Subsets",
            ABSOLUTE_THRESHOLDS,
            f"{texts_by} the gap of the worst subset's metric to all eval rows.",
            "the worst subset's gap of the metric (default Accuracy) to all eval rows.\n\n"
            "Severity: the threshold level, capped by the subset's share of eval and at MEDIUM "
            "for a known weakness (module docstring).",
            _gap_finding,
        ),
        (
            "degradation",
            f"{family.name} Subset Degradation",
            DEGRADATION_THRESHOLDS,
            f"{texts_by} the largest drop of a subset's metric from ref to eval.",
            "the worst subset's drop of the metric (default Accuracy) from ref to eval.\n\n"
            "Severity: the threshold level, capped by the subset's share of eval.",
            _degradation_finding,
        ),
    )
    for kind, name, thresholds, description, doc, make in kinds:
        register_test(
            f"subset_performance.text_{family.slug}_{kind}",
            name=name,
            category=CATEGORY,
            thresholds=thresholds,
            description=description,
            needs_labels=True,
            needs_predictions=True,
            params=PARAMS,
            param_choices=CHOICES,
            data_types=(NLP,),
        )(named_test(f"text_{family.slug}_{kind}", f"{texts_by} {doc}", _test_of(family, make)))


def _test_of(family: Family, make: _Make) -> Callable[[RunContext, TestSettings], list[Finding]]:
    return lambda ctx, settings: family_findings(ctx, settings, family, make)


for _family in FAMILIES:
    _register(_family)
