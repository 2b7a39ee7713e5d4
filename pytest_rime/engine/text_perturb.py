"""Text perturbations of the nlp Transformations and Attacks tests.

Every perturbation is a pure function ``(text, rng, rate) -> text``: the same text, generator
state and rate give the same result, the empty text stays empty, and a text the perturbation
cannot apply to comes back unchanged. Written here with numpy's seeded generator rather than
an augmentation library (nlpaug, textattack): those pull in large dependencies (torch, nltk
data downloads) that the engine must not need at run time.

Word-level perturbations pick their targets the same way (:func:`pick`): among the candidate
spans of the text (the words they can change), ``max(1, round(rate x candidates))`` chosen at
random, so every text with a candidate changes and long texts change in proportion.

Word lists (misspellings, synonyms, contractions, keyboard neighbours) are read from
:mod:`pytest_rime.engine.wordlists`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from pytest_rime.engine.wordlists import word_list

TextPerturbation = Callable[[str, np.random.Generator, float], str]
"""``(text, rng, rate) -> perturbed text``."""

DEFAULT_RATE = 0.1
"""Default share of candidate words a word-level perturbation changes (at least one)."""

LETTERS = re.compile(r"[^\W\d_]+")
"""Runs of letters: the words character edits apply to."""

WORDS = re.compile(r"\w+")
"""Runs of word characters (letters, digits)."""

MIN_EDIT_LENGTH = 3
"""Character edits apply to words of at least this many letters (so a word stays a word)."""

_ALPHABET = "abcdefghijklmnopqrstuvwxyz"

Span = tuple[int, int]


def pick(rng: np.random.Generator, count: int, rate: float) -> list[int]:
    """Sorted indices of ``max(1, round(rate x count))`` of ``count`` candidates (none of 0)."""
    if count == 0:
        return []
    chosen = min(count, max(1, round(rate * count)))
    return sorted(int(i) for i in rng.choice(count, size=chosen, replace=False))


def replace_spans(text: str, spans: Sequence[Span], new: Sequence[str]) -> str:
    """``text`` with each (non-overlapping, sorted) span replaced by the matching string."""
    pieces: list[str] = []
    last = 0
    for (start, stop), value in zip(spans, new, strict=True):
        pieces.append(text[last:start])
        pieces.append(value)
        last = stop
    pieces.append(text[last:])
    return "".join(pieces)


def match_case(template: str, word: str) -> str:
    """``word`` in the case pattern of ``template`` (UPPER, Capitalised or as given)."""
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _random_letter(rng: np.random.Generator, like: str, other_than: str = "") -> str:
    letters = [c for c in _ALPHABET if c != other_than.lower()]
    letter = letters[int(rng.integers(len(letters)))]
    return letter.upper() if like.isupper() else letter


def _edit_words(
    text: str,
    rng: np.random.Generator,
    rate: float,
    edit: Callable[[str, np.random.Generator], str],
) -> str:
    """Apply ``edit`` to picked words of at least :data:`MIN_EDIT_LENGTH` letters."""
    spans = [m.span() for m in LETTERS.finditer(text) if len(m.group()) >= MIN_EDIT_LENGTH]
    picked = [spans[i] for i in pick(rng, len(spans), rate)]
    return replace_spans(text, picked, [edit(text[a:b], rng) for a, b in picked])


# ------------------------------------------------------------------------- whole-text changes
def upper_case(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """The text in upper case."""
    return text.upper()


def lower_case(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """The text in lower case."""
    return text.lower()


_SPECIAL = re.compile(r"[^\w\s]|_")


def remove_special_characters(
    text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE
) -> str:
    """The text without punctuation and symbols (letters, digits and whitespace stay)."""
    return _SPECIAL.sub("", text)


_ASCII_FOLD = {
    "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "ł": "l",
    "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "þ": "th", "Þ": "Th", "\u0131": "i",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u00ab": '"', "\u00bb": '"', "\u00a0": " ",
}  # fmt: skip
"""Characters NFKD does not decompose to ASCII, with their usual ASCII spelling."""


def fold_to_ascii(text: str) -> str:
    """``text`` in ASCII: accents dropped (NFKD), common letters spelt out, the rest dropped."""
    spelt = "".join(_ASCII_FOLD.get(char, char) for char in text)
    decomposed = unicodedata.normalize("NFKD", spelt)
    return "".join(c for c in decomposed if not unicodedata.combining(c) and c.isascii())


def unicode_to_ascii(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """The text in ASCII (:func:`fold_to_ascii`): "Café" -> "Cafe"."""
    return fold_to_ascii(text)


# ---------------------------------------------------------------------------- character edits
def _insert(word: str, rng: np.random.Generator) -> str:
    at = int(rng.integers(1, len(word)))
    return word[:at] + _random_letter(rng, word[at - 1]) + word[at:]


def _delete(word: str, rng: np.random.Generator) -> str:
    at = int(rng.integers(len(word)))
    return word[:at] + word[at + 1 :]


def _substitute(word: str, rng: np.random.Generator) -> str:
    at = int(rng.integers(len(word)))
    return word[:at] + _random_letter(rng, word[at], other_than=word[at]) + word[at + 1 :]


def _swap(word: str, rng: np.random.Generator) -> str:
    places = [i for i in range(len(word) - 1) if word[i].lower() != word[i + 1].lower()]
    if not places:
        return word
    at = places[int(rng.integers(len(places)))]
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


@functools.cache
def keyboard_neighbours() -> Mapping[str, str]:
    """Each lower-case key's QWERTY neighbours (``wordlists/keyboard.txt``)."""
    return {entry[0]: entry[1] for entry in word_list("keyboard")}


def _keyboard(word: str, rng: np.random.Generator) -> str:
    near = keyboard_neighbours()
    places = [i for i, c in enumerate(word) if c.lower() in near]
    if not places:
        return word
    at = places[int(rng.integers(len(places)))]
    options = near[word[at].lower()]
    typo = options[int(rng.integers(len(options)))]
    return word[:at] + (typo.upper() if word[at].isupper() else typo) + word[at + 1 :]


def insert_characters(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """A random letter inserted inside picked words ("travel" -> "travlel")."""
    return _edit_words(text, rng, rate, _insert)


def delete_characters(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """One letter deleted from picked words ("travel" -> "trave")."""
    return _edit_words(text, rng, rate, _delete)


def substitute_characters(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """One letter of picked words replaced by another letter ("travel" -> "trapel")."""
    return _edit_words(text, rng, rate, _substitute)


def swap_characters(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """Two adjacent, different letters of picked words swapped ("travel" -> "tarvel")."""
    return _edit_words(text, rng, rate, _swap)


def keyboard_typos(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """One letter of picked words replaced by a QWERTY neighbour ("travel" -> "trabel")."""
    return _edit_words(text, rng, rate, _keyboard)


CHARACTER_EDITS: tuple[Callable[[str, np.random.Generator], str], ...] = (
    _swap,
    _substitute,
    _delete,
    _insert,
    _keyboard,
)
"""The one-word edits an attack tries (DeepWordBug's swap, substitute, delete, insert, and
a keyboard typo)."""


# ------------------------------------------------------------------------ list-based swaps
def _swap_listed(
    text: str, rng: np.random.Generator, rate: float, table: Mapping[str, Sequence[str]]
) -> str:
    spans = [m.span() for m in WORDS.finditer(text) if m.group().lower() in table]
    picked = [spans[i] for i in pick(rng, len(spans), rate)]
    new = []
    for start, stop in picked:
        word = text[start:stop]
        options = table[word.lower()]
        new.append(match_case(word, options[int(rng.integers(len(options)))]))
    return replace_spans(text, picked, new)


@functools.cache
def misspelling_table() -> Mapping[str, tuple[str, ...]]:
    """Correct word -> its common misspellings (``wordlists/misspellings.txt``)."""
    table: dict[str, list[str]] = {}
    for correct, wrong, *_ in word_list("misspellings"):
        table.setdefault(correct, []).append(wrong)
    return {word: tuple(wrong) for word, wrong in table.items()}


@functools.cache
def synonym_table() -> Mapping[str, tuple[str, ...]]:
    """Word -> the other words of its synonym group (``wordlists/synonyms.txt``)."""
    table: dict[str, tuple[str, ...]] = {}
    for group in word_list("synonyms"):
        for word in group:
            table[word] = tuple(other for other in group if other != word)
    return table


def common_misspellings(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """Picked words of the misspellings list written as commonly misspelt ("really" -> "realy")."""
    return _swap_listed(text, rng, rate, misspelling_table())


def synonym_swap(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """Picked words of the synonym list replaced by a synonym ("big" -> "large")."""
    return _swap_listed(text, rng, rate, synonym_table())


@functools.cache
def contraction_pattern() -> tuple[re.Pattern[str], Mapping[str, str]]:
    """A pattern matching every listed contraction and expanded form, and each form's swap."""
    swaps: dict[str, str] = {}
    for short, long, *_ in word_list("contractions"):
        swaps[short] = long
        swaps[long] = short
    forms = sorted(swaps, key=len, reverse=True)
    alternatives = "|".join(
        re.escape(f).replace("'", "['\u2019]").replace(r"\ ", r"\s+") for f in forms
    )
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), swaps


def contraction_form(phrase: str) -> str:
    """A contraction or expanded form as listed: lower case, straight apostrophe, one space."""
    return " ".join(phrase.lower().replace("\u2019", "'").split())


def contractions(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """Picked contractions expanded and expanded forms contracted ("don't" <-> "do not")."""
    pattern, swaps = contraction_pattern()
    matches = list(pattern.finditer(text))
    picked = [matches[i] for i in pick(rng, len(matches), rate)]
    new = [match_case(m.group(), swaps[contraction_form(m.group())]) for m in picked]
    return replace_spans(text, [m.span() for m in picked], new)


@functools.cache
def ocr_confusions() -> tuple[tuple[str, str], ...]:
    """Character sequences an OCR engine confuses: ``(seen, read as)``, both directions."""
    pairs = (("rn", "m"), ("o", "0"), ("l", "1"), ("s", "5"), ("i", "l"), ("e", "c"),
             ("cl", "d"), ("vv", "w"), ("b", "6"), ("g", "9"), ("B", "8"), ("O", "0"),
             ("I", "l"), ("S", "5"), ("Z", "2"))  # fmt: skip
    return pairs + tuple((b, a) for a, b in pairs)


def _ocr_places(word: str) -> list[tuple[int, str, str]]:
    places = []
    for seen, read in ocr_confusions():
        at = word.find(seen)
        while at >= 0:
            places.append((at, seen, read))
            at = word.find(seen, at + 1)
    return places


def ocr_errors(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """One OCR confusion in picked words ("modern" -> "rnodern", "cool" -> "c0ol")."""
    spans = [m.span() for m in WORDS.finditer(text) if _ocr_places(m.group())]
    picked = [spans[i] for i in pick(rng, len(spans), rate)]
    new = []
    for start, stop in picked:
        word = text[start:stop]
        places = _ocr_places(word)
        at, seen, read = places[int(rng.integers(len(places)))]
        new.append(word[:at] + read + word[at + len(seen) :])
    return replace_spans(text, picked, new)


# ------------------------------------------------------------------------------- noise
_NOISE_SPACES = ("  ", "   ", "\t", "\n", " \t ")
_GAPS = re.compile(r"\s+")


def whitespace_noise(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """Picked gaps between words widened (double spaces, tabs, new lines).

    A text of one word gets a space before or after it.
    """
    if not text:
        return text
    gaps = [m.span() for m in _GAPS.finditer(text.strip())]
    offset = len(text) - len(text.lstrip())
    gaps = [(a + offset, b + offset) for a, b in gaps]
    if not gaps:
        return f" {text}" if rng.random() < 0.5 else f"{text} "
    picked = [gaps[i] for i in pick(rng, len(gaps), rate)]
    new = [_NOISE_SPACES[int(rng.integers(len(_NOISE_SPACES)))] for _ in picked]
    return replace_spans(text, picked, new)


_NOISE_MARKS = (",", ".", "!", "?", ";", ":", "...", "!!", "?!", " -")


def punctuation_noise(text: str, rng: np.random.Generator, rate: float = DEFAULT_RATE) -> str:
    """Punctuation marks inserted after picked words ("so good" -> "so, good!!")."""
    ends = [(m.end(), m.end()) for m in WORDS.finditer(text)]
    picked = [ends[i] for i in pick(rng, len(ends), rate)]
    new = [_NOISE_MARKS[int(rng.integers(len(_NOISE_MARKS)))] for _ in picked]
    return replace_spans(text, picked, new)


def perturb_all(
    texts: Sequence[str], perturbation: TextPerturbation, rng: np.random.Generator, rate: float
) -> list[str]:
    """``perturbation`` applied to each text in order, drawing from one generator."""
    return [perturbation(text, rng, rate) for text in texts]
