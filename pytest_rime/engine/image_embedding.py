"""An offline representation of images and a two-sample test on it (no downloaded weights).

**Representation** (:func:`represent`): each image shrunk by area averaging to an ``8x8`` grid
of grey levels (0..1, 64 values); when any image of the run has colour, also a ``4x4`` grid of
each channel's mean (48 values; a grey image repeats its grey levels there). Images of any
size map to vectors of one length.

**Reduction** (:func:`fit_pca`): principal components of the pooled ref and eval samples (at
most :data:`MAX_ROWS` rows each), by numpy's SVD of the centred matrix. Pooled, not ref alone:
components fitted on ref describe ref better than any new sample (eval would look "drifted" by
overfitting alone), while a reduction that treats every row alike keeps the permutation test
exact; the first components that
explain :data:`EXPLAINED` of the variance (at most :data:`MAX_COMPONENTS`) are kept.

**Two-sample test** (:func:`domain_auc`): a classifier two-sample test. The pooled ref and eval
vectors (projected) are split into two folds; on each fold a Fisher linear discriminant
(ridge-regularised within-class covariance) is fitted to tell eval from ref, and it scores the
other fold. The statistic is the ROC AUC of those held-out scores (Mann-Whitney, ties half):
0.5 when eval looks like ref, 1.0 when every eval image is told apart. Its p-value
(:func:`domain_auc_test`) is a permutation test: the ref / eval labels are shuffled, the same
folds refitted, :data:`PERMUTATIONS` times, and the tail is read by
:func:`~pytest_rime.engine.resampling.tail_p_value` (extrapolated beyond the draws).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from pytest_rime.engine.resampling import tail_p_value

FloatArray = npt.NDArray[np.float64]

GREY_SIDE = 8
"""Side of the grey-level grid."""

COLOUR_SIDE = 4
"""Side of each channel's grid (colour runs only)."""

MAX_ROWS = 1000
"""Rows of ref (and of eval) the test uses at most (a seeded random sample beyond)."""

EXPLAINED = 0.9
"""Share of the reference variance the kept components explain."""

MAX_COMPONENTS = 10
"""Principal components kept at most."""

PERMUTATIONS = 200
"""Label permutations of the p-value."""

RIDGE = 1e-3
"""Ridge added to the within-class covariance, relative to its mean diagonal."""


def _grid(level: np.ndarray, side: int) -> FloatArray:
    """``level`` (h, w) area-averaged onto a ``side x side`` grid."""
    from PIL import Image

    image = Image.fromarray(level.astype(np.float32))  # mode "F"
    small = image.resize((side, side), Image.Resampling.BOX)
    return np.asarray(small, dtype=float).ravel()


def represent(images: Sequence[np.ndarray], colour: bool) -> FloatArray:
    """One row per image: the grey grid and, when ``colour``, the channel grids (scaled 0..1)."""
    rows = []
    for pixels in images:
        values = pixels.astype(float) / 255.0
        grey = values @ np.array([0.299, 0.587, 0.114]) if values.ndim == 3 else values
        parts = [_grid(grey, GREY_SIDE)]
        if colour:
            channels = [values[:, :, i] for i in range(3)] if values.ndim == 3 else [grey] * 3
            parts.extend(_grid(channel, COLOUR_SIDE) for channel in channels)
        rows.append(np.concatenate(parts))
    width = GREY_SIDE**2 + (3 * COLOUR_SIDE**2 if colour else 0)
    return np.vstack(rows) if rows else np.empty((0, width))


@dataclass(frozen=True)
class PCA:
    """Principal components fitted on a reference sample."""

    mean: FloatArray
    components: FloatArray
    explained: FloatArray

    def project(self, vectors: FloatArray) -> FloatArray:
        """Coordinates of ``vectors`` on the kept components."""
        projected: FloatArray = (vectors - self.mean) @ self.components.T
        return projected

    def residual(self, vectors: FloatArray) -> FloatArray:
        """Distance of each of ``vectors`` from the subspace of the kept components."""
        centred = vectors - self.mean
        rest = centred - self.project(vectors) @ self.components
        distance: FloatArray = np.linalg.norm(rest, axis=1)
        return distance

    def coordinates(self, vectors: FloatArray) -> FloatArray:
        """The projection and, as one more coordinate, the residual distance."""
        return np.column_stack([self.project(vectors), self.residual(vectors)])


def fit_pca(
    sample: FloatArray, explained: float = EXPLAINED, max_components: int = MAX_COMPONENTS
) -> PCA:
    """Components of ``sample`` explaining ``explained`` of its variance (at most ``max_...``).

    ``explained`` in the result holds each kept component's share of the variance. A constant
    sample keeps one (zero) component.
    """
    mean = sample.mean(axis=0)
    _, singular, vt = np.linalg.svd(sample - mean, full_matrices=False)
    variance = singular**2
    total = float(variance.sum())
    if total <= 0:
        return PCA(mean, np.zeros((1, sample.shape[1])), np.zeros(1))
    shares = variance / total
    keep = int(np.searchsorted(np.cumsum(shares), explained - 1e-12) + 1)
    keep = max(1, min(keep, max_components, vt.shape[0]))
    return PCA(mean, vt[:keep], shares[:keep])


def auc(scores: FloatArray, positive: npt.NDArray[np.bool_]) -> float:
    """ROC AUC of ``scores`` for ``positive`` rows (Mann-Whitney U, ties count half)."""
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(scores)
    u = float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def _discriminant(
    x: FloatArray, positive: npt.NDArray[np.bool_], relative_ridge: float = RIDGE
) -> tuple[FloatArray, FloatArray]:
    """Fisher's direction ``S_w^-1 (mean_pos - mean_neg)`` (small ridge) and the midpoint.

    A row's score is ``(row - midpoint) @ direction``: the linear discriminant with equal
    priors, so the scores of the two folds are on one scale when pooled.
    """
    pos, neg = x[positive], x[~positive]
    centred = np.vstack([pos - pos.mean(axis=0), neg - neg.mean(axis=0)])
    within = centred.T @ centred / max(1, x.shape[0] - 2)
    ridge = relative_ridge * max(float(np.trace(within)) / within.shape[0], 1e-12)
    direction: FloatArray = np.linalg.solve(
        within + ridge * np.eye(within.shape[0]), pos.mean(axis=0) - neg.mean(axis=0)
    )
    return direction, (pos.mean(axis=0) + neg.mean(axis=0)) / 2


def domain_auc(
    x: FloatArray,
    is_eval: npt.NDArray[np.bool_],
    folds: npt.NDArray[np.int64],
    ridge: float = RIDGE,
) -> float:
    """AUC of held-out discriminant scores telling eval rows from ref rows (module doc).

    Args:
        x: One row per image (projected representation), ref and eval pooled.
        is_eval: True for the eval rows.
        folds: 0 or 1 per row; each fold is scored by the discriminant fitted on the other.
        ridge: The ridge added to the within-class covariance, relative to its mean diagonal.
    """
    scores = np.empty(x.shape[0])
    for fold in (0, 1):
        train, test = folds != fold, folds == fold
        labels = is_eval[train]
        if labels.all() or not labels.any():
            return float("nan")
        direction, midpoint = _discriminant(x[train], labels, ridge)
        scores[test] = (x[test] - midpoint) @ direction
    return auc(scores, is_eval)


@dataclass(frozen=True)
class DomainTest:
    """The classifier two-sample test of ref vs eval representations."""

    auc: float
    p_value: float
    components: int
    explained: float
    ref_rows: int
    eval_rows: int


def _folds(is_eval: npt.NDArray[np.bool_], rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Two folds, each holding half of the ref rows and half of the eval rows."""
    folds = np.zeros(is_eval.size, dtype=np.int64)
    for side in (True, False):
        rows = np.flatnonzero(is_eval == side)
        folds[rng.permutation(rows)[: rows.size // 2]] = 1
    return folds


def domain_auc_test(
    ref: FloatArray, cur: FloatArray, rng: np.random.Generator, permutations: int = PERMUTATIONS
) -> DomainTest | None:
    """PCA on the pooled rows, then the domain AUC and its permutation p-value (module docstring).

    ``ref`` and ``cur`` are representations (:func:`represent`), already sampled to at most
    :data:`MAX_ROWS` rows. ``None`` when a side has fewer than 4 rows.
    """
    if ref.shape[0] < 4 or cur.shape[0] < 4:
        return None
    pca = fit_pca(np.vstack([ref, cur]))
    x = np.vstack([pca.coordinates(ref), pca.coordinates(cur)])
    is_eval = np.r_[np.zeros(ref.shape[0], bool), np.ones(cur.shape[0], bool)]
    folds = _folds(is_eval, rng)
    observed = domain_auc(x, is_eval, folds)
    null = np.array(
        [domain_auc(x, is_eval[rng.permutation(is_eval.size)], folds) for _ in range(permutations)]
    )
    return DomainTest(
        auc=observed,
        p_value=tail_p_value(null, observed),
        components=int(pca.components.shape[0]),
        explained=float(pca.explained.sum()),
        ref_rows=int(ref.shape[0]),
        eval_rows=int(cur.shape[0]),
    )
