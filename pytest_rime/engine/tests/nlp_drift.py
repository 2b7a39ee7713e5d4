"""Drift tests of texts (``nlp``): length, tokens, out-of-vocabulary rate and an embedding.

Each case is about the text column and carries its model importance as impact (as feature
drift does), so a shift of texts a model ignores is at most LOW. Label drift and prediction
drift of text runs are the shared tests of :mod:`pytest_rime.engine.tests.drift`.

Evidence: every case has a p-value whose null is "ref and eval texts are one population":

- length: the drift statistic's own test (chi-squared of the binned counts for PSI,
  Kolmogorov-Smirnov for KS; :mod:`pytest_rime.engine.drift_statistics`);
- tokens: a permutation test over TEXTS (tokens of one text are not independent, so a
  chi-squared test of token counts would see drift in every clean split);
- out-of-vocabulary rate: the randomisation distribution of a difference of means, with each
  reference text's rate measured against the vocabulary of the OTHER reference texts, so ref and
  eval texts are judged alike;
- embedding: a permutation test of the squared MMD (:mod:`pytest_rime.engine.text_representation`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pandas as pd

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.data import NUMERIC, FeatureInfo
from pytest_rime.engine.distribution import top_shares
from pytest_rime.engine.drift_statistics import Comparison
from pytest_rime.engine.profile import compute_profile
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.resampling import tail_p_value
from pytest_rime.engine.results import JSONValue
from pytest_rime.engine.stats import normal_p_value, psi, split_mean_difference_sd
from pytest_rime.engine.tests.drift import (
    CATEGORY,
    DRIFT_THRESHOLDS,
    STAT_CHOICES,
    STAT_PARAMS,
    drift_finding,
    measured_shift,
)
from pytest_rime.engine.text import (
    eval_oov_rates,
    reference_oov_rates,
    text_col,
    texts,
    tokens,
)
from pytest_rime.engine.text_representation import hashed_features, mmd_test, truncated_svd
from pytest_rime.vocabulary import NLP

PERMUTATIONS = 200
"""Random relabellings of the pooled texts in the permutation tests."""
TOKEN_THRESHOLDS = (0.03, 0.06, 0.12)
"""Excess token PSI: clean random splits give about 0 (the excess over random splits); eval
news drawn from two of the five BBC topics gives 0.16, a source change (tweets against product
reviews) far more. Sampling noise cannot reach MEDIUM: that needs the permutation evidence."""
EMBEDDING_THRESHOLDS = (0.002, 0.005, 0.015)
"""Squared MMD in the 20-component embedding: clean splits give 0 +- 0.0005; eval news of two
of the five BBC topics 0.018, the synthetic topic shift of the tests 0.07, topics 0-2 against
3-4 0.12."""


def _impact(ctx: RunContext) -> float | None:
    return ctx.importance.of(text_col(ctx))


def _no_text(ctx: RunContext) -> Finding | None:
    if not len(ctx.ref) or not len(ctx.eval):
        return Finding.skip((text_col(ctx),), "Ref or eval has no texts.")
    return None


@register_test(
    "drift.text_length_drift",
    name="Text Length Drift",
    category=CATEGORY,
    thresholds=DRIFT_THRESHOLDS,
    description="Distribution of text lengths (characters) in eval vs ref (PSI by default).",
    params=STAT_PARAMS,
    param_choices=STAT_CHOICES,
    data_types=(NLP,),
    column_drift=True,
)
def text_length_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Shift of the number of characters per text, by the drift statistics of tabular features.

    Severity: the threshold level capped by the text column's model importance.
    """
    column = text_col(ctx)
    skipped = _no_text(ctx)
    if skipped is not None:
        return [skipped]
    ref = texts(ctx, "ref").str.len().astype(float)
    cur = texts(ctx, "eval").str.len().astype(float)
    key = f"{column} length"
    info = FeatureInfo(name=key, type=NUMERIC, value_kind="int", in_model=False)
    profile = compute_profile(info, ref.to_frame(key), cur.to_frame(key))
    comparison = Comparison(profile, ref, cur)
    shift = measured_shift(comparison, settings, ctx.rng("drift.text_length_drift"))
    if shift is None:
        return [Finding.skip((column,), "Ref or eval has no texts.")]
    what = f"the length of {column!r} (characters)"
    finding = drift_finding(shift, comparison, (column,), what, _impact(ctx))
    ref_median, eval_median = float(ref.median()), float(cur.median())
    return [
        replace(
            finding,
            description=f"{finding.description} Median length {ref_median:.0f} in ref, "
            f"{eval_median:.0f} in eval.",
            metrics={
                **finding.metrics,
                "ref_median_length": ref_median,
                "eval_median_length": eval_median,
            },
        )
    ]


def _document_term_counts(all_tokens: list[list[str]], vocabulary: list[str]) -> np.ndarray:
    """``(texts, len(vocabulary) + 1)`` token counts; the last column counts every other token."""
    index = {token: i for i, token in enumerate(vocabulary)}
    other = len(vocabulary)
    counts = np.zeros((len(all_tokens), other + 1))
    for row, words in enumerate(all_tokens):
        for word in words:
            counts[row, index.get(word, other)] += 1
    return counts


@register_test(
    "drift.token_drift",
    name="Token Distribution Drift",
    category=CATEGORY,
    thresholds=TOKEN_THRESHOLDS,
    description="Frequencies of the most frequent tokens in eval vs ref (PSI beyond chance).",
    params={"top_tokens": 1000, "max_rows": 5000},
    data_types=(NLP,),
    column_drift=True,
)
def token_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """PSI of the token distribution over the ``top_tokens`` most frequent tokens (pooled).

    Tokens outside the top ones share one bucket. Statistic: the PSI in excess of its mean over
    random splits of the pooled texts (PSI of a sparse distribution is biased upwards on small
    samples); p-value: permutation of whole texts between the sides (at most ``max_rows`` texts
    a side, sampled). Severity: the threshold level capped by the text column's importance.
    """
    column = text_col(ctx)
    skipped = _no_text(ctx)
    if skipped is not None:
        return [skipped]
    rng = ctx.rng("drift.token_drift")
    limit = int(settings.params["max_rows"])
    sides = []
    for which in ("ref", "eval"):
        series = texts(ctx, which)
        if len(series) > limit:
            series = series.iloc[np.sort(rng.choice(len(series), limit, replace=False))]
        sides.append([tokens(text) for text in series])
    pooled = Counter(word for side in sides for words in side for word in words)
    if not pooled:
        return [Finding.skip((column,), "No text of ref or eval has a word token.")]
    vocabulary = [w for w, _ in pooled.most_common(int(settings.params["top_tokens"]))]
    counts = _document_term_counts(sides[0] + sides[1], vocabulary)
    n_ref = len(sides[0])
    is_ref = np.arange(counts.shape[0]) < n_ref
    ref_totals, eval_totals = counts[is_ref].sum(axis=0), counts[~is_ref].sum(axis=0)
    if not ref_totals.sum() or not eval_totals.sum():
        return [Finding.skip((column,), "Ref or eval has no word tokens.")]
    observed = psi(ref_totals, eval_totals)
    order = np.argsort(rng.random((PERMUTATIONS, counts.shape[0])), axis=1)
    masks = (order < n_ref).astype(float)  # (draws, texts): 1.0 = the text goes to ref
    ref_draws = masks @ counts
    eval_draws = counts.sum(axis=0)[None, :] - ref_draws
    null = np.array([psi(r, e) for r, e in zip(ref_draws, eval_draws, strict=True)])
    null_mean = float(np.mean(null))
    excess = max(0.0, observed - null_mean)
    p_value = tail_p_value(null, observed)
    ref_share = ref_totals / ref_totals.sum()
    eval_share = eval_totals / eval_totals.sum()
    change = eval_share[:-1] - ref_share[:-1]
    top = np.argsort(-np.abs(change))[:5]
    moved = [
        {
            "token": vocabulary[i],
            "ref_share": float(ref_share[i]),
            "eval_share": float(eval_share[i]),
        }
        for i in top
    ]
    shown = ", ".join(
        f"{m['token']!r} {m['ref_share']:.1%} -> {m['eval_share']:.1%}" for m in moved[:3]
    )
    return [
        Finding(
            (column,),
            excess,
            f"PSI of the {len(vocabulary)} most frequent tokens of {column!r} between ref and "
            f"eval is {observed:.3f} ({null_mean:.3f} between random splits of the same texts); "
            f"most moved: {shown}.",
            {
                "psi": observed,
                "psi_random_split_mean": null_mean,
                "psi_excess": excess,
                "top_tokens": len(vocabulary),
                "p_value_method": f"permutation of texts ({PERMUTATIONS} draws)",
                "moved_tokens": moved,
                **_token_distribution(vocabulary, ref_totals, eval_totals),
            },
            impact=_impact(ctx),
            p_value=p_value,
        )
    ]


def _token_distribution(
    vocabulary: list[str], ref_totals: np.ndarray, eval_totals: np.ndarray
) -> dict[str, JSONValue]:
    """``{"distribution": ...}`` of the most frequent tokens (the last totals: other tokens)."""
    distribution = top_shares(
        vocabulary,
        ref_totals[:-1],
        eval_totals[:-1],
        rest=(float(ref_totals[-1]), float(eval_totals[-1])),
    )
    return {} if distribution is None else {"distribution": distribution}


@register_test(
    "drift.oov_rate_drift",
    name="Out-of-Vocabulary Rate Drift",
    category=CATEGORY,
    thresholds=(0.02, 0.05, 0.1),
    description="Increase of the share of tokens unseen in ref, eval texts vs ref texts.",
    data_types=(NLP,),
    column_drift=True,
)
def oov_rate_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Mean per-text out-of-vocabulary rate of eval minus that of ref (ref texts left out).

    A reference text's rate counts the tokens no other reference text has, so a clean split
    gives about 0. P-value: one-sided, by the randomisation distribution of the difference of
    means over the pooled texts. Severity: the threshold level capped by the text column's
    importance.
    """
    column = text_col(ctx)
    skipped = _no_text(ctx)
    if skipped is not None:
        return [skipped]
    ref_rates, eval_rates = reference_oov_rates(ctx), eval_oov_rates(ctx)
    ref_rates, eval_rates = ref_rates[~np.isnan(ref_rates)], eval_rates[~np.isnan(eval_rates)]
    if not ref_rates.size or not eval_rates.size:
        return [Finding.skip((column,), "Ref or eval has no text with a word token.")]
    ref_mean, eval_mean = float(ref_rates.mean()), float(eval_rates.mean())
    difference = eval_mean - ref_mean
    spread = split_mean_difference_sd(
        np.concatenate([ref_rates, eval_rates]), ref_rates.size, eval_rates.size
    )
    p_value = normal_p_value(difference, spread)
    return [
        Finding(
            (column,),
            max(0.0, difference),
            f"Eval texts of {column!r} have {eval_mean:.1%} of their tokens unseen in ref, ref "
            f"texts {ref_mean:.1%} unseen in the other ref texts.",
            {
                "eval_oov_rate": eval_mean,
                "ref_oov_rate": ref_mean,
                "difference": difference,
                "p_value_method": "randomisation distribution of the difference of means",
            },
            impact=_impact(ctx),
            p_value=p_value,
        )
    ]


@register_test(
    "drift.embedding_drift",
    name="Text Embedding Drift",
    category=CATEGORY,
    thresholds=EMBEDDING_THRESHOLDS,
    description="Two-sample MMD test of eval vs ref texts in a hashed n-gram + SVD embedding.",
    params={"max_rows": 1000, "components": 20, "dims": 1024},
    data_types=(NLP,),
    column_drift=True,
)
def embedding_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Unbiased squared MMD (RBF kernel) between ref and eval texts in an offline embedding.

    Texts (at most ``max_rows`` a side, sampled) become hashed word and character 3-gram
    features (``dims`` buckets), reduced to ``components`` dimensions by a truncated SVD of the
    pooled sample; the p-value is a permutation test of the MMD. Severity: the threshold level
    capped by the text column's importance.
    """
    column = text_col(ctx)
    skipped = _no_text(ctx)
    if skipped is not None:
        return [skipped]
    params = settings.params
    rng = ctx.rng("drift.embedding_drift")
    limit = int(params["max_rows"])
    sampled: list[pd.Series] = []
    for which in ("ref", "eval"):
        series = texts(ctx, which)
        if len(series) > limit:
            series = series.iloc[np.sort(rng.choice(len(series), limit, replace=False))]
        sampled.append(series)
    if min(len(sampled[0]), len(sampled[1])) < 2:
        return [Finding.skip((column,), "Ref or eval has fewer than 2 texts.")]
    features = hashed_features(
        [*sampled[0].tolist(), *sampled[1].tolist()], dims=int(params["dims"])
    )
    points = truncated_svd(features, int(params["components"]), rng)
    n_ref = len(sampled[0])
    result = mmd_test(points[:n_ref], points[n_ref:], rng, PERMUTATIONS)
    value = max(0.0, result.mmd_squared)
    return [
        Finding(
            (column,),
            value,
            f"Squared MMD between ref and eval texts of {column!r} in a hashed n-gram embedding "
            f"({points.shape[1]} SVD components, {n_ref} and {len(sampled[1])} texts) is "
            f"{result.mmd_squared:.4f} ({result.null_mean:.4f} between random splits).",
            {
                "mmd_squared": result.mmd_squared,
                "mmd_random_split_mean": result.null_mean,
                "bandwidth": result.bandwidth,
                "components": int(points.shape[1]),
                "ref_rows_sampled": n_ref,
                "eval_rows_sampled": len(sampled[1]),
                "p_value_method": f"permutation ({result.permutations} draws)",
            },
            impact=_impact(ctx),
            p_value=result.p_value,
        )
    ]
