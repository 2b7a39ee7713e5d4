"""An offline vector representation of texts and a two-sample test on it (numpy only).

Used by the ``nlp`` embedding drift test; nothing is downloaded and no model weights are used:

- :func:`hashed_features`: word unigrams and character n-grams of each word (padded with
  spaces, so prefixes and suffixes count) hashed into ``dims`` signed buckets with a stable
  hash (CRC-32, the same in every process), sublinear counts (``log1p``), rows scaled to unit
  length. Words the model never saw still land near their spelling neighbours.
- :func:`truncated_svd`: the top singular directions of the centred matrix (a randomised range
  finder with power iterations, Halko, Martinsson and Tropp 2011), so the two-sample test
  works in a few dense dimensions where the texts actually vary.
- :func:`mmd_test`: the unbiased squared maximum mean discrepancy with a Gaussian (RBF)
  kernel (Gretton et al. 2012), bandwidth by the median heuristic on the pooled sample, and its
  permutation null: every permutation is a column of an index matrix, so the null costs one
  ``kernel @ matrix`` product.

The representation is fitted on the pooled sample of both sides, so it is the same whichever
rows are called ref and eval: the permutation null stays exact.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pytest_rime.engine.resampling import tail_p_value

FloatArray = npt.NDArray[np.float64]

WORD = re.compile(r"\w+", re.UNICODE)

DIMS = 1024
"""Hashed feature buckets."""

CHAR_NGRAM = 3
"""Length of the character n-grams of each word."""


def _bucket(feature: str, dims: int) -> tuple[int, float]:
    code = zlib.crc32(feature.encode("utf-8"))
    return code % dims, 1.0 if (code >> 31) & 1 else -1.0


def text_features(text: str, n: int = CHAR_NGRAM) -> list[str]:
    """The word unigrams (``w:``) and character n-grams (``c:``) of ``text``, lower-cased."""
    features = []
    for word in WORD.findall(text.lower()):
        features.append("w:" + word)
        padded = f" {word} "
        features.extend("c:" + padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))
    return features


def _word_buckets(word: str, dims: int, n: int) -> tuple[list[int], list[float]]:
    """Buckets and signs of a word's own feature and its character n-grams."""
    padded = f" {word} "
    features = ["w:" + word]
    features.extend("c:" + padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))
    hits = [_bucket(feature, dims) for feature in features]
    return [b for b, _ in hits], [s for _, s in hits]


def hashed_features(texts: Iterable[str], dims: int = DIMS, n: int = CHAR_NGRAM) -> FloatArray:
    """Signed hashed features of ``texts``, ``(len(texts), dims)``, rows of unit length.

    The features of a text are those of :func:`text_features`; an empty text (no word) is a
    row of zeros.
    """
    cache: dict[str, tuple[list[int], list[float]]] = {}
    rows: list[int] = []
    columns: list[int] = []
    values: list[float] = []
    count = 0
    for row, text in enumerate(texts):
        count = row + 1
        for word, times in Counter(WORD.findall(text.lower())).items():
            hit = cache.get(word)
            if hit is None:
                hit = cache[word] = _word_buckets(word, dims, n)
            rows.extend([row] * len(hit[0]))
            columns.extend(hit[0])
            values.extend(sign * times for sign in hit[1])
    flat = np.asarray(rows, dtype=np.int64) * dims + np.asarray(columns, dtype=np.int64)
    matrix = np.bincount(flat, weights=np.asarray(values, dtype=float), minlength=count * dims)
    matrix = matrix.reshape(count, dims)
    matrix = np.sign(matrix) * np.log1p(np.abs(matrix))
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled: FloatArray = np.where(norms > 0, matrix / norms, 0.0)
    return scaled


def _orthonormal(matrix: FloatArray) -> FloatArray:
    """An orthonormal basis of the columns of ``matrix`` (Cholesky-QR twice, via ``eigh``).

    Only matrix products and the eigen-decomposition of a small Gram matrix: LAPACK's QR of a
    tall matrix is many times slower on a machine whose BLAS threads are oversubscribed.
    """
    basis = matrix
    for _ in range(2):
        values, vectors = np.linalg.eigh(basis.T @ basis)
        keep = values > max(float(values.max(initial=0.0)), 1e-300) * 1e-12
        basis = (basis @ vectors[:, keep]) / np.sqrt(values[keep])
    return basis


def truncated_svd(
    matrix: FloatArray, rank: int, rng: np.random.Generator, power_iterations: int = 3
) -> FloatArray:
    """Coordinates of the rows of ``matrix`` (centred) on its top ``rank`` singular directions.

    Returns:
        ``(rows, k)`` scores ``U_k S_k`` with ``k = min(rank, rows, columns)`` (fewer when the
        centred matrix has a lower rank).
    """
    centred = matrix - matrix.mean(axis=0, keepdims=True)
    rows, columns = centred.shape
    k = max(0, min(rank, rows, columns))
    if k == 0 or not np.any(centred):
        return np.zeros((rows, 0))
    width = min(columns, rows, k + 20)
    basis = _orthonormal(centred @ rng.standard_normal((columns, width)))
    for _ in range(power_iterations):
        basis = _orthonormal(centred @ (centred.T @ basis))
    small = basis.T @ centred  # (width, columns): centred ~ basis @ small
    values, vectors = np.linalg.eigh(small @ small.T)
    order = np.argsort(values)[::-1][:k]
    order = order[values[order] > max(float(values.max()), 1e-300) * 1e-12]
    scores: FloatArray = (basis @ vectors[:, order]) * np.sqrt(values[order])
    return scores


def squared_distances(points: FloatArray) -> FloatArray:
    """Pairwise squared Euclidean distances of the rows of ``points`` (clipped at 0)."""
    norms = np.einsum("ij,ij->i", points, points)
    distances = norms[:, None] + norms[None, :] - 2 * points @ points.T
    np.fill_diagonal(distances, 0.0)
    clipped: FloatArray = np.maximum(distances, 0.0)
    return clipped


def median_bandwidth(distances: FloatArray) -> float:
    """The median heuristic: the median distance between distinct points (1.0 if all coincide)."""
    upper = distances[np.triu_indices(distances.shape[0], k=1)]
    positive = upper[upper > 0]
    return float(np.sqrt(np.median(positive))) if positive.size else 1.0


def rbf_kernel(distances: FloatArray, bandwidth: float) -> FloatArray:
    """Gaussian kernel ``exp(-d^2 / (2 h^2))`` of squared distances ``d^2``."""
    kernel: FloatArray = np.exp(-distances / (2 * bandwidth**2))
    return kernel


def mmd_squared(kernel: FloatArray, is_ref: npt.NDArray[np.bool_]) -> float:
    """Unbiased squared MMD of the ``is_ref`` rows against the others, from the kernel matrix."""
    return float(_mmd_columns(kernel, is_ref[:, None].astype(float))[0])


def _mmd_columns(kernel: FloatArray, ref_masks: FloatArray) -> FloatArray:
    """Unbiased squared MMD of each column of ``ref_masks`` (1.0 = ref row) against the rest."""
    off = kernel - np.diag(np.diag(kernel))
    eval_masks = 1.0 - ref_masks
    n = ref_masks.sum(axis=0)
    m = eval_masks.sum(axis=0)
    k_ref = off @ ref_masks
    within_ref = np.einsum("ij,ij->j", ref_masks, k_ref)
    cross = np.einsum("ij,ij->j", eval_masks, k_ref)
    within_eval = np.einsum("ij,ij->j", eval_masks, off @ eval_masks)
    with np.errstate(invalid="ignore", divide="ignore"):
        value: FloatArray = (
            within_ref / (n * (n - 1)) + within_eval / (m * (m - 1)) - 2 * cross / (n * m)
        )
    return value


@dataclass(frozen=True)
class MMDResult:
    """A two-sample MMD test: the statistic, its permutation p-value, the kernel bandwidth."""

    mmd_squared: float
    p_value: float
    bandwidth: float
    null_mean: float
    permutations: int


def mmd_test(
    ref_points: FloatArray,
    eval_points: FloatArray,
    rng: np.random.Generator,
    permutations: int = 200,
) -> MMDResult:
    """Unbiased squared MMD (RBF kernel, median heuristic) and its permutation p-value.

    The p-value is :func:`pytest_rime.engine.resampling.tail_p_value` of the observed value
    against ``permutations`` random relabellings of the pooled rows (sides of the same sizes).
    """
    points = np.vstack([ref_points, eval_points])
    n = ref_points.shape[0]
    distances = squared_distances(points)
    bandwidth = median_bandwidth(distances)
    kernel = rbf_kernel(distances, bandwidth)
    is_ref = np.arange(points.shape[0]) < n
    observed = mmd_squared(kernel, is_ref)
    order = np.argsort(rng.random((permutations, points.shape[0])), axis=1)
    masks = (order < n).T.astype(float)
    null = _mmd_columns(kernel, masks)
    return MMDResult(
        mmd_squared=observed,
        p_value=tail_p_value(null, observed),
        bandwidth=bandwidth,
        null_mean=float(np.nanmean(null)) if null.size else 0.0,
        permutations=permutations,
    )
