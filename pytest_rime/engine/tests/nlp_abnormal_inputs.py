"""Abnormal Inputs tests of texts (``nlp``): eval texts unlike anything in the reference texts.

Each test flags eval texts (one case about the text column, the flagged rows in the case):
empty texts, very long texts, unusual characters, text in no language or in a script the
reference does not use, texts full of words unseen in ref, and duplicated texts.

Statistic: the share of eval rows flagged (duplicates: the excess over the share a reference
sample of the same size shows). Severity: the threshold level capped by the measured model
impact on the flagged rows (:mod:`pytest_rime.engine.severity`): the larger of

- the share of the model's skill lost on the flagged rows against the other eval rows (with
  labels; :func:`pytest_rime.engine.impact.metric_impact`), and
- the mean prediction change when the flagged texts are repaired: the abnormal part removed
  (characters, foreign letters, unknown words, the text cut to the reference length bound),
  or, for texts with no word to read (empty, no letters), replaced by random reference texts:
  how differently the model treats them from real texts. All repaired texts of a test go to
  the model in ONE call.

Evidence: each flag rule is also applied to the reference texts OUT OF FOLD (the rule fitted
on nine tenths of ref, applied to the other tenth; unknown words: each reference text against
the other reference texts), which gives the rate a random split would show; the p-value is the
exact binomial test of the flagged eval count against that rate (rule of succession), so a
clean split stays within sampling noise.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.special import gammaln

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.impact import failure_impact, metric_impact
from pytest_rime.engine.importance import prediction_change
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.results import JSONValue
from pytest_rime.engine.tests.abnormal_inputs import (
    CATEGORY,
    ROW_THRESHOLDS,
    Flags,
    binomial_p_value,
)
from pytest_rime.engine.text import (
    TOKEN,
    eval_oov_rates,
    reference_oov_rates,
    reference_vocabulary,
    text_col,
    texts,
)
from pytest_rime.vocabulary import NLP

FOLDS = 10
"""Folds of the reference texts for the out-of-fold rate of a flag rule."""

EXAMPLE_CHARS = 300
"""Longest text quoted in an example."""

Repair = Callable[[pd.Series, np.ndarray], list[str]]
"""``(eval texts, flagged positions) -> repaired texts of the flagged rows``."""


@dataclass(frozen=True)
class TextFlags:
    """Eval texts one case flags, with what they are and how to repair them.

    Attributes:
        mask: Boolean mask over the eval rows.
        what: Completes "N eval texts (x%) of 'text' are/have ...".
        expected_rate: The share of checked texts a random split flags.
        checked: Eval texts the rule applies to (the binomial test's trials).
        reasons: Per flagged row, a short reason for the examples.
        repair: Repaired texts of the flagged rows (``None``: no repair; metric impact only).
        statistic: Overrides the share of flagged rows.
        metrics: Extra measured values.
    """

    mask: np.ndarray
    what: str
    expected_rate: float
    checked: int
    reasons: Callable[[int], str]
    repair: Repair | None
    statistic: float | None = None
    metrics: dict[str, JSONValue] = field(default_factory=dict)


def _random_reference_texts(ctx: RunContext, count: int, name: str) -> list[str]:
    ref = texts(ctx, "ref")
    pool = ref[ref.str.strip() != ""]
    rows = ctx.rng(name).integers(0, len(pool), count)
    return pool.iloc[rows].tolist()


def _repaired_impacts(
    ctx: RunContext, flags: TextFlags, rows: np.ndarray
) -> tuple[float | None, dict[str, JSONValue]]:
    """Model impact of the flagged ``rows`` (module docstring) and its measured values."""
    metrics: dict[str, JSONValue] = {}
    if not rows.size or not ctx.has_predictions:
        return None, metrics
    values: list[float] = []
    if flags.repair is not None and ctx.has_model:
        frame = ctx.eval.iloc[rows].copy()
        frame[text_col(ctx)] = flags.repair(texts(ctx, "eval"), rows)
        try:
            changed = ctx.predict(frame)
        except MemoryError:  # the worker reports it as OOMKILLED
            raise
        except Exception as exc:  # the model may fail on the data: report, do not fail the test
            failure = failure_impact(ctx, rows, exc)
            metrics.update(failure.metrics)
            if failure.value is not None:
                values.append(failure.value)
        else:
            change = min(1.0, prediction_change(ctx, ctx.predictions("eval")[rows], changed))
            metrics["prediction_change"] = change
            values.append(change)
    if ctx.has_labels:
        mask = np.zeros(len(ctx.eval), dtype=bool)
        mask[rows] = True
        metric = metric_impact(ctx, mask)
        if metric is not None:
            metrics.update(metric.metrics)
            if metric.value is not None:
                values.append(metric.value)
    return (max(values) if values else None), metrics


def _finding(ctx: RunContext, flags: TextFlags) -> Finding:
    column = text_col(ctx)
    rows = np.flatnonzero(flags.mask)
    share = rows.size / len(ctx.eval) if len(ctx.eval) else 0.0
    impact, measured = _repaired_impacts(ctx, flags, rows)
    text = f"{rows.size} eval texts ({share:.1%}) of {column!r} {flags.what}"
    text += f" (a random split flags about {flags.expected_rate:.2%})."
    if rows.size and impact is not None:
        text += f" Model impact on these rows: {impact:.2f}."
    metrics: dict[str, JSONValue] = {
        "failing_fraction": share,
        "expected_rate": flags.expected_rate,
        **flags.metrics,
        **measured,
    }
    if rows.size:
        values = texts(ctx, "eval")
        metrics["examples"] = [
            {"text": str(values.iloc[r])[:EXAMPLE_CHARS], "reason": flags.reasons(int(r))}
            for r in rows[:3]
        ]
    as_flags = Flags((column,), flags.mask, flags.what, expected_rate=flags.expected_rate)
    return Finding(
        features=(column,),
        statistic=share if flags.statistic is None else flags.statistic,
        description=text,
        metrics=metrics,
        impact=impact,
        flagged_rows=rows.astype(np.int64),
        p_value=binomial_p_value(as_flags, flags.checked),
    )


def _no_eval(ctx: RunContext) -> list[Finding] | None:
    if not len(ctx.eval):
        return [
            Finding(
                (text_col(ctx),),
                0.0,
                "Eval has no texts: nothing is abnormal.",
                {"failing_fraction": 0.0},
                flagged_rows=np.empty(0, dtype=np.int64),
            )
        ]
    return None


def out_of_fold_rate(
    ctx: RunContext,
    name: str,
    defined: np.ndarray,
    flag: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> float:
    """Share of reference texts a rule flags when fitted on the other folds (rule of succession).

    Args:
        ctx: The run.
        name: Seeds the fold assignment.
        defined: Mask of reference texts the rule applies to.
        flag: ``(training positions, held-out positions) -> mask of flagged held-out rows``.

    Returns:
        ``(flagged + 1) / (defined + 1)``.
    """
    positions = np.flatnonzero(defined)
    folds = min(FOLDS, positions.size)
    flagged = 0
    if folds >= 2:
        assignment = ctx.rng(name).permutation(positions.size) % folds
        for fold in range(folds):
            held = positions[assignment == fold]
            train = positions[assignment != fold]
            flagged += int(np.count_nonzero(flag(train, held)))
    return (flagged + 1) / (positions.size + 1)


def _blank(series: pd.Series) -> np.ndarray:
    return series.str.strip().eq("").to_numpy(bool)


# ------------------------------------------------------------------------------ empty text
@register_test(
    "abnormal_inputs.empty_text",
    name="Empty Text",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Empty or whitespace-only eval texts, beyond the reference's share.",
    data_types=(NLP,),
)
def empty_text(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Eval texts that are empty or whitespace only (a missing text counts as empty).

    Expected rate: the reference's own share of blank texts. Severity: the share of flagged
    rows, capped by their measured model impact (against random reference texts).
    """
    empty = _no_eval(ctx)
    if empty is not None:
        return empty
    ref_blank = _blank(texts(ctx, "ref"))
    mask = _blank(texts(ctx, "eval"))

    def repair(_values: pd.Series, rows: np.ndarray) -> list[str]:
        return _random_reference_texts(ctx, rows.size, "abnormal_inputs.empty_text")

    flags = TextFlags(
        mask,
        "are empty or whitespace only",
        expected_rate=(int(ref_blank.sum()) + 1) / (ref_blank.size + 1),
        checked=mask.size,
        reasons=lambda _row: "empty or whitespace only",
        repair=repair,
        metrics={"ref_fraction": float(ref_blank.mean()) if ref_blank.size else 0.0},
    )
    return [_finding(ctx, flags)]


# ------------------------------------------------------------------------------- long text
def length_bound(lengths: np.ndarray, quantile: float, k: float) -> float:
    """``q(quantile) + k * IQR`` of ``lengths`` (the upper fence of "very long")."""
    q_high, q1, q3 = np.quantile(lengths, [quantile, 0.25, 0.75])
    return float(q_high + k * (q3 - q1))


@register_test(
    "abnormal_inputs.long_text",
    name="Long Text",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval texts far longer than the reference texts.",
    params={"quantile": 0.999, "iqr_multiplier": 1.5},
    data_types=(NLP,),
)
def long_text(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Eval texts longer (in characters) than ``q(quantile) + k * IQR`` of the reference lengths.

    Severity: the share of flagged rows, capped by their measured model impact (the texts cut
    at the bound).
    """
    empty = _no_eval(ctx)
    if empty is not None:
        return empty
    quantile, k = float(settings.params["quantile"]), float(settings.params["iqr_multiplier"])
    ref_lengths = texts(ctx, "ref").str.len().to_numpy(float)
    eval_lengths = texts(ctx, "eval").str.len().to_numpy(float)
    bound = length_bound(ref_lengths, quantile, k)
    mask = eval_lengths > bound

    def held_out(train: np.ndarray, held: np.ndarray) -> np.ndarray:
        flagged: np.ndarray = ref_lengths[held] > length_bound(ref_lengths[train], quantile, k)
        return flagged

    expected = out_of_fold_rate(
        ctx, "abnormal_inputs.long_text", np.ones(ref_lengths.size, bool), held_out
    )
    cut = max(1, int(bound))

    def repair(values: pd.Series, rows: np.ndarray) -> list[str]:
        return [str(v)[:cut] for v in values.iloc[rows]]

    flags = TextFlags(
        mask,
        f"are longer than {bound:.0f} characters",
        expected_rate=expected,
        checked=mask.size,
        reasons=lambda row: f"{eval_lengths[row]:.0f} characters (bound {bound:.0f})",
        repair=repair,
        metrics={"length_bound": bound, "ref_max_length": float(ref_lengths.max())},
    )
    return [_finding(ctx, flags)]


# ---------------------------------------------------------------------- unusual characters
_PLAIN = re.compile(r"[^\t\n\r\x20-\x7e]")
"""A character other than printable ASCII and ordinary whitespace."""

EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0xFE00, 0xFE0F))
"""Emoji, pictographs, dingbats and variation selectors."""


@functools.lru_cache(maxsize=65536)
def unusual_kind(char: str) -> str | None:
    """Why ``char`` is unusual in text (control, invisible, private, emoji...), else ``None``."""
    if char in "\t\n\r":
        return None
    category = unicodedata.category(char)
    if category == "Cc":
        return "control character"
    if category == "Cf":
        return "invisible format character"
    if category in ("Co", "Cs", "Cn") or char == "\ufffd":
        return "unassigned, private-use or replacement character"
    code = ord(char)
    if any(low <= code <= high for low, high in EMOJI_RANGES):
        return "emoji"
    return None


def unusual_counts(text: str) -> Counter[str]:
    """How many characters of ``text`` are unusual, by kind."""
    counts: Counter[str] = Counter()
    for char in _PLAIN.findall(text):
        kind = unusual_kind(char)
        if kind is not None:
            counts[kind] += 1
    return counts


def _unusual_shares(series: pd.Series) -> tuple[np.ndarray, list[Counter[str]]]:
    kinds = [unusual_counts(text) for text in series]
    lengths = series.str.len().to_numpy(float)
    totals = np.array([sum(k.values()) for k in kinds], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(lengths > 0, totals / np.maximum(lengths, 1), 0.0)
    return shares, kinds


@register_test(
    "abnormal_inputs.unusual_characters",
    name="Unusual Characters",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval texts with control, invisible, unassigned or emoji characters beyond the "
    "reference's share.",
    params={"quantile": 0.999},
    data_types=(NLP,),
)
def unusual_characters(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Eval texts whose share of unusual characters exceeds the reference's ``quantile``.

    Unusual: control characters (not tab or newline), invisible format characters (zero-width
    space, ...), unassigned, private-use and replacement characters, emoji. Severity: the share
    of flagged rows, capped by their measured model impact (those characters removed).
    """
    empty = _no_eval(ctx)
    if empty is not None:
        return empty
    quantile = float(settings.params["quantile"])
    ref_shares, _ = _unusual_shares(texts(ctx, "ref"))
    eval_shares, eval_kinds = _unusual_shares(texts(ctx, "eval"))
    bound = float(np.quantile(ref_shares, quantile)) if ref_shares.size else 0.0
    mask = eval_shares > bound

    def held_out(train: np.ndarray, held: np.ndarray) -> np.ndarray:
        flagged: np.ndarray = ref_shares[held] > np.quantile(ref_shares[train], quantile)
        return flagged

    expected = out_of_fold_rate(
        ctx, "abnormal_inputs.unusual_characters", np.ones(ref_shares.size, bool), held_out
    )

    def repair(values: pd.Series, rows: np.ndarray) -> list[str]:
        return ["".join(c for c in str(v) if unusual_kind(c) is None) for v in values.iloc[rows]]

    def reason(row: int) -> str:
        return ", ".join(f"{n} {kind}" for kind, n in eval_kinds[row].most_common())

    flags = TextFlags(
        mask,
        "have unusual characters (control, invisible, unassigned or emoji)"
        + (f" beyond {bound:.1%} of their characters" if bound > 0 else ""),
        expected_rate=expected,
        checked=mask.size,
        reasons=reason,
        repair=repair,
        metrics={"share_bound": bound},
    )
    return [_finding(ctx, flags)]


# -------------------------------------------------------------------- non-language / script
@functools.lru_cache(maxsize=65536)
def script_of(char: str) -> str:
    """The script of a letter, from its Unicode name (``LATIN``, ``CYRILLIC``, ``CJK``...)."""
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


_ASCII_LETTERS = re.compile(r"[A-Za-z]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def script_counts(text: str) -> Counter[str]:
    """Letters of ``text`` by script."""
    counts: Counter[str] = Counter()
    latin = len(_ASCII_LETTERS.findall(text))
    if latin:
        counts["LATIN"] = latin
    for char in _NON_ASCII.findall(text):
        if char.isalpha():
            counts[script_of(char)] += 1
    return counts


def main_scripts(counts: Sequence[Counter[str]], min_share: float) -> frozenset[str]:
    """Scripts holding at least ``min_share`` of the letters of ``counts`` (and the top one)."""
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    letters = sum(total.values())
    if not letters:
        return frozenset()
    top = total.most_common(1)[0][0]
    return frozenset({top, *(s for s, n in total.items() if n / letters >= min_share)})


def foreign_shares(counts: Sequence[Counter[str]], known: frozenset[str]) -> np.ndarray:
    """Each text's share of letters outside the ``known`` scripts; 1.0 for a text of no letter."""
    shares = np.ones(len(counts))
    for row, c in enumerate(counts):
        letters = sum(c.values())
        if letters:
            shares[row] = sum(n for s, n in c.items() if s not in known) / letters
    return shares


@register_test(
    "abnormal_inputs.non_language_text",
    name="Non-Language Text",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval texts mostly in a script the reference texts do not use, or with no "
    "letter at all.",
    params={"foreign_share": 0.5, "min_script_share": 0.01},
    data_types=(NLP,),
)
def non_language_text(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Non-blank eval texts with no letter, or whose letters are mostly of foreign scripts.

    A script is the reference's when it holds at least ``min_script_share`` of the reference
    letters; a text is flagged when more than ``foreign_share`` of its letters are of other
    scripts. Blank texts are left to ``Empty Text``. Severity: the share of flagged rows, capped
    by their measured model impact (foreign letters removed; texts without letters replaced by
    random reference texts).
    """
    empty = _no_eval(ctx)
    if empty is not None:
        return empty
    threshold = float(settings.params["foreign_share"])
    min_share = float(settings.params["min_script_share"])
    ref_texts, eval_texts = texts(ctx, "ref"), texts(ctx, "eval")
    ref_counts = [script_counts(t) for t in ref_texts]
    eval_counts = [script_counts(t) for t in eval_texts]
    known = main_scripts(ref_counts, min_share)
    eval_defined = ~_blank(eval_texts)
    shares = foreign_shares(eval_counts, known)
    mask = eval_defined & (shares > threshold)

    def held_out(train: np.ndarray, held: np.ndarray) -> np.ndarray:
        fold_known = main_scripts([ref_counts[i] for i in train], min_share)
        held_shares = foreign_shares([ref_counts[i] for i in held], fold_known)
        flagged: np.ndarray = held_shares > threshold
        return flagged

    expected = out_of_fold_rate(
        ctx, "abnormal_inputs.non_language_text", ~_blank(ref_texts), held_out
    )

    def repair(values: pd.Series, rows: np.ndarray) -> list[str]:
        no_letters = [not sum(eval_counts[r].values()) for r in rows]
        random = iter(
            _random_reference_texts(ctx, sum(no_letters), "abnormal_inputs.non_language_text")
        )
        return [
            next(random)
            if none
            else "".join(c for c in str(values.iloc[r]) if not c.isalpha() or _known(c, known))
            for r, none in zip(rows, no_letters, strict=True)
        ]

    def reason(row: int) -> str:
        counts = eval_counts[row]
        if not sum(counts.values()):
            return "no letter"
        foreign = [s for s, _ in counts.most_common() if s not in known]
        return f"{shares[row]:.0%} of letters in {', '.join(foreign)}"

    flags = TextFlags(
        mask,
        f"have no letter or more than {threshold:.0%} of their letters in scripts the reference "
        f"does not use (ref: {', '.join(sorted(known)) or 'none'})",
        expected_rate=expected,
        checked=int(eval_defined.sum()),
        reasons=reason,
        repair=repair,
        metrics={"reference_scripts": sorted(known)},
    )
    return [_finding(ctx, flags)]


def _known(char: str, known: frozenset[str]) -> bool:
    return ("LATIN" if char.isascii() else script_of(char)) in known


# --------------------------------------------------------------------- out-of-vocabulary
@register_test(
    "abnormal_inputs.out_of_vocabulary_text",
    name="Out-of-Vocabulary Text",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval texts whose share of words unseen in ref is extreme for a reference text.",
    params={"quantile": 0.999},
    data_types=(NLP,),
)
def out_of_vocabulary_text(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Eval texts whose share of tokens unseen in ref exceeds the reference's ``quantile``.

    The reference distribution is each reference text's share of tokens that no OTHER reference
    text has, so it is what a new text from the same source shows. Severity: the share of
    flagged rows, capped by their measured model impact (the unseen words removed).
    """
    empty = _no_eval(ctx)
    if empty is not None:
        return empty
    quantile = float(settings.params["quantile"])
    ref_rates, eval_rates = reference_oov_rates(ctx), eval_oov_rates(ctx)
    ref_defined = ref_rates[~np.isnan(ref_rates)]
    bound = float(np.quantile(ref_defined, quantile)) if ref_defined.size else 0.0
    with np.errstate(invalid="ignore"):
        mask = np.nan_to_num(eval_rates, nan=-1.0) > bound
    expected = (int(np.count_nonzero(ref_defined > bound)) + 1) / (ref_defined.size + 1)
    vocabulary = reference_vocabulary(ctx)

    def repair(values: pd.Series, rows: np.ndarray) -> list[str]:
        def keep(match: re.Match[str]) -> str:
            return match.group(0) if match.group(0).lower() in vocabulary else ""

        return [TOKEN.sub(keep, str(v)) for v in values.iloc[rows]]

    def reason(row: int) -> str:
        unseen = [
            t for t in TOKEN.findall(texts(ctx, "eval").iloc[row].lower()) if t not in vocabulary
        ]
        return f"{eval_rates[row]:.0%} of tokens unseen in ref ({', '.join(unseen[:5])})"

    flags = TextFlags(
        mask,
        f"have more than {bound:.0%} of their tokens unseen in ref",
        expected_rate=expected,
        checked=int(np.count_nonzero(~np.isnan(eval_rates))),
        reasons=reason,
        repair=repair,
        metrics={"oov_share_bound": bound},
    )
    return [_finding(ctx, flags)]


# -------------------------------------------------------------------------------- duplicates
def normalised(series: pd.Series) -> pd.Series:
    """Texts lower-cased with runs of whitespace as one space, trimmed."""
    return series.str.lower().str.replace(r"\s+", " ", regex=True).str.strip()


def expected_duplicate_share(counts: np.ndarray, size: int) -> float:
    """Expected share of repeated rows in a ``size``-row sample of rows valued ``counts`` times.

    ``counts``: how often each distinct value occurs among the ``N`` rows. A sample (without
    replacement) of ``size`` rows misses a value occurring ``f`` times with probability
    ``C(N - f, size) / C(N, size)``; the repeated rows are ``size`` minus the distinct values.
    """
    total = int(counts.sum())
    if size <= 0 or total == 0:
        return 0.0
    size = min(size, total)
    f = counts.astype(float)
    possible = total - f >= size
    rest = np.where(possible, total - f, size)  # keeps gammaln finite where nothing is missed
    log_missed = (
        gammaln(rest + 1)
        - gammaln(rest - size + 1)
        - gammaln(total + 1)
        + gammaln(total - size + 1)
    )
    missed = np.where(possible, np.exp(log_missed), 0.0)
    distinct = float(np.sum(1.0 - missed))
    return max(0.0, (size - distinct) / size)


@register_test(
    "abnormal_inputs.duplicate_texts",
    name="Duplicate Texts",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval texts repeating an earlier eval text, beyond the reference's repeats.",
    data_types=(NLP,),
)
def duplicate_texts(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Non-blank eval texts equal (ignoring case and spacing) to an earlier eval text.

    Statistic: their share minus the share a reference sample of the same size repeats
    (hypergeometric expectation; an eval larger than ref is compared at the reference's size).
    Duplicates are about the data; severity is capped by the model impact measured with labels
    (the repeated rows' loss against the others), else at most LOW.
    """
    empty = _no_eval(ctx)
    if empty is not None:
        return empty
    ref_texts, eval_texts = texts(ctx, "ref"), texts(ctx, "eval")
    ref_norm = normalised(ref_texts[~_blank(ref_texts)])
    eval_defined = ~_blank(eval_texts)
    eval_norm = normalised(eval_texts[eval_defined])
    repeated = np.zeros(len(eval_texts), dtype=bool)
    repeated[np.flatnonzero(eval_defined)] = eval_norm.duplicated(keep="first").to_numpy()
    m, n = len(eval_norm), len(ref_norm)
    ref_counts = ref_norm.value_counts().to_numpy()
    eval_counts = eval_norm.value_counts().to_numpy()
    size = min(m, n)
    ref_share = expected_duplicate_share(ref_counts, size)
    eval_share = (
        expected_duplicate_share(eval_counts, size)
        if m > n
        else (float(repeated.sum()) / m if m else 0.0)
    )
    expected = (ref_share * size + 1) / (size + 1)
    excess = max(0.0, eval_share - ref_share)
    first = eval_norm.drop_duplicates()

    def reason(row: int) -> str:
        key = normalised(eval_texts.iloc[[row]]).iloc[0]
        times = int((eval_norm == key).sum())
        return f"occurs {times} times in eval"

    flags = TextFlags(
        repeated,
        f"repeat an earlier eval text (a {size}-row sample of ref repeats {ref_share:.1%})",
        expected_rate=expected,
        checked=size,
        reasons=reason,
        repair=None,
        statistic=excess,
        metrics={
            "eval_duplicate_share": eval_share,
            "ref_duplicate_share": ref_share,
            "distinct_eval_texts": len(first),
        },
    )
    finding = _finding(ctx, flags)
    # The binomial test at the common size: the repeated count of a ``size``-row eval sample.
    as_flags = Flags(
        (text_col(ctx),), np.arange(size) < round(eval_share * size), "", expected_rate=expected
    )
    impact = finding.impact if finding.impact is not None else 0.0
    return [replace(finding, impact=impact, p_value=binomial_p_value(as_flags, size))]
