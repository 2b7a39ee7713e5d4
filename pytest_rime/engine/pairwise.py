"""Feature x feature statistics in memory that grows linearly with the number of columns.

A pairwise statistic of ``p`` columns has ``p * (p - 1) / 2`` values: 50 million at 10,000
columns, 400 MB as one float64 matrix before any mask or copy. Here the pairs are visited in
blocks of :data:`BLOCK_COLUMNS` columns and only the pairs a test reports are kept, at most
:data:`MAX_REPORTED_PAIRS` of them (a running top-K by strength), so the memory is the data
(``rows x p``), one block pair and the kept pairs.

Bounds and what they can miss (also in the docstrings of the tests that use them):

- :func:`strong_correlations` computes EVERY pair exactly (the same Pearson / Spearman numbers
  as the whole matrix); nothing is screened out. When more than :data:`MAX_REPORTED_PAIRS`
  pairs reach the threshold only the strongest are kept: the weaker pairs above the threshold
  are not reported, and :attr:`StrongPairs.total` counts them all. With at most
  :data:`BLOCK_COLUMNS` columns the whole matrix is one block, computed as before.
- :func:`unseen_pairs` checks EVERY pair of categorical features exactly (one feature against
  a block of :data:`BLOCK_COLUMNS` at a time: rows x block integers); beyond
  :data:`MAX_REPORTED_PAIRS` flagged pairs only those with the most flagged rows are kept, and
  :attr:`UnseenPairs.total` counts them all.

Time still grows with the square of the width (every pair is visited), in vectorised blocks:
for 8,500 numeric and 1,500 categorical columns of 200 rows, High Feature Correlation took
1.2 s and Inconsistencies 5.8 s (with the model impact of its 1,000 cases).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

BLOCK_COLUMNS = 512
"""Columns per block: a block pair of correlations is ``BLOCK_COLUMNS ** 2`` floats (2 MB)."""

MAX_REPORTED_PAIRS = 1000
"""Most pairs a pairwise test reports (the strongest ones): the kept pairs' memory bound."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Blocks = Iterator[tuple[IntArray, IntArray, FloatArray]]
"""``(row positions, column positions, the statistic of those rows x columns)``."""


@dataclass(frozen=True)
class StrongPairs:
    """Pairs of columns whose |statistic| reaches a threshold.

    Attributes:
        pairs: ``(i, j, value)`` with column positions ``i < j`` and the signed value, in
            ``(i, j)`` order; the strongest :data:`MAX_REPORTED_PAIRS` (or ``max_pairs``) only.
        total: Pairs that reached the threshold, reported or not.
        top: The largest finite |value| over all pairs (0.0 without any).
        any_finite: Some pair has a finite value.
    """

    pairs: tuple[tuple[int, int, float], ...]
    total: int
    top: float
    any_finite: bool


class _TopPairs:
    """The running top-``limit`` pairs by |value| (ties: the earlier pair in ``(i, j)`` order)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self._i: list[IntArray] = []
        self._j: list[IntArray] = []
        self._v: list[FloatArray] = []
        self._held = 0

    def add(self, i: IntArray, j: IntArray, v: FloatArray) -> None:
        self.total += v.size
        self._i.append(i)
        self._j.append(j)
        self._v.append(v)
        self._held += v.size
        if self._held > 2 * self.limit:
            self._trim()

    def _trim(self) -> None:
        i, j = np.concatenate(self._i), np.concatenate(self._j)
        v: FloatArray = np.concatenate(self._v)
        keep = np.lexsort((j, i, -np.abs(v)))[: self.limit]
        self._i, self._j, self._v = [i[keep]], [j[keep]], [v[keep]]
        self._held = keep.size

    def pairs(self) -> tuple[tuple[int, int, float], ...]:
        if not self._v:
            return ()
        self._trim()
        i, j, v = self._i[0], self._j[0], self._v[0]
        order = np.lexsort((j, i))
        return tuple(
            (int(a), int(b), float(c)) for a, b, c in zip(i[order], j[order], v[order], strict=True)
        )


def _blocks(columns: int, block: int) -> list[slice]:
    return [slice(start, min(start + block, columns)) for start in range(0, columns, block)]


def _positions(where: slice) -> IntArray:
    return np.arange(where.start, where.stop)


def _numpy_pearson(values: FloatArray, block: int) -> Blocks:
    """Yield ``(rows, cols, matrix)`` blocks of the Pearson matrix of finite ``values``.

    The arithmetic of ``np.corrcoef`` (the transposed data centred, one product, times
    1 / (n - 1), divided by the standard deviations, clipped to -1..1), so one block is
    ``np.corrcoef`` itself, to the last bit.
    """
    centred = np.array(values, dtype=np.float64).T
    centred -= np.average(centred, axis=1)[:, None]
    scale = np.true_divide(1, values.shape[0] - 1)
    blocks = _blocks(values.shape[1], block)
    stddev = np.concatenate([np.sqrt(np.diag(centred[b] @ centred[b].T * scale)) for b in blocks])
    for n, rows in enumerate(blocks):
        for cols in blocks[n:]:
            matrix = np.dot(centred[rows], centred[cols].T)
            matrix *= scale
            matrix /= stddev[rows][:, None]
            matrix /= stddev[cols][None, :]
            np.clip(matrix, -1, 1, out=matrix)
            yield _positions(rows), _positions(cols), matrix


def _pandas_correlation(frame: pd.DataFrame, method: str, block: int) -> Blocks:
    """Yield ``(rows, cols, matrix)`` blocks of ``frame.corr(method)`` (pairwise complete)."""
    blocks = [_positions(where) for where in _blocks(frame.shape[1], block)]
    for n, rows in enumerate(blocks):
        for cols in blocks[n:]:
            both = rows if cols is rows else np.concatenate([rows, cols])
            matrix = frame.iloc[:, both].corr(method=method)  # type: ignore[arg-type]
            start = 0 if cols is rows else rows.size
            yield rows, cols, matrix.to_numpy(dtype=float)[: rows.size, start:]


def strong_correlations(
    frame: pd.DataFrame,
    method: str,
    threshold: float,
    *,
    block: int = BLOCK_COLUMNS,
    max_pairs: int = MAX_REPORTED_PAIRS,
) -> StrongPairs:
    """Pairs of columns of ``frame`` (floats) with |correlation| at least ``threshold``.

    Pearson of finite data uses numpy's arithmetic (:func:`np.corrcoef`); otherwise (missing
    values, Spearman) pandas' pairwise-complete ``DataFrame.corr`` of each block pair. Every
    pair is computed exactly; only the strongest ``max_pairs`` are kept (see the module doc).
    Memory: the data, two blocks of ``block`` columns and the kept pairs.
    """
    values = frame.to_numpy(dtype=float)
    if method == "pearson" and frame.shape[1] and np.isfinite(values).all():
        blocks = _numpy_pearson(values, block)
    else:
        blocks = _pandas_correlation(frame, method, block)
    kept = _TopPairs(max_pairs)
    top, any_finite = 0.0, False
    for rows, cols, matrix in blocks:
        strength = np.abs(matrix)
        upper = rows[:, None] < cols[None, :]
        upper &= np.isfinite(strength)
        if upper.any():
            any_finite = True
            top = max(top, float(strength[upper].max()))
        a, b = np.nonzero(upper & (strength >= threshold))
        kept.add(rows[a], cols[b], matrix[a, b])
    return StrongPairs(pairs=kept.pairs(), total=kept.total, top=top, any_finite=any_finite)


@dataclass(frozen=True)
class CategoryCodes:
    """One categorical feature coded against its reference categories.

    Attributes:
        ref: Reference codes, -1 for missing.
        eval: Evaluation codes on the reference categories, -1 for missing or unseen.
        freq: Reference frequency of each category (count / reference rows).
    """

    ref: IntArray
    eval: IntArray
    freq: FloatArray


@dataclass(frozen=True)
class UnseenPairs:
    """Pairs of categorical features whose eval rows pair values ref never pairs.

    Attributes:
        pairs: ``(a, b, mask)``: feature positions ``a < b`` and the flagged eval rows, in
            ``(a, b)`` order; the ``max_pairs`` pairs with the most flagged rows only.
        total: Pairs with flagged rows, reported or not.
    """

    pairs: tuple[tuple[int, int, npt.NDArray[np.bool_]], ...]
    total: int


def unseen_pairs(
    codes: list[CategoryCodes],
    min_expected: float,
    *,
    block: int = BLOCK_COLUMNS,
    max_pairs: int = MAX_REPORTED_PAIRS,
) -> UnseenPairs:
    """Eval rows of each pair of features holding a value pair never seen together in ref.

    A row is flagged when both its values are reference categories, the reference never pairs
    them, and independence would predict at least ``min_expected`` reference rows with the pair
    (reference rows x both frequencies). Every pair of features is checked exactly, feature
    ``a`` against a block of ``block`` features at a time (memory: rows x ``block``); the
    ``max_pairs`` pairs with the most flagged rows are kept, the others only counted.
    """
    if not codes:
        return UnseenPairs((), 0)
    n_ref = len(codes[0].ref)
    ref = np.stack([c.ref for c in codes], axis=1)
    cur = np.stack([c.eval for c in codes], axis=1)
    widths = np.array([c.freq.size for c in codes], dtype=np.int64)
    freqs = [c.freq if c.freq.size else np.zeros(1) for c in codes]
    freq_start = np.concatenate([[0], np.cumsum([f.size for f in freqs])[:-1]])
    all_freqs = np.concatenate(freqs)
    kept: list[tuple[int, int, int, npt.NDArray[np.bool_]]] = []
    total = 0
    for a, first in enumerate(codes):
        ref_a, eval_a = first.ref[:, None], first.eval[:, None]
        expected_a = n_ref * freqs[a][np.maximum(first.eval, 0)]
        for start in range(a + 1, len(codes), block):
            others = np.arange(start, min(start + block, len(codes)))
            width = widths[others]
            sizes = first.freq.size * width
            offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            both = (ref_a >= 0) & (ref[:, others] >= 0)
            seen = np.zeros(max(1, int(sizes.sum())), dtype=bool)
            seen[(offset + ref_a * width + ref[:, others])[both]] = True
            eval_b = cur[:, others]
            known = (eval_a >= 0) & (eval_b >= 0)
            keys = np.where(known, offset + eval_a * width + eval_b, 0)
            expected = expected_a[:, None] * all_freqs[freq_start[others] + np.maximum(eval_b, 0)]
            mask = known & ~seen[keys] & (expected >= min_expected)
            counts = mask.sum(axis=0)
            for hit in np.flatnonzero(counts):
                kept.append((int(counts[hit]), a, int(others[hit]), mask[:, hit].copy()))
            total += int(np.count_nonzero(counts))
            if len(kept) > 2 * max_pairs:
                kept = sorted(kept, key=lambda k: (-k[0], k[1], k[2]))[:max_pairs]
    kept = sorted(kept, key=lambda k: (-k[0], k[1], k[2]))[:max_pairs]
    return UnseenPairs(tuple((a, b, m) for _, a, b, m in sorted(kept, key=lambda k: k[1:3])), total)
