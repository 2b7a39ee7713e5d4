r"""Text helpers shared by the ``nlp`` tests: the texts of a run, their tokens, their vocabulary.

Tokens are lower-cased runs of word characters (``\w+``, so any script's letters and digits),
the same for every test: what one test calls out of vocabulary, another does too.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd

from pytest_rime.engine.context import RunContext, Which
from pytest_rime.engine.datatypes.nlp import text_column

TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """The lower-cased word tokens of ``text``."""
    return TOKEN.findall(text.lower())


def text_col(ctx: RunContext) -> str:
    """The run's text column."""
    return text_column(ctx.config)


def texts(ctx: RunContext, which: Which) -> pd.Series:
    """The ``ref`` or ``eval`` texts (strings; a missing text is empty)."""
    return ctx.frame(which)[text_col(ctx)]


def token_counts(ctx: RunContext, which: Which) -> Counter[str]:
    """How often each token occurs in the ``ref`` or ``eval`` texts (computed once)."""

    def count() -> Counter[str]:
        counter: Counter[str] = Counter()
        for text in texts(ctx, which):
            counter.update(tokens(text))
        return counter

    return ctx.memo(f"text.token_counts:{which}", count)


def reference_vocabulary(ctx: RunContext) -> frozenset[str]:
    """Every token of the reference texts."""
    return ctx.memo("text.reference_vocabulary", lambda: frozenset(token_counts(ctx, "ref")))


def leave_one_out_oov_rates(all_tokens: list[list[str]]) -> np.ndarray:
    """Each text's share of tokens that no OTHER text of the list has (NaN: no tokens)."""
    totals: Counter[str] = Counter()
    for words in all_tokens:
        totals.update(words)
    rates = np.full(len(all_tokens), np.nan)
    for row, words in enumerate(all_tokens):
        if words:
            own = Counter(words)
            rates[row] = sum(c for w, c in own.items() if totals[w] == c) / len(words)
    return rates


def oov_rates(all_tokens: list[list[str]], vocabulary: frozenset[str]) -> np.ndarray:
    """Each text's share of tokens outside ``vocabulary`` (NaN: no tokens)."""
    rates = np.full(len(all_tokens), np.nan)
    for row, words in enumerate(all_tokens):
        if words:
            rates[row] = sum(word not in vocabulary for word in words) / len(words)
    return rates


def reference_oov_rates(ctx: RunContext) -> np.ndarray:
    """Leave-one-out OOV rate of every reference text (cached; shared with Abnormal Inputs)."""
    return ctx.memo(
        "text.ref_loo_oov_rates",
        lambda: leave_one_out_oov_rates([tokens(t) for t in texts(ctx, "ref")]),
    )


def eval_oov_rates(ctx: RunContext) -> np.ndarray:
    """OOV rate of every eval text against the reference vocabulary (cached)."""

    def compute() -> np.ndarray:
        vocabulary = frozenset(token_counts(ctx, "ref"))
        return oov_rates([tokens(t) for t in texts(ctx, "eval")], vocabulary)

    return ctx.memo("text.eval_oov_rates", compute)
