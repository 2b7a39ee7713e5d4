"""Drift tests of images: how far the eval images moved from the reference images.

- **Image Property Drift** (``drift.image_property_drift``): one case per image property of
  :mod:`pytest_rime.engine.image_properties` (brightness, contrast, sharpness, colourfulness,
  height, width, aspect ratio, channels, per-channel means), compared exactly as the tabular
  Feature Drift compares a feature: the property's profile (reference-decile bins, or values
  when ref has few) through :func:`~pytest_rime.engine.drift_statistics.measure_shift`, so the
  statistic (PSI by default, ``numeric_statistic`` / ``categorical_statistic``) and its p-value
  (chi-squared test of homogeneity of the same table; KS distribution for "ks") are the
  tabular ones. Unreadable images count as missing values. Colourfulness and the per-channel
  means are skipped when every image is grey (they repeat the brightness).
- **Image Embedding Drift** (``drift.image_embedding_drift``): a classifier two-sample test on
  an offline representation (:mod:`pytest_rime.engine.image_embedding`: area-averaged grey and
  colour grids, reduced by PCA of the pooled samples): the statistic is the held-out ROC AUC of a
  linear discriminant telling eval images from ref images (0.5: indistinguishable), with a
  permutation p-value. It sees changes no single property shows (content, layout, framing).

Severity: the threshold level capped by the impact, the model importance of the image column
(``ctx.importance.of(image_col)``): a drift of the images matters as much as the images matter
to the model. Without a model and without labels there is no importance and the impact is
``None`` (the level stands, as for tabular features). MEDIUM and HIGH need the adjusted p-value
below ``significance_level`` (:mod:`pytest_rime.engine.evidence`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from pytest_rime.engine.context import RunContext, Which
from pytest_rime.engine.data import NUMERIC
from pytest_rime.engine.datatypes.images import image_column, images_of
from pytest_rime.engine.image_embedding import MAX_ROWS, domain_auc_test, represent
from pytest_rime.engine.image_properties import PROPERTIES, properties
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.tests.drift import (
    CATEGORY,
    DRIFT_THRESHOLDS,
    STAT_CHOICES,
    STAT_PARAMS,
    drift_finding,
    measured_shift,
    series_comparison,
)
from pytest_rime.vocabulary import IMAGES

COLOUR_ONLY = ("colourfulness", "mean_red", "mean_green", "mean_blue")
"""Properties that only differ from the brightness (or zero) on colour images."""

EMBEDDING_THRESHOLDS = (0.55, 0.6, 0.7)
"""Held-out AUC of telling eval images from ref images: 0.6 means a random eval image scores
above a random ref image 60 % of the time (about a 0.35 standard-deviation shift of one normal
direction); 0.7 about 0.75 standard deviations."""


def _all_grey(ctx: RunContext) -> bool:
    channels = pd.concat([properties(ctx, "ref")["channels"], properties(ctx, "eval")["channels"]])
    return bool((channels.dropna() <= 1).all())


@register_test(
    "drift.image_property_drift",
    name="Image Property Drift",
    category=CATEGORY,
    thresholds=DRIFT_THRESHOLDS,
    description="Distribution of each image property (brightness, contrast, sharpness, size, "
    "...) in eval vs ref (PSI by default).",
    params=STAT_PARAMS,
    param_choices=STAT_CHOICES,
    data_types=(IMAGES,),
    column_drift=True,
)
def image_property_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Per image property, the shift between ref and eval (the tabular Feature Drift's statistic).

    Severity: the threshold level capped by the model importance of the image column.
    """
    ref, cur = properties(ctx, "ref"), properties(ctx, "eval")
    impact = ctx.importance.of(image_column(ctx.config))
    grey = _all_grey(ctx)
    findings = []
    for name in PROPERTIES:
        if grey and name in COLOUR_ONLY:
            findings.append(
                Finding.skip((name,), f"Every image is grey: {name!r} repeats the brightness.")
            )
            continue
        comparison = series_comparison(ctx, f"image_property:{name}", ref[name], cur[name], NUMERIC)
        shift = measured_shift(comparison, settings, ctx.rng(f"drift.image_property_drift:{name}"))
        if shift is None:
            findings.append(
                Finding.skip((name,), f"No readable image in ref or eval for {name!r}.")
            )
            continue
        finding = drift_finding(shift, comparison, (name,), f"image property {name!r}", impact)
        ref_median, eval_median = ref[name].median(), cur[name].median()
        findings.append(
            replace(
                finding,
                description=f"{finding.description} Median {ref_median:.4g} in ref, "
                f"{eval_median:.4g} in eval.",
                metrics={
                    **finding.metrics,
                    "ref_median": float(ref_median),
                    "eval_median": float(eval_median),
                },
            )
        )
    return findings


def _sample_representation(ctx: RunContext, which: Which, colour: bool) -> np.ndarray:
    """Representations of at most ``MAX_ROWS`` readable images of ``which`` (seeded sample)."""
    readable = np.flatnonzero(properties(ctx, which)["readable"].to_numpy())
    if readable.size > MAX_ROWS:
        readable = np.sort(ctx.rng(f"image_embedding:{which}").choice(readable, MAX_ROWS, False))
    frame = ctx.frame(which).iloc[readable]
    return represent(images_of(frame, image_column(ctx.config)), colour)


@register_test(
    "drift.image_embedding_drift",
    name="Image Embedding Drift",
    category=CATEGORY,
    thresholds=EMBEDDING_THRESHOLDS,
    description="How well a linear classifier on downsampled, PCA-reduced pixels tells eval "
    "images from ref images (held-out AUC; 0.5 = no drift).",
    data_types=(IMAGES,),
    column_drift=True,
)
def image_embedding_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Held-out AUC of a discriminant between ref and eval image representations.

    Representation: 8x8 grey grid (plus 4x4 channel grids for colour runs), pooled PCA;
    p-value: permutation of the ref / eval labels. Severity: the threshold level capped by
    the model importance of the image column.
    """
    column = image_column(ctx.config)
    colour = not _all_grey(ctx)
    test = domain_auc_test(
        _sample_representation(ctx, "ref", colour),
        _sample_representation(ctx, "eval", colour),
        ctx.rng("drift.image_embedding_drift"),
    )
    if test is None or not np.isfinite(test.auc):
        return [Finding.skip((column,), "Ref or eval has fewer than 4 readable images.")]
    return [
        Finding(
            features=(column,),
            statistic=test.auc,
            description=(
                f"A linear classifier on downsampled pixels ({test.components} principal "
                f"components, {test.explained:.0%} of the variance) tells eval images "
                f"from ref images with held-out AUC {test.auc:.3f} (0.5: no drift)."
            ),
            metrics={
                "auc": test.auc,
                "components": test.components,
                "explained_variance": test.explained,
                "ref_rows": test.ref_rows,
                "eval_rows": test.eval_rows,
                "p_value_method": "permutation of the ref / eval labels (classifier two-sample "
                "test)",
            },
            impact=ctx.importance.of(column),
            p_value=test.p_value,
        )
    ]
