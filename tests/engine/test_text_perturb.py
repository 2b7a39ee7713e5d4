"""The text perturbations: deterministic under a seed, doing what their names say, empty-safe."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pytest

from pytest_rime.engine import text_perturb as tp
from pytest_rime.engine.wordlists import word_list

TEXT = (
    "Don't worry: the modern cafe was really good today, and we'll come back soon. "
    "My friend said the coffee is better than last year!"
)

ALL = (
    tp.upper_case,
    tp.lower_case,
    tp.remove_special_characters,
    tp.unicode_to_ascii,
    tp.insert_characters,
    tp.delete_characters,
    tp.substitute_characters,
    tp.swap_characters,
    tp.keyboard_typos,
    tp.common_misspellings,
    tp.ocr_errors,
    tp.synonym_swap,
    tp.contractions,
    tp.whitespace_noise,
    tp.punctuation_noise,
)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def _one_edit_apart(a: str, b: str) -> str | None:
    """The kind of single edit turning ``a`` into ``b`` (brute force), else None."""
    if len(b) == len(a) + 1 and any(b[:i] + b[i + 1 :] == a for i in range(len(b))):
        return "insert"
    if len(b) == len(a) - 1 and any(a[:i] + a[i + 1 :] == b for i in range(len(a))):
        return "delete"
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return "substitute"
        if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]:
            return "swap" if a[diff[1]] == b[diff[0]] else None
    return None


@pytest.mark.parametrize("perturb", ALL, ids=lambda f: f.__name__)
def test_every_perturbation_is_deterministic_under_a_seed(perturb: tp.TextPerturbation) -> None:
    first = [perturb(TEXT, _rng(7), 0.3) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    many = [TEXT, TEXT.lower(), "Short one.", "Café déjà vu"]
    assert tp.perturb_all(many, perturb, _rng(3), 0.2) == tp.perturb_all(
        many, perturb, _rng(3), 0.2
    )


@pytest.mark.parametrize("perturb", ALL, ids=lambda f: f.__name__)
def test_every_perturbation_leaves_empty_text_alone(perturb: tp.TextPerturbation) -> None:
    assert perturb("", _rng(), 0.5) == ""


@pytest.mark.parametrize(
    "perturb",
    [p for p in ALL if p not in (tp.upper_case, tp.lower_case, tp.whitespace_noise)],
    ids=lambda f: f.__name__,
)
def test_a_text_without_candidates_comes_back_unchanged(perturb: tp.TextPerturbation) -> None:
    # no letters, no listed word, no OCR-confusable character, no special character
    assert perturb("   ", _rng(), 0.5) == "   "


def test_case_and_special_characters() -> None:
    assert tp.upper_case("Hello, World", _rng()) == "HELLO, WORLD"
    assert tp.lower_case("Hello, World", _rng()) == "hello, world"
    assert tp.remove_special_characters("Hi, it's 5$ (ok)! a_b", _rng()) == "Hi its 5 ok ab"


def test_unicode_to_ascii_drops_accents_and_keeps_ascii() -> None:
    text = "Café naïve Straße Øre “quoted” — ok 😀"
    folded = tp.unicode_to_ascii(text, _rng())
    assert folded.isascii()
    assert folded == 'Cafe naive Strasse Ore "quoted" - ok '
    # independent check of the accent part: NFKD without combining marks
    plain = "".join(
        c for c in unicodedata.normalize("NFKD", "Café naïve") if not unicodedata.combining(c)
    )
    assert tp.unicode_to_ascii("Café naïve", _rng()) == plain
    assert tp.unicode_to_ascii(TEXT, _rng()) == TEXT  # ASCII stays as it is


@pytest.mark.parametrize(
    ("perturb", "kind"),
    [
        (tp.insert_characters, "insert"),
        (tp.delete_characters, "delete"),
        (tp.substitute_characters, "substitute"),
        (tp.swap_characters, "swap"),
        (tp.keyboard_typos, "substitute"),
    ],
)
def test_character_edits_change_words_by_one_edit_of_their_kind(
    perturb: tp.TextPerturbation, kind: str
) -> None:
    for seed in range(20):
        out = perturb(TEXT, _rng(seed), 0.2)
        before, after = _words(TEXT), _words(out)
        assert len(before) == len(after)  # words are edited, never merged or split
        changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        eligible = sum(1 for w in before if w.isalpha() and len(w) >= tp.MIN_EDIT_LENGTH)
        assert 1 <= len(changed) <= max(1, round(0.2 * eligible))
        for a, b in changed:
            assert _one_edit_apart(a, b) == kind, (a, b)
        # everything outside the words is untouched
        assert re.sub(r"\w+", "", out) == re.sub(r"\w+", "", TEXT)


def test_keyboard_typos_use_neighbouring_keys() -> None:
    near = {row[0]: row[1] for row in word_list("keyboard")}
    for seed in range(20):
        out = tp.keyboard_typos("keyboard typing mistakes", _rng(seed), 1.0)
        for a, b in zip(_words("keyboard typing mistakes"), _words(out), strict=True):
            diff = [i for i in range(len(a)) if a[i] != b[i]]
            assert len(diff) == 1
            assert b[diff[0]] in near[a[diff[0]]]


def test_rate_sets_the_share_of_words_edited() -> None:
    text = " ".join(["word"] * 40)
    for rate, expected in ((0.0, 1), (0.1, 4), (0.5, 20), (1.0, 40)):
        out = tp.substitute_characters(text, _rng(), rate)
        assert sum(1 for w in out.split() if w != "word") == expected


def test_misspellings_and_synonyms_come_from_the_lists() -> None:
    text = "I really believe the weather will be different tomorrow"
    out = tp.common_misspellings(text, _rng(), 1.0)
    table = tp.misspelling_table()
    for a, b in zip(text.split(), out.split(), strict=True):
        assert b == a or b in table[a.lower()]
    assert out == "I realy beleive teh wether will be diffrent tommorow"
    swapped = tp.synonym_swap("The big car was fast", _rng(1), 1.0)
    groups = [set(g) for g in word_list("synonyms")]
    for a, b in zip(["The", "big", "car", "was", "fast"], swapped.split(), strict=True):
        if a != b:
            assert any({a.lower(), b.lower()} <= g for g in groups)
    assert swapped != "The big car was fast"
    # capitalisation follows the original word
    assert tp.synonym_swap("Big", _rng(), 1.0)[0].isupper()


def test_contractions_expand_and_contract() -> None:
    assert tp.contractions("I don't know", _rng(), 1.0) == "I do not know"
    assert tp.contractions("Cats will not go", _rng(), 1.0) == "Cats won't go"
    # the leftmost listed form wins where two overlap
    assert tp.contractions("We will not go", _rng(), 1.0) == "We'll not go"
    assert tp.contractions("DON'T", _rng(), 1.0) == "DO NOT"
    assert tp.contractions("It\u2019s fine", _rng(), 1.0) == "It is fine"
    assert tp.contractions("Nothing here", _rng(), 1.0) == "Nothing here"
    # words containing a listed form are not touched
    assert tp.contractions("island cannoted", _rng(), 1.0) == "island cannoted"


def test_ocr_errors_apply_one_listed_confusion_per_word() -> None:
    pairs = set(tp.ocr_confusions())
    for seed in range(20):
        out = tp.ocr_errors("modern school 2010", _rng(seed), 1.0)
        for a, b in zip(["modern", "school", "2010"], out.split(), strict=True):
            assert a != b
            assert any(
                a[:at] + read + a[at + len(seen) :] == b
                for seen, read in pairs
                for at in range(len(a))
                if a.startswith(seen, at)
            ), (a, b)


def test_whitespace_noise_only_changes_whitespace() -> None:
    for seed in range(10):
        out = tp.whitespace_noise(TEXT, _rng(seed), 0.3)
        assert out != TEXT
        assert out.split() == TEXT.split()
    assert tp.whitespace_noise("word", _rng(), 0.1).strip() == "word"
    assert tp.whitespace_noise("word", _rng(), 0.1) != "word"


def test_punctuation_noise_only_adds_punctuation() -> None:
    for seed in range(10):
        out = tp.punctuation_noise(TEXT, _rng(seed), 0.3)
        assert out != TEXT
        assert _words(out) == _words(TEXT)
        assert len(out) > len(TEXT)


def test_word_lists_have_headers_and_well_formed_lines() -> None:
    for name, fields in (
        ("misspellings", 2),
        ("synonyms", 2),
        ("contractions", 2),
        ("keyboard", 2),
    ):
        entries = word_list(name)
        assert len(entries) >= 10
        assert all(len(entry) >= fields for entry in entries), name
        assert all(field == field.lower() for entry in entries for field in entry), name
    # a misspelling is never itself a correct word of the list, and no real-word pairs
    correct = {row[0] for row in word_list("misspellings")}
    assert not {row[1] for row in word_list("misspellings")} & correct
    # every synonym appears in one group only
    words = [w for group in word_list("synonyms") for w in group]
    assert len(words) == len(set(words))
