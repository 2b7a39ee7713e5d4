"""Transformations tests of text classifiers: does the decision survive a harmless edit?

Each test perturbs a seeded sample of evaluation texts (``sample_size``, default
:data:`SAMPLE_SIZE`) with one perturbation of :mod:`pytest_rime.engine.text_perturb` (word-level
ones change ``word_rate`` of the candidate words of each text, at least one) and predicts every
perturbed text of the test in ONE batched call (:func:`pytest_rime.engine.robustness.
predict_edits`); texts the perturbation leaves unchanged are left out. One case per test.

- **statistic**: the share of perturbed texts whose decision changed (another predicted
  class). Thresholds ``(0.05, 0.15, 0.3)`` as for tabular transformations.
- **impact**: with labels, the share of perturbed texts the perturbation turned from right to
  wrong (the harm in error on the changed rows, as for every what-if): flips of texts the
  model got wrong anyway do not make a HIGH, and a text turned right by luck does not undo
  the harm to another. Without labels, the share of changed decisions.
- **evidence**: ``flip_p_value`` is the exact one-sided binomial test that the model's flip
  rate under the perturbation exceeds the low threshold (the rate below which the case
  passes): an unperturbed text never flips, so the question is whether the flips seen on the
  sample could come from a model that flips at most that often. With labels,
  ``mcnemar_p_value`` is the exact one-sided McNemar test that the perturbation made the model
  wrong more often than right, and ``p_value`` is the larger of the two (both the flips and the
  loss of accuracy must be beyond noise: an intersection-union test); without labels it is
  ``flip_p_value``.
- **exposure**: a transformation is a what-if. The case can be HIGH only when the evaluation
  texts already show the property the perturbation creates (:data:`EXPOSURES`): typos (an
  alphabetic token of 3+ letters out of the reference vocabulary, one edit from a reference
  word seen at least :data:`MIN_NEIGHBOUR_COUNT` times, not an inflection of it), listed
  misspellings, OCR-like confusions, accent-stripped words, unseen synonyms, upper / lower
  case texts, texts without punctuation, contractions, irregular whitespace or punctuation.
  Exposed means at least :data:`EXPOSURE_SHARE` of the eval texts show it and, for the
  measures relative to the reference vocabulary (which a random split also shows: rare words
  one letter from common ones, and real text holds some typos on both sides), significantly
  more eval texts than reference texts read against the other reference texts (leave one out;
  exact binomial test below the run's ``significance_level``). Otherwise the case is capped at
  MEDIUM with the measured shares in its reason.
- **model crash**: a model that raises on the perturbed texts gives a FAIL with statistic and
  impact 1.0 (capped like any other case when not exposed).
- **metrics**: texts perturbed, decisions changed, the mean prediction change, the exposure
  measured, and up to three ``examples`` of changed decisions (original and perturbed text,
  prediction before and after).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from pytest_rime.engine.context import RunContext, Which
from pytest_rime.engine.registry import Finding, TestSettings
from pytest_rime.engine.results import JSONValue
from pytest_rime.engine.robustness import (
    EXPOSURE_SHARE,
    SAMPLE_SIZE_PARAM,
    Edit,
    ExposureMeasure,
    PerturbationSample,
    binomial_exposure,
    crash_finding,
    decision_changed,
    flip_p_value,
    paired_losses,
    perturbation_sample,
    predict_edits,
    prediction_change,
    row_changes,
    what_if_capped,
)
from pytest_rime.engine.tests.transformations import TransformationSpec, register_transformation
from pytest_rime.engine.text import text_col, texts, token_counts, tokens
from pytest_rime.engine.text_perturb import (
    DEFAULT_RATE,
    TextPerturbation,
    common_misspellings,
    contraction_pattern,
    contractions,
    delete_characters,
    fold_to_ascii,
    insert_characters,
    keyboard_typos,
    lower_case,
    misspelling_table,
    ocr_confusions,
    ocr_errors,
    perturb_all,
    punctuation_noise,
    remove_special_characters,
    substitute_characters,
    swap_characters,
    synonym_swap,
    synonym_table,
    unicode_to_ascii,
    upper_case,
    whitespace_noise,
)
from pytest_rime.vocabulary import NLP

SAMPLE_SIZE = 500
"""Default number of evaluation texts each test perturbs."""

RATE_PARAM = "word_rate"
"""The ``tests_config`` parameter: share of candidate words a word-level perturbation edits."""

MAX_EXAMPLES = 3
"""Examples of changed decisions kept in a case's metrics."""

EXAMPLE_CHARS = 300
"""Longest text shown in an example (longer ones are cut with an ellipsis)."""

_PARAMS = {SAMPLE_SIZE_PARAM: SAMPLE_SIZE, RATE_PARAM: DEFAULT_RATE}


# ------------------------------------------------------------------------------ exposure
TokenCount = Callable[[str], int]
"""A token's count in the reference texts (without the text being measured, for ref texts)."""

MIN_TYPO_LENGTH = 3
"""Shortest token counted as a typo (shorter tokens are one edit from too many words)."""

MIN_NEIGHBOUR_COUNT = 3
"""A typo is one edit from a reference word seen at least this often (a rare word next to
another rare word is more likely a name or a rare word than a typo)."""

_INFLECTIONS = ("s", "d", "es", "ed")


@dataclass(frozen=True)
class ReferenceWords:
    """The reference tokens, their counts, and indexes to find words one edit away.

    Attributes:
        counts: Each reference token's count.
        by_delete: Words of the vocabulary by each string one deleted letter makes of them.
        by_substitution: Words by ``(position, word without the letter there)``.
        by_folding: Accented words by their ASCII folding (when that is not a word itself).
    """

    counts: Counter[str]
    by_delete: Mapping[str, tuple[str, ...]]
    by_substitution: Mapping[tuple[int, str], tuple[str, ...]]
    by_folding: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, counts: Counter[str]) -> ReferenceWords:
        """The indexes of the vocabulary of ``counts``."""
        deletes: dict[str, list[str]] = {}
        substitutions: dict[tuple[int, str], list[str]] = {}
        folding: dict[str, list[str]] = {}
        for word in counts:
            for i in range(len(word)):
                rest = word[:i] + word[i + 1 :]
                deletes.setdefault(rest, []).append(word)
                substitutions.setdefault((i, rest), []).append(word)
            if not word.isascii() and (folded := fold_to_ascii(word)) not in counts:
                folding.setdefault(folded, []).append(word)
        return cls(
            counts,
            {k: tuple(v) for k, v in deletes.items()},
            {k: tuple(v) for k, v in substitutions.items()},
            {k: tuple(v) for k, v in folding.items()},
        )

    def neighbours(self, token: str) -> set[str]:
        """Vocabulary words one edit from ``token`` (``token`` itself left out).

        An edit inserts, deletes or replaces a letter, or swaps two adjacent letters.
        """
        found = set(self.by_delete.get(token, ()))  # token = word with a letter deleted
        for i in range(len(token)):
            rest = token[:i] + token[i + 1 :]
            if rest in self.counts:  # token = word with a letter inserted
                found.add(rest)
            found.update(self.by_substitution.get((i, rest), ()))
        for i in range(len(token) - 1):
            swapped = token[:i] + token[i + 1] + token[i] + token[i + 2 :]
            if swapped in self.counts:
                found.add(swapped)
        found.discard(token)
        return found


def _inflection(a: str, b: str) -> bool:
    """One word is the other with a common English ending (``player`` / ``players``)."""
    short, long = sorted((a, b), key=len)
    return long.startswith(short) and long[len(short) :] in _INFLECTIONS


def is_typo(words: ReferenceWords, token: str, count: TokenCount) -> bool:
    """``token`` is unknown and one edit from a reference word seen often (not an inflection)."""
    return (
        len(token) >= MIN_TYPO_LENGTH
        and token.isalpha()
        and count(token) == 0
        and any(
            count(word) >= MIN_NEIGHBOUR_COUNT and not _inflection(token, word)
            for word in words.neighbours(token)
        )
    )


@functools.cache
def _ocr_pairs() -> tuple[tuple[str, str], ...]:
    return tuple(sorted({(seen.lower(), read.lower()) for seen, read in ocr_confusions()}))


def _ocr_readings(token: str) -> list[str]:
    readings = []
    for seen, read in _ocr_pairs():
        at = token.find(read)
        while at >= 0:
            readings.append(token[:at] + seen + token[at + len(read) :])
            at = token.find(read, at + 1)
    return readings


def is_ocr_error(words: ReferenceWords, token: str, count: TokenCount) -> bool:
    """``token`` is unknown and undoing one OCR confusion makes it a reference word."""
    return count(token) == 0 and any(count(word) > 0 for word in _ocr_readings(token))


def is_folded_word(words: ReferenceWords, token: str, count: TokenCount) -> bool:
    """``token`` is unknown and an accented reference word without its accents."""
    return count(token) == 0 and any(count(w) > 0 for w in words.by_folding.get(token, ()))


def is_unseen_synonym(words: ReferenceWords, token: str, count: TokenCount) -> bool:
    """``token`` is an unknown word of the synonym list whose synonym is a reference word."""
    others = synonym_table().get(token)
    return others is not None and count(token) == 0 and any(count(o) > 0 for o in others)


@functools.cache
def _misspelt_forms() -> frozenset[str]:
    return frozenset(w for forms in misspelling_table().values() for w in forms)


def is_misspelling(words: ReferenceWords, token: str, count: TokenCount) -> bool:
    """``token`` is a listed misspelling, or a typo (:func:`is_typo`)."""
    return token in _misspelt_forms() or is_typo(words, token, count)


TokenProperty = Callable[[ReferenceWords, str, TokenCount], bool]
"""``(reference words, token, count) -> the token shows the property``."""


def _cased(text: str) -> tuple[int, int]:
    upper = sum(1 for c in text if c.isupper())
    lower = sum(1 for c in text if c.islower())
    return upper, lower


def is_upper_case(text: str) -> bool:
    """At least 3 cased letters, 80% of them upper case."""
    upper, lower = _cased(text)
    return upper + lower >= 3 and upper >= 0.8 * (upper + lower)


def is_lower_case(text: str) -> bool:
    """At least 3 cased letters, none upper case."""
    upper, lower = _cased(text)
    return lower >= 3 and upper == 0


_SPECIAL = re.compile(r"[^\w\s]|_")


def lacks_special_characters(text: str) -> bool:
    """A text with a word and no punctuation or symbol."""
    return bool(re.search(r"[^\W_]", text)) and not _SPECIAL.search(text)


def has_contraction_form(text: str) -> bool:
    """A text holding a listed contraction or its expanded form."""
    return bool(contraction_pattern()[0].search(text))


_IRREGULAR_SPACE = re.compile(r"^\s|\s$|\s{2,}|[\t\r\n\v\f]")


def has_irregular_whitespace(text: str) -> bool:
    """Leading or trailing whitespace, runs of whitespace, tabs or line breaks."""
    return bool(_IRREGULAR_SPACE.search(text))


_NOISY_PUNCTUATION = re.compile(r"[!?,;:]{2,}|\.{4,}|\s[,;:!?]|[,;:][^\W\d_]")


def has_punctuation_noise(text: str) -> bool:
    """Repeated marks ("!!", "?!", ",,"), a space before a mark, a mark glued to a word."""
    return bool(_NOISY_PUNCTUATION.search(text))


@dataclass(frozen=True)
class Exposure:
    """A property of texts a perturbation creates, and how to find it in the eval texts.

    Attributes:
        what: The property in words, completing "N% of the evaluation texts hold ...".
        text: The property of a whole text (upper case, whitespace...), or ``None``.
        token: The property of a token relative to the reference words (typos...), or
            ``None``. A text shows it when one of its tokens does. Such properties are also
            measured on each reference text against the other reference texts (leave one
            out): a random split shows rare words one letter from common ones, or an unseen
            synonym, by chance, and real text holds some typos on both sides.
    """

    what: str
    text: Callable[[str], bool] | None = None
    token: TokenProperty | None = None


TYPOS = Exposure("typos (a word one letter edit away from a common reference word)", token=is_typo)
"""The exposure of character-level perturbations and attacks."""

EXPOSURES: Mapping[str, Exposure] = {
    "upper_case": Exposure("upper-case text", text=is_upper_case),
    "lower_case": Exposure("all lower-case text", text=is_lower_case),
    "special_characters": Exposure("no punctuation or symbol", text=lacks_special_characters),
    "ascii": Exposure("reference words without their accents", token=is_folded_word),
    "typos": TYPOS,
    "misspellings": Exposure("misspelt words", token=is_misspelling),
    "ocr": Exposure("OCR-like confusions (rn/m, 0/o, 1/l, 5/s...)", token=is_ocr_error),
    "synonyms": Exposure("synonyms the reference never uses", token=is_unseen_synonym),
    "contractions": Exposure("contractions or their expanded forms", text=has_contraction_form),
    "whitespace": Exposure("irregular whitespace", text=has_irregular_whitespace),
    "punctuation": Exposure("irregular punctuation", text=has_punctuation_noise),
}
"""How each kind of perturbation shows in texts (keys: :attr:`TextTransformation.exposure`)."""


MAX_EXPOSURE_TEXTS = 5_000
"""Texts of each side an exposure is measured on (a seeded sample of larger data)."""


def _measured_texts(ctx: RunContext, which: Which) -> list[str]:
    values = texts(ctx, which).tolist()
    if len(values) <= MAX_EXPOSURE_TEXTS:
        return values
    picked = ctx.rng(f"nlp.exposure_texts:{which}").choice(len(values), MAX_EXPOSURE_TEXTS, False)
    return [values[i] for i in sorted(picked)]


def reference_words(ctx: RunContext) -> ReferenceWords:
    """The indexed reference tokens (computed once)."""
    return ctx.memo("nlp.reference_words", lambda: ReferenceWords.of(token_counts(ctx, "ref")))


def _token_hits(ctx: RunContext, prop: TokenProperty) -> tuple[int, int, int, int]:
    """Eval texts with a token showing ``prop`` and eval texts; the same for ref texts.

    Each ref text is read against the other ref texts (leave one out).
    """
    words = reference_words(ctx)
    counts = words.counts
    cache: dict[str, bool] = {}

    def eval_token(token: str) -> bool:
        if token not in cache:
            cache[token] = prop(words, token, counts.__getitem__)
        return cache[token]

    eval_texts = _measured_texts(ctx, "eval")
    hits = sum(1 for text in eval_texts if any(eval_token(t) for t in set(tokens(text))))
    ref_hits = 0
    ref_texts = _measured_texts(ctx, "ref")
    for text in ref_texts:
        own = Counter(tokens(text))

        def count(token: str, own: Counter[str] = own) -> int:
            return counts[token] - own[token]

        # a token seen in other ref texts is known whatever this text holds; only tokens of
        # this text alone, or next to words this text holds, can read differently
        if any(
            prop(words, t, count) if counts[t] == own[t] or eval_token(t) else False for t in own
        ):
            ref_hits += 1
    return hits, len(eval_texts), ref_hits, len(ref_texts)


def measure_exposure(ctx: RunContext, key: str) -> ExposureMeasure:
    """How much of the eval texts show :data:`EXPOSURES` ``[key]`` (computed once per run)."""

    def compute() -> ExposureMeasure:
        exposure = EXPOSURES[key]
        if exposure.text is not None:
            values = _measured_texts(ctx, "eval")
            hits = sum(1 for text in values if exposure.text(text))
            share = hits / len(values) if values else 0.0
            return ExposureMeasure(share, None, None, bool(values) and share >= EXPOSURE_SHARE)
        assert exposure.token is not None
        hits, total, ref_hits, ref_total = _token_hits(ctx, exposure.token)
        return binomial_exposure(ctx, hits, total, ref_hits / ref_total if ref_total else 0.0)

    return ctx.memo(f"nlp.exposure:{key}", compute)


def exposure_capped(ctx: RunContext, finding: Finding, key: str) -> Finding:
    """``finding`` with the exposure measure in its metrics, capped at MEDIUM when not exposed.

    A cap the finding already has at MEDIUM or below stays (with its reason).
    """
    if finding.statistic is None:
        return finding
    measure = measure_exposure(ctx, key)
    finding = replace(finding, metrics={**finding.metrics, **measure.metrics()})
    if measure.exposed:
        return finding
    what = EXPOSURES[key].what
    if measure.baseline is None:
        held = (
            f"{measure.share:.1%} of the evaluation texts hold {what} "
            f"(HIGH needs {EXPOSURE_SHARE:.0%})"
        )
    else:
        held = (
            f"{measure.share:.1%} of the evaluation texts hold {what}, against "
            f"{measure.baseline:.1%} of the reference texts read against the other reference "
            f"texts (HIGH needs {EXPOSURE_SHARE:.0%} and significantly more than that)"
        )
    return what_if_capped(finding, held)


# ------------------------------------------------------------------------- measured change
def shown_text(text: str) -> str:
    """``text`` cut to :data:`EXAMPLE_CHARS` characters."""
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 3] + "..."


def prediction_example(
    ctx: RunContext, original: str, perturbed: str, before: np.ndarray, after: np.ndarray
) -> dict[str, JSONValue]:
    """An example: the texts, the predicted class and its probability before and after.

    ``before`` and ``after`` are one row of normal-form predictions each (shape ``(1,)`` or
    ``(1, k)``).
    """
    return {
        "original": shown_text(original),
        "perturbed": shown_text(perturbed),
        **prediction_change(ctx, before, after),
    }


@dataclass(frozen=True)
class _Accuracy:
    """Accuracy on the perturbed texts before and after (with labels).

    Attributes:
        metrics: Accuracy before, after, its drop, rows worse and better, McNemar's p-value.
        harm: Share of the labelled perturbed texts turned from right to wrong.
        p_value: Exact one-sided McNemar test that the perturbation made the model worse.
        sentence: The accuracy before and after, for the description.
    """

    metrics: dict[str, JSONValue]
    harm: float
    p_value: float
    sentence: str


def _accuracy(
    ctx: RunContext, sample: PerturbationSample, rows: np.ndarray, predictions: np.ndarray
) -> _Accuracy | None:
    losses = paired_losses(ctx, sample, rows, sample.base[rows], predictions)
    if losses is None:
        return None
    before, after = 1.0 - float(losses.before.mean()), 1.0 - float(losses.after.mean())
    p_value = losses.p_value
    metrics: dict[str, JSONValue] = {
        **losses.metrics(),
        "accuracy_before": before,
        "accuracy_after": after,
        "accuracy_drop": before - after,
        "mcnemar_p_value": p_value,
    }
    harm = float(np.count_nonzero(losses.change > 0)) / losses.change.size
    metrics["share_turned_wrong"] = harm
    sentence = (
        f" Accuracy on those texts: {before:.3g} -> {after:.3g} ({harm:.1%} of them turned wrong)."
    )
    return _Accuracy(metrics, harm, p_value, sentence)


def _measured_finding(
    ctx: RunContext,
    settings: TestSettings,
    sample: PerturbationSample,
    what: str,
    rows: np.ndarray,
    perturbed: list[str],
    predictions: np.ndarray,
) -> Finding:
    base = sample.base[rows]
    changed = decision_changed(ctx, sample, base, predictions)
    count, flips = int(rows.size), int(changed.sum())
    rate = flips / count
    originals = sample.inputs[text_col(ctx)].astype(str).to_numpy()
    examples: list[JSONValue] = [
        prediction_example(
            ctx, originals[rows[i]], perturbed[i], base[i : i + 1], predictions[i : i + 1]
        )
        for i in np.flatnonzero(changed)[:MAX_EXAMPLES]
    ]
    metrics: dict[str, JSONValue] = {
        "texts_perturbed": count,
        "texts_unchanged": len(sample) - count,
        "decisions_changed": flips,
        "decision_change_rate": rate,
        "mean_abs_prediction_change": float(row_changes(ctx, sample, base, predictions).mean()),
    }
    flip_p = flip_p_value(flips, count, settings.thresholds[0])
    metrics["flip_p_value"] = flip_p
    accuracy = _accuracy(ctx, sample, rows, predictions)
    impact, p_value, sentence = rate, flip_p, ""
    if accuracy is not None:
        metrics.update(accuracy.metrics)
        impact = accuracy.harm
        p_value = max(flip_p, accuracy.p_value)
        sentence = accuracy.sentence
    metrics["examples"] = examples
    description = (
        f"With {what}, {flips} of {count} sampled texts changed their predicted class "
        f"({rate:.1%}).{sentence}"
    )
    if examples:
        first = examples[0]
        assert isinstance(first, dict)
        description += (
            f" E.g. {first['perturbed']!r} is {first['prediction_after']!r}, was "
            f"{first['prediction_before']!r}."
        )
    return Finding(
        features=(text_col(ctx),),
        statistic=rate,
        impact=impact,
        description=description,
        metrics=metrics,
        p_value=p_value,
    )


def transformation_findings(
    ctx: RunContext, settings: TestSettings, perturbation: TextPerturbation, what: str, key: str
) -> list[Finding]:
    """The case of one text transformation (see the module docstring).

    Args:
        ctx: The run.
        settings: The test's settings (``sample_size``, ``word_rate``).
        perturbation: The perturbation, from :mod:`pytest_rime.engine.text_perturb`.
        what: The perturbation in words, completing "With ..., N texts changed".
        key: The property it creates (a key of :data:`EXPOSURES`).
    """
    sample = perturbation_sample(ctx, int(settings.params[SAMPLE_SIZE_PARAM]))
    if len(sample) == 0:
        return [Finding.skip((), "The evaluation data has no texts to transform.")]
    column = text_col(ctx)
    originals = sample.inputs[column].astype(str).tolist()
    rng = ctx.rng(f"nlp_transformation:{what}")
    new = perturb_all(originals, perturbation, rng, float(settings.params[RATE_PARAM]))
    rows = np.asarray(
        [i for i, (a, b) in enumerate(zip(originals, new, strict=True)) if a != b], np.int64
    )
    if rows.size == 0:
        return [Finding.skip((column,), f"{what.capitalize()} change no sampled text.")]
    perturbed = [new[i] for i in rows]
    edit = Edit.of(column, rows, np.asarray(perturbed, dtype=object))
    output = predict_edits(ctx, sample, [edit])[0]
    if isinstance(output, Exception):
        inputs = f"{rows.size} sampled texts with {what}"
        finding = crash_finding(column, output, inputs, {"texts_perturbed": int(rows.size)})
    else:
        finding = _measured_finding(ctx, settings, sample, what, rows, perturbed, output)
    return [exposure_capped(ctx, finding, key)]


_SEVERITY_DOC = (
    "Severity: share of changed decisions, capped by itself, needing an exact binomial test\n"
    "against the low threshold, and capped at MEDIUM unless the eval texts already show what\n"
    "the perturbation creates; a model crash counts as every decision changed."
)


@dataclass(frozen=True)
class TextTransformation(TransformationSpec):
    """One nlp Transformations test.

    Attributes:
        perturbation: The perturbation.
        what: The perturbation in words, completing "With ..., N texts changed".
        exposure: The property it creates (a key of :data:`EXPOSURES`).
    """

    perturbation: TextPerturbation
    what: str
    exposure: str


TEXT_TRANSFORMATIONS = (
    TextTransformation("text_upper_case", "Text Upper Case",
        "Writes each sampled eval text in upper case.", upper_case, "upper-case text",
        "upper_case"),
    TextTransformation("text_lower_case", "Text Lower Case",
        "Writes each sampled eval text in lower case.", lower_case, "lower-case text",
        "lower_case"),
    TextTransformation("text_special_characters_removed", "Special Characters Removed",
        "Removes punctuation and symbols from each sampled eval text.",
        remove_special_characters, "punctuation and symbols removed", "special_characters"),
    TextTransformation("text_unicode_to_ascii", "Unicode to ASCII",
        "Folds each sampled eval text to ASCII (accents dropped, other characters spelt out "
        "or removed).", unicode_to_ascii, "text folded to ASCII", "ascii"),
    TextTransformation("text_character_insertion", "Character Insertion",
        "Inserts a random letter into some words of each sampled eval text.",
        insert_characters, "a letter inserted into some words", "typos"),
    TextTransformation("text_character_deletion", "Character Deletion",
        "Deletes a letter from some words of each sampled eval text.", delete_characters,
        "a letter deleted from some words", "typos"),
    TextTransformation("text_character_substitution", "Character Substitution",
        "Replaces a letter of some words of each sampled eval text by a random letter.",
        substitute_characters, "a letter of some words replaced", "typos"),
    TextTransformation("text_character_swap", "Character Swap",
        "Swaps two adjacent letters of some words of each sampled eval text.",
        swap_characters, "adjacent letters of some words swapped", "typos"),
    TextTransformation("text_keyboard_typos", "Keyboard Typos",
        "Replaces a letter of some words of each sampled eval text by a neighbouring key.",
        keyboard_typos, "keyboard typos in some words", "typos"),
    TextTransformation("text_common_misspellings", "Common Misspellings",
        "Writes listed words of each sampled eval text as they are commonly misspelt.",
        common_misspellings, "common misspellings", "misspellings"),
    TextTransformation("text_ocr_errors", "OCR Errors",
        "Adds OCR-like confusions (rn/m, 0/o, 1/l, 5/s...) to some words of each sampled "
        "eval text.", ocr_errors, "OCR-like errors in some words", "ocr"),
    TextTransformation("text_synonym_swap", "Synonym Swap",
        "Replaces listed words of each sampled eval text by a synonym.", synonym_swap,
        "words replaced by synonyms", "synonyms"),
    TextTransformation("text_contractions", "Contractions",
        "Expands contractions and contracts expanded forms in each sampled eval text.",
        contractions, "contractions expanded or made", "contractions"),
    TextTransformation("text_whitespace_noise", "Whitespace Noise",
        "Widens some gaps between words of each sampled eval text (spaces, tabs, new lines).",
        whitespace_noise, "irregular whitespace", "whitespace"),
    TextTransformation("text_punctuation_noise", "Punctuation Noise",
        "Inserts punctuation marks after some words of each sampled eval text.",
        punctuation_noise, "punctuation noise", "punctuation"),
)  # fmt: skip
"""The nlp Transformations tests, in registration (report) order."""


def _register(spec: TextTransformation) -> None:
    register_transformation(
        spec,
        _SEVERITY_DOC,
        _PARAMS,
        lambda ctx, settings: transformation_findings(
            ctx, settings, spec.perturbation, spec.what, spec.exposure
        ),
        data_types=(NLP,),
    )


for _spec in TEXT_TRANSFORMATIONS:
    _register(_spec)
