"""Feature importance of a run, in 0..1, computed once and used to scale severities.

With a model: permutation importance measured as the model's sensitivity. On a seeded sample of
the reference rows (at most :data:`SAMPLE_ROWS`), each model feature is shuffled in turn and the
mean change of the prediction is recorded (binary: |change of the probability|; multi-class:
half the L1 change of the probability vector, or the share of changed labels; regression:
|change| divided by the standard deviation of the predictions). All shuffled copies go to the
model in ONE batched call (more only beyond
:data:`~pytest_rime.engine.context.MAX_BATCH_CELLS` cells). Scores are divided by the largest,
so the most important feature has 1.0. Features not in the model score 0.

Wide data: one shuffled copy per feature is ``features x rows x features`` cells (2 * 10^10 at
10,000 columns and 200 rows), so beyond :data:`MAX_SHUFFLED_CELLS` cells the features are
measured by adaptive group testing instead, in at most :data:`MAX_SHUFFLED_CELLS` cells of
copies (of at most :data:`WIDE_SAMPLE_ROWS` rows): the features are split into about
``sqrt(features)`` groups and each group is shuffled at once (every feature of it with its own
permutation); a group whose shuffle changes no prediction scores 0 for all its features, a
group that changes them is halved and its halves measured again, down to single features
(scored as above). What it can miss: a group whose features' effects cancel exactly scores 0;
and when the budget runs out before every changing group is down to one feature (a model that
uses thousands of features), each feature of a remaining group gets the group's score, an
overestimate for the features the model ignores. The log says when that happens.

Without a model (or when the model fails): the normalised mutual information of each
(discretised) feature with the label, divided by the largest; the method says so. Without a
model and without labels there is no importance (``scores`` is empty).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pytest_rime.engine.stats import discretize, entropy, mutual_information

if TYPE_CHECKING:
    from pytest_rime.engine.context import RunContext

SAMPLE_ROWS = 2000
"""Reference rows used for permutation importance."""

MAX_SHUFFLED_CELLS = 2**29
"""Cells (rows x columns) of shuffled copies from which features are measured in groups."""

WIDE_SAMPLE_ROWS = 200
"""Reference rows of each shuffled copy when the features are measured in groups."""

PERMUTATION = "permutation (prediction change)"
LABEL_MI = "mutual information with the label (no model)"
NONE = "none (no model and no labels)"


@dataclass(frozen=True)
class Importance:
    """Importance per feature (0..1) and how it was measured."""

    scores: Mapping[str, float]
    method: str

    def of(self, feature: str) -> float | None:
        """Importance of ``feature``, or ``None`` when unknown."""
        return self.scores.get(feature)

    def of_any(self, features: tuple[str, ...]) -> float | None:
        """Largest importance among ``features`` (``None`` when none is known)."""
        known = [s for f in features if (s := self.scores.get(f)) is not None]
        return max(known) if known else None


def _normalised(raw: Mapping[str, float]) -> dict[str, float]:
    top = max(raw.values(), default=0.0)
    if not np.isfinite(top) or top <= 0:
        return dict.fromkeys(raw, 0.0)
    return {name: float(np.clip(value / top, 0.0, 1.0)) for name, value in raw.items()}


def prediction_change(ctx: RunContext, base: np.ndarray, changed: np.ndarray) -> float:
    """Mean change between two normal-form prediction arrays of the same rows (module doc)."""
    if base.ndim == 2:
        return float(np.mean(np.abs(base - changed).sum(axis=1)) / 2)
    if not np.issubdtype(base.dtype, np.number):
        return float(np.mean(base != changed))
    delta = float(np.mean(np.abs(base - changed)))
    if ctx.model_task == "Regression":
        scale = float(np.std(base))
        return delta / scale if scale > 0 else 0.0
    return delta


def _shuffle_changes(
    ctx: RunContext,
    sample: pd.DataFrame,
    groups: Sequence[Sequence[str]],
    rng: np.random.Generator,
    base: np.ndarray | None = None,
) -> tuple[list[float], np.ndarray]:
    """Prediction change of shuffling each group of features of ``sample`` (each its own copy).

    ``base`` (the sample's predictions) is predicted in the same batch when not given.
    Returns the changes and ``base``.
    """
    n = len(sample)

    def copies() -> Iterator[pd.DataFrame]:
        if base is None:
            yield sample
        for group in groups:
            shuffled = sample.copy()
            for name in group:
                shuffled[name] = sample[name].to_numpy()[rng.permutation(n)]
            yield shuffled

    predictions = ctx.predict_batches(copies())
    if base is None:
        base, predictions = predictions[:n], predictions[n:]
    changes = [
        prediction_change(ctx, base, predictions[i * n : (i + 1) * n]) for i in range(len(groups))
    ]
    return changes, base


def _permutation_importance(ctx: RunContext) -> dict[str, float]:
    rng = ctx.rng("importance")
    ref = ctx.model_input(ctx.ref)
    features = ctx.model_features
    rows = rng.choice(len(ref), size=min(len(ref), SAMPLE_ROWS), replace=False)
    if len(rows) * len(features) * (len(features) + 1) > MAX_SHUFFLED_CELLS:
        return _group_importance(ctx, ref.iloc[np.sort(rows[:WIDE_SAMPLE_ROWS])], rng)
    sample = ref.iloc[np.sort(rows)].reset_index(drop=True)
    changes, _ = _shuffle_changes(ctx, sample, [(name,) for name in features], rng)
    return dict(zip(features, changes, strict=True))


def _group_importance(
    ctx: RunContext, sample: pd.DataFrame, rng: np.random.Generator
) -> dict[str, float]:
    """Permutation importance of many features by adaptive group testing (module doc)."""
    sample = sample.reset_index(drop=True)
    features = list(ctx.model_features)
    budget = max(1, MAX_SHUFFLED_CELLS // (len(sample) * len(features)))
    size = max(1, math.ceil(len(features) / min(math.isqrt(len(features)), budget // 2 or 1)))
    groups = [features[start : start + size] for start in range(0, len(features), size)]
    changes, base = _shuffle_changes(ctx, sample, groups, rng)
    used = len(groups)
    scores: dict[str, float] = {}
    while True:
        split: list[list[str]] = []
        for group, change in zip(groups, changes, strict=True):
            if len(group) == 1 or change == 0:
                scores.update(dict.fromkeys(group, change))
            else:
                half = len(group) // 2
                split += [group[:half], group[half:]]
        if not split:
            return scores
        if used + len(split) > budget:
            unresolved = [
                (group, change)
                for group, change in zip(groups, changes, strict=True)
                if len(group) > 1 and change != 0
            ]
            for group, change in unresolved:
                scores.update(dict.fromkeys(group, change))
            ctx.log(
                f"permutation importance: {sum(len(g) for g, _ in unresolved)} features in "
                f"{len(unresolved)} groups score their group's change (budget of {budget} "
                "shuffled copies reached)"
            )
            return scores
        groups = split
        changes, _ = _shuffle_changes(ctx, sample, groups, rng, base)
        used += len(groups)


def label_dependence(ctx: RunContext, feature: str) -> float:
    """Mutual information of ``feature`` with the label on ref, divided by the label entropy.

    Numbers are binned at reference deciles (see :func:`~pytest_rime.engine.stats.discretize`).
    Cached per feature: the importance fallback and the leakage test share it.
    """

    def compute() -> float:
        y, h_y = ctx.memo("label_codes", lambda: _label_codes(ctx))
        if h_y == 0:
            return 0.0
        return mutual_information(discretize(ctx.ref[feature]), y) / h_y

    return ctx.memo(f"label_dependence:{feature}", compute)


def _label_codes(ctx: RunContext) -> tuple[np.ndarray, float]:
    y = discretize(ctx.labels("ref"))
    return y, entropy(y)


def compute_importance(ctx: RunContext) -> Importance:
    """Importance of every feature of ``ctx`` (see the module docstring)."""
    if ctx.has_model and ctx.model_features and len(ctx.ref):
        try:
            raw = _permutation_importance(ctx)
        except MemoryError:  # the worker reports it as OOMKILLED
            raise
        except Exception as exc:  # a failing model falls back to the label dependence
            ctx.log(f"permutation importance failed ({exc!r}); using the label dependence")
        else:
            scores = _normalised(raw)
            scores.update({name: 0.0 for name in ctx.feature_names if name not in scores})
            return Importance(scores=scores, method=PERMUTATION)
    if ctx.label_col is not None and ctx.label_col in ctx.ref.columns and len(ctx.ref):
        raw = {name: label_dependence(ctx, name) for name in ctx.feature_names}
        return Importance(scores=_normalised(raw), method=LABEL_MI)
    return Importance(scores={}, method=NONE)
