"""Bias and Fairness tests of text classifiers (``data_type="nlp"``).

**Identity term swaps** (one test per swap family of the shipped word list
``wordlists/identity_terms.txt``: gendered words, gendered first names, nationalities,
religions): the eval texts that contain a term of the family (whole word, any case) are copied
with every such term swapped for its counterpart in the same line of the list, case preserved
(``He`` -> ``She``, ``MUSLIM`` -> ``JEWISH``); a text's terms all move by the same offset
within their lines, drawn at random per text for families of more than two groups. The model
predicts all swapped texts of the family in ONE call (at most ``sample_size`` texts, a seeded
sample), and the case reports how its decisions moved:

- **statistic**: the share of swapped texts whose decision (predicted label) changed, the
  flip rate. Default thresholds (0.01, 0.03, 0.1): a model flipping a few percent of its
  decisions when only the identity term changes fails at MEDIUM, one flipping a tenth at HIGH.
- **metrics**: texts with a term of the family, texts swapped, decisions flipped, the mean
  absolute change of the probability (binary: of the positive class; multi-class: half the L1
  change of the probability vector), per side of the family (the groups, named by the
  family's first line: ``he`` / ``she``) the texts that mention it and, for binary models, the
  mean signed change of the positive-class probability when swapping away from it, and up to
  three flipped examples (original and swapped text, probabilities before and after).
- **evidence**: a one-sided exact binomial test that the flip probability exceeds
  ``flip_tolerance`` (default 0.01): decisions of texts right at the decision boundary may
  move with any edit, so a handful of flips among many texts is not a finding.
- **impact**: the share of eval texts that mention the family, as the subset tests weigh a
  subset (:func:`~pytest_rime.engine.tests.subset.impact_of_share`): a family mentioned by at
  least 3 % of the eval texts may be HIGH, by 1-3 % at most MEDIUM, by fewer at most LOW.
- **what-if cap**: a swap is a counterfactual. It may be HIGH only when the eval data already
  holds both sides of the swap: at least two groups of the family are each mentioned by
  ``min_side_texts`` eval texts (default 5), e.g. texts about men and texts about women.
  Otherwise the eval population does not show the swapped form and the case is capped at
  MEDIUM.
- a family mentioned by fewer than ``min_texts`` (default 20) eval texts is a SKIP case with
  the count. The tests need a model (they predict new texts).

**Group fairness over metadata**: when ``data_info.protected_features`` names metadata
columns, the tabular Bias and Fairness tests (:mod:`pytest_rime.engine.tests.fairness`:
Demographic Parity, Equal Opportunity, Predictive Equality, Protected Feature Drift,
Discrimination By Proxy) run on them unchanged, registered again here for ``nlp`` under ids
``bias_and_fairness.text_<name>``. A protected column that is the text itself has no groups:
it is a SKIP case, the other protected columns are tested.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.data import TEXT
from pytest_rime.engine.registry import (
    Finding,
    TestFunction,
    TestSettings,
    register_test,
    registered_tests,
)
from pytest_rime.engine.results import JSONValue, Severity
from pytest_rime.engine.tests import fairness
from pytest_rime.engine.tests._families import named_test
from pytest_rime.engine.tests.subset import impact_of_share
from pytest_rime.engine.text import text_col, texts
from pytest_rime.engine.wordlists import word_list
from pytest_rime.vocabulary import MULTICLASS, NLP

CATEGORY = fairness.CATEGORY
WORD_LIST = "identity_terms"
SWAP_THRESHOLDS = (0.01, 0.03, 0.1)
SWAP_PARAMS: Mapping[str, Any] = {
    "sample_size": 1000,
    "min_texts": 20,
    "min_side_texts": 5,
    "flip_tolerance": 0.01,
}
"""``tests_config`` parameters of the swap tests, with their defaults."""

EXAMPLES = 3
MAX_EXAMPLE_CHARS = 300

FamilyName = tuple[str, str]
FAMILY_NAMES: Mapping[str, FamilyName] = {
    "gender": ("Gender Swap", "gendered words"),
    "name": ("Gendered Name Swap", "gendered first names"),
    "nationality": ("Nationality Swap", "nationalities"),
    "religion": ("Religion Swap", "religions"),
}
"""Display name and the terms in words of every family of the shipped list."""


# ------------------------------------------------------------------------------- swaps
@dataclass(frozen=True)
class SwapFamily:
    """The terms of one swap family of the word list.

    Attributes:
        name: The family (first field of its lines).
        lines: The terms of each line, lower case; every line has ``sides`` terms.
        lookup: Each term -> (line, position) of the first line listing it.
        pattern: Any term as a whole word, ignoring case.
    """

    name: str
    lines: tuple[tuple[str, ...], ...]
    lookup: Mapping[str, tuple[int, int]]
    pattern: re.Pattern[str]

    @property
    def sides(self) -> int:
        """How many groups the family holds (terms per line)."""
        return len(self.lines[0])

    @property
    def side_names(self) -> tuple[str, ...]:
        """The groups, named by the family's first line."""
        return self.lines[0]

    def sides_in(self, text: str) -> set[int]:
        """The groups that ``text`` mentions."""
        return {self.lookup[m.group(0).lower()][1] for m in self.pattern.finditer(text)}

    def swap(self, text: str, offset: int) -> str:
        """``text`` with every term moved ``offset`` positions along its line, case kept."""

        def replace(match: re.Match[str]) -> str:
            found = match.group(0)
            line, position = self.lookup[found.lower()]
            return _same_case(found, self.lines[line][(position + offset) % self.sides])

        return self.pattern.sub(replace, text)


def _same_case(original: str, word: str) -> str:
    if len(original) > 1 and original.isupper():
        return word.upper()
    if original[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def swap_families(name: str = WORD_LIST) -> dict[str, SwapFamily]:
    """The swap families of word list ``name``, in file order.

    Raises:
        ValueError: A line has fewer than two terms, or lines of one family differ in length.
    """
    grouped: dict[str, list[tuple[str, ...]]] = {}
    for entry in word_list(name):
        family, terms = entry[0], tuple(term.lower() for term in entry[1:])
        if len(terms) < 2:
            raise ValueError(f"{name}.txt: family {family!r} has a line with fewer than 2 terms")
        lines = grouped.setdefault(family, [])
        if lines and len(lines[0]) != len(terms):
            raise ValueError(
                f"{name}.txt: the lines of family {family!r} differ in length "
                f"({len(lines[0])} and {len(terms)} terms)"
            )
        lines.append(terms)
    families = {}
    for family, lines in grouped.items():
        lookup: dict[str, tuple[int, int]] = {}
        for i, terms in enumerate(lines):
            for j, term in enumerate(terms):
                lookup.setdefault(term, (i, j))
        alternatives = "|".join(re.escape(t) for t in sorted(lookup, key=len, reverse=True))
        pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
        families[family] = SwapFamily(family, tuple(lines), lookup, pattern)
    return families


# ------------------------------------------------------------------------------- test
def _clip(text: str) -> str:
    return text if len(text) <= MAX_EXAMPLE_CHARS else text[: MAX_EXAMPLE_CHARS - 3] + "..."


def _shown(prediction: np.ndarray) -> JSONValue:
    array = np.asarray(prediction)
    if array.ndim == 0:
        value = array.item()
        return float(value) if isinstance(value, float) else str(value)
    return [float(v) for v in array.tolist()]


def prediction_moves(
    ctx: RunContext, before: np.ndarray, after: np.ndarray
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Per row, whether the decision changed and how far the probability moved.

    Binary: |change of the positive-class probability|; probability matrices: half the L1
    change; labels (multi-class without probabilities): 1.0 when the label changed.
    """
    flipped = np.asarray(ctx.labels_of(before) != ctx.labels_of(after), dtype=bool)
    if before.ndim == 2:
        moved = np.abs(before.astype(float) - after.astype(float)).sum(axis=1) / 2
    elif ctx.model_task == MULTICLASS or not np.issubdtype(before.dtype, np.number):
        moved = flipped.astype(float)
    else:
        moved = np.abs(before.astype(float) - after.astype(float))
    return flipped, np.nan_to_num(np.asarray(moved, dtype=float), nan=1.0)


def flip_p_value(flips: int, rows: int, tolerance: float) -> float:
    """One-sided exact binomial p-value of ``flips`` in ``rows`` at flip rate ``tolerance``."""
    if rows == 0:
        return 1.0
    return float(stats.binomtest(flips, rows, tolerance, alternative="greater").pvalue)


def _side_counts(family: SwapFamily, found: list[set[int]]) -> list[int]:
    counts = [0] * family.sides
    for sides in found:
        for side in sides:
            counts[side] += 1
    return counts


def swap_findings(
    ctx: RunContext, settings: TestSettings, family: SwapFamily, what: str
) -> list[Finding]:
    """The case of one swap family (module docstring)."""
    column = text_col(ctx)
    if column not in ctx.eval.columns:
        return [Finding.skip((), f"Skipped: the data has no text column {column!r}.")]
    params = settings.params
    all_texts = texts(ctx, "eval").tolist()
    mentions = [family.sides_in(text) for text in all_texts]
    rows = np.flatnonzero([bool(sides) for sides in mentions])
    min_texts = int(params["min_texts"])
    if rows.size < max(1, min_texts):
        return [
            Finding.skip(
                (column,),
                f"Skipped: {rows.size} eval texts mention {what} (min_texts={min_texts}); too "
                "few to measure the swap.",
            )
        ]
    counts = _side_counts(family, [mentions[i] for i in rows])
    rng = ctx.rng(f"nlp_swap:{family.name}")
    sample_size = int(params["sample_size"])
    sampled = rows if rows.size <= sample_size else np.sort(rng.choice(rows, sample_size, False))
    offsets = rng.integers(1, family.sides, sampled.size)
    swapped = [family.swap(all_texts[i], int(k)) for i, k in zip(sampled, offsets, strict=True)]
    frame = ctx.eval.iloc[sampled].copy()
    frame[column] = swapped
    after = ctx.predict(frame)
    before = ctx.predictions("eval")[sampled]
    flipped, moved = prediction_moves(ctx, before, after)
    flips, n = int(flipped.sum()), int(sampled.size)
    rate = flips / n
    tolerance = float(params["flip_tolerance"])
    p_value = flip_p_value(flips, n, tolerance)
    share = rows.size / max(1, len(all_texts))
    min_side = int(params["min_side_texts"])
    exposed = [family.side_names[s] for s, c in enumerate(counts) if c >= min_side]
    sides: list[JSONValue] = []
    for side, name in enumerate(family.side_names):
        entry: dict[str, JSONValue] = {"side": name, "eval_texts": counts[side]}
        if before.ndim == 1 and np.issubdtype(before.dtype, np.number):
            away = np.asarray([side in mentions[i] for i in sampled], dtype=bool)
            delta = after[away].astype(float) - before[away].astype(float)
            entry["swapped_away"] = int(away.sum())
            entry["mean_probability_change"] = float(delta.mean()) if away.any() else None
        sides.append(entry)
    examples: list[JSONValue] = [
        {
            "original": _clip(all_texts[sampled[i]]),
            "perturbed": _clip(swapped[i]),
            "prediction_before": _shown(before[i]),
            "prediction_after": _shown(after[i]),
        }
        for i in np.flatnonzero(flipped)[:EXAMPLES]
    ]
    cap, reason = None, ""
    if len(exposed) < 2:
        cap = Severity.MEDIUM
        reason = (
            f"Capped at MEDIUM: the eval texts mention {len(exposed)} of the family's groups at "
            f"least {min_side} times ({', '.join(exposed) or 'none'}), so the swapped form is "
            "hypothetical for this population."
        )
    return [
        Finding(
            features=(column,),
            statistic=rate,
            description=(
                f"Swapping {what} in {n} eval texts changed {flips} decisions ({rate:.1%}); the "
                f"probability moved by {float(moved.mean()):.3g} on average; exact binomial "
                f"test against a {tolerance:.0%} flip tolerance: p = {p_value:.2g}. "
                f"{rows.size} eval texts ({share:.1%}) mention {what}."
            ),
            metrics={
                "family": family.name,
                "eval_texts_with_terms": int(rows.size),
                "eval_share_with_terms": share,
                "texts_swapped": n,
                "decisions_flipped": flips,
                "flip_rate": rate,
                "mean_abs_probability_change": float(moved.mean()),
                "flip_tolerance": tolerance,
                "p_value_method": "exact binomial test (one-sided) against flip_tolerance",
                "sides": sides,
                "exposed_sides": list(exposed),
                "examples": examples,
            },
            impact=impact_of_share(share),
            severity_cap=cap,
            cap_reason=reason,
            p_value=p_value,
        )
    ]


def _register_swap(family: SwapFamily) -> None:
    name, what = FAMILY_NAMES.get(
        family.name, (f"{family.name.replace('_', ' ').title()} Swap", f"{family.name} terms")
    )
    slug = re.sub(r"\W+", "_", family.name.lower())
    register_test(
        f"bias_and_fairness.text_{slug}_swap",
        name=name,
        category=CATEGORY,
        thresholds=SWAP_THRESHOLDS,
        description=f"Share of decisions that change when {what} in eval texts are swapped.",
        needs_model=True,
        params=SWAP_PARAMS,
        data_types=(NLP,),
    )(
        named_test(
            f"text_{slug}_swap",
            f"Share of eval texts mentioning {what} whose decision changes when the terms are "
            "swapped for their counterparts.\n\nSeverity: the threshold level, capped by the "
            "share of eval texts that mention the family, and at MEDIUM unless eval mentions "
            "two of its groups (module docstring).",
            lambda ctx, settings: swap_findings(ctx, settings, family, what),
        )
    )


for _family in swap_families().values():
    _register_swap(_family)


# --------------------------------------------------------------- protected metadata columns
TABULAR_FAIRNESS_TESTS = (
    "demographic_parity",
    "equal_opportunity",
    "predictive_equality",
    "protected_feature_drift",
    "discrimination_by_proxy",
)
"""The tabular tests of :mod:`pytest_rime.engine.tests.fairness` also run for ``nlp``."""


def _without_text(func: TestFunction) -> TestFunction:
    """``func`` run on the protected columns that are not the text (a SKIP case for it).

    The tabular tests split a protected column into groups; a text column has none (they
    assume every protected column can be split), so it is dropped from a shallow copy of the
    context, which shares every cache with the original.
    """

    def run(ctx: RunContext, settings: TestSettings) -> list[Finding]:
        info = ctx.config.data_info
        texty = [
            n for n in info.protected_features if getattr(ctx.features.get(n), "type", "") == TEXT
        ]
        if not texty:
            return list(func(ctx, settings))
        skips = [
            Finding.skip(
                (name,),
                f"Skipped: protected feature {name!r} is the text; the group tests need a "
                "metadata column (the identity term swap tests cover the text).",
            )
            for name in texty
        ]
        kept = tuple(n for n in info.protected_features if n not in texty)
        if not kept:
            return skips
        narrowed = copy.copy(ctx)
        narrowed.config = dataclasses.replace(
            ctx.config, data_info=dataclasses.replace(info, protected_features=kept)
        )
        return [*skips, *func(narrowed, settings)]

    return run


def _register_tabular(slug: str) -> None:
    spec = next(s for s in registered_tests() if s.test_id == f"bias_and_fairness.{slug}")
    register_test(
        f"bias_and_fairness.text_{slug}",
        name=spec.name,
        category=spec.category,
        thresholds=spec.thresholds,
        description=spec.description,
        needs_model=spec.needs_model,
        needs_predictions=spec.needs_predictions,
        needs_labels=spec.needs_labels,
        params=spec.params,
        param_choices=spec.param_choices,
        data_types=(NLP,),
    )(named_test(f"text_{slug}", spec.func.__doc__ or spec.description, _without_text(spec.func)))


for _slug in TABULAR_FAIRNESS_TESTS:
    _register_tabular(_slug)
