"""Feature importance of a run, in 0..1, computed once and used to scale severities.

With a model: permutation importance measured as the model's sensitivity. On a seeded sample of
the reference rows (at most :data:`SAMPLE_ROWS`), each model feature is shuffled in turn and the
mean change of the prediction is recorded (binary: |change of the probability|; multi-class:
half the L1 change of the probability vector, or the share of changed labels; regression:
|change| divided by the standard deviation of the predictions). All shuffled copies go to the
model in ONE batched call. Scores are divided by the largest, so the most important feature has
1.0. Features not in the model score 0.

Without a model (or when the model fails): the normalised mutual information of each
(discretised) feature with the label, divided by the largest; the method says so. Without a
model and without labels there is no importance (``scores`` is empty).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pytest_rime.engine.stats import discretize, entropy, mutual_information

if TYPE_CHECKING:
    from pytest_rime.engine.context import RunContext

SAMPLE_ROWS = 2000
"""Reference rows used for permutation importance."""

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


def _permutation_importance(ctx: RunContext) -> dict[str, float]:
    rng = ctx.rng("importance")
    ref = ctx.model_input(ctx.ref)
    rows = rng.choice(len(ref), size=min(len(ref), SAMPLE_ROWS), replace=False)
    sample = ref.iloc[np.sort(rows)].reset_index(drop=True)
    copies = []
    for name in ctx.model_features:
        shuffled = sample.copy()
        shuffled[name] = sample[name].to_numpy()[rng.permutation(len(sample))]
        copies.append(shuffled)
    batch = pd.concat([sample, *copies], ignore_index=True)
    predictions = ctx.predict(batch)
    n = len(sample)
    base = predictions[:n]
    raw = {
        name: prediction_change(ctx, base, predictions[(i + 1) * n : (i + 2) * n])
        for i, name in enumerate(ctx.model_features)
    }
    return raw


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
