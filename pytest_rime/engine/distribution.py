"""The ref vs eval distribution a drift case carries for its chart: ``metrics["distribution"]``.

``{"labels": [...], "ref": [shares], "eval": [shares]}``: one label per category or bin, the
share of each side's non-null values that falls in it (each side sums to 1). It is small (at
most :data:`MAX_LABELS` labels) and built from the counts the drift statistic compares, so the
chart shows what was measured:

- discrete columns (categories, booleans, numbers with few values): one label per value; when
  there are more than :data:`MAX_LABELS`, the most frequent in ref and eval together keep
  theirs and the rest are summed as :data:`OTHER`. Categories are ordered by that frequency,
  numbers by value;
- continuous columns: one label per reference-decile bin, ``"<= 1.5"``, ``"(1.5, 3.2]"``,
  ``"> 9.1"`` (the bins are closed on the right, as
  :func:`~pytest_rime.engine.stats.bin_counts` counts them), numbers with the fewest
  significant digits (at least 4) that keep the edges apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from pytest_rime.engine.profile import FeatureProfile
from pytest_rime.engine.stats import aligned_counts

MAX_LABELS = 20
"""Most labels a distribution has (:data:`OTHER` included)."""

OTHER = "(other)"
"""Label of the values summed together beyond the :data:`MAX_LABELS` most frequent ones."""

SHARE_DECIMALS = 6
"""Decimals kept of each share."""

Distribution = dict[str, list[str] | list[float]]
"""``{"labels": [...], "ref": [...], "eval": [...]}``."""


def compact_numbers(values: Sequence[float]) -> list[str]:
    """``values`` as text with the fewest significant digits (at least 4) keeping them apart."""
    for digits in range(4, 18):
        texts = [f"{value:.{digits}g}" for value in values]
        if len(set(texts)) == len(set(values)):
            return texts
    return [repr(float(value)) for value in values]


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Labels of the bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)`` of interior ``edges``."""
    if not len(edges):
        return ["all values"]
    texts = compact_numbers(list(edges))
    inner = [f"({low}, {high}]" for low, high in pairwise(texts)]
    return [f"<= {texts[0]}", *inner, f"> {texts[-1]}"]


def _shares(counts: npt.NDArray[np.float64]) -> list[float]:
    return [round(float(share), SHARE_DECIMALS) for share in counts / counts.sum()]


def shares(
    labels: Sequence[str], ref_counts: npt.ArrayLike, eval_counts: npt.ArrayLike
) -> Distribution | None:
    """The distribution of aligned counts, ``labels`` kept in their order.

    ``None`` when a side has no values.
    """
    ref = np.asarray(ref_counts, dtype=float)
    cur = np.asarray(eval_counts, dtype=float)
    if not ref.sum() or not cur.sum():
        return None
    return {"labels": list(labels), "ref": _shares(ref), "eval": _shares(cur)}


def top_shares(
    labels: Sequence[str],
    ref_counts: npt.ArrayLike,
    eval_counts: npt.ArrayLike,
    *,
    by_frequency: bool = True,
    rest: tuple[float, float] = (0.0, 0.0),
) -> Distribution | None:
    """The distribution of per-value counts, at most :data:`MAX_LABELS` labels.

    With more values, the ``MAX_LABELS - 1`` most frequent in ref and eval together (by their
    shares) keep their label and the rest are summed as :data:`OTHER` (last), with ``rest``:
    the ref and eval counts of values that have no label of their own. Labels are ordered by
    that frequency (``by_frequency``), else kept in the given order. ``None`` when a side has
    no values.
    """
    ref = np.asarray(ref_counts, dtype=float)
    cur = np.asarray(eval_counts, dtype=float)
    ref_total, eval_total = ref.sum() + rest[0], cur.sum() + rest[1]
    pooled = ref / max(ref_total, 1.0) + cur / max(eval_total, 1.0)
    frequent = np.argsort(-pooled, kind="stable")
    room = MAX_LABELS if len(labels) <= MAX_LABELS and not any(rest) else MAX_LABELS - 1
    kept = frequent[:room] if by_frequency else np.sort(frequent[:room])
    names = [labels[i] for i in kept]
    ref_kept, eval_kept = ref[kept], cur[kept]
    if len(kept) < len(labels) or any(rest):
        names.append(OTHER)
        ref_kept = np.append(ref_kept, ref_total - ref_kept.sum())
        eval_kept = np.append(eval_kept, eval_total - eval_kept.sum())
    return shares(names, ref_kept, eval_kept)


def profile_distribution(profile: FeatureProfile) -> Distribution | None:
    """The distribution of a column's profile: per value (discrete) or per reference bin.

    ``None`` for a column with neither (text) or a side without values.
    """
    if profile.ref_counts is not None and profile.eval_counts is not None:
        values, ref, cur = aligned_counts(profile.ref_counts, profile.eval_counts)
        if profile.info.is_categorical:
            return top_shares([str(v) for v in values], ref, cur)
        order = np.argsort(np.asarray(values, dtype=float), kind="stable")
        numbers = [float(values[i]) for i in order]
        return top_shares(compact_numbers(numbers), ref[order], cur[order], by_frequency=False)
    if profile.numeric is not None:
        numeric = profile.numeric
        return shares(bin_labels(list(numeric.edges)), numeric.ref_bins, numeric.eval_bins)
    return None
