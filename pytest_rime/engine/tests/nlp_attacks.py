"""Attacks tests of text classifiers: the smallest typo-level edit that flips a decision.

**Character-Level Text Attack** is a black-box, query-budgeted attack in the style of
DeepWordBug and TextBugger, run on a seeded sample of evaluation texts (``sample_size``,
default :data:`SAMPLE_SIZE`); with labels only the texts the model classifies correctly are
attacked (as TextAttack does: flipping a wrong decision does the user no harm), so the
success rate is the accuracy the attack takes away from those texts:

1. *word importance*: each distinct word of a text (at most half the budget of them, a seeded
   choice when there are more) is dropped from the text, all its occurrences at once; the drop
   of the probability of the predicted class ranks the words. All variants of all texts go to
   the model in ONE call.
2. *edits*: the most important words are edited one at a time, each with the candidate edits
   of :data:`pytest_rime.engine.text_perturb.CHARACTER_EDITS` (swap, substitution, deletion,
   insertion of a letter, keyboard typo; all occurrences of the word get the same edit). The
   candidate lowering the predicted class's probability most is kept; the attack of a text
   stops when its decision flips, when ``max_queries`` model queries (the word-importance
   variants included) are spent, or when ``max_words_fraction`` of its words (at least one)
   are edited. Each step predicts the candidates of every text still attacked in ONE call.

- **statistic / impact**: the attack success rate, the share of attacked texts whose decision
  flipped. Thresholds ``(0.2, 0.4, 0.6)``: a typo in the one or two words a short text's
  decision rests on does flip it, so a healthy model is not at 0 (a TF-IDF pipeline on clean
  synthetic splits: 7-22% with the default budget; on real corpora up to about 50% for long
  reviews, where 10% of the words is many words); HIGH means most decisions turn on a few
  typos.
- **evidence**: exact one-sided binomial test that the success rate exceeds the low threshold.
- **exposure**: an attack is a what-if. It can be HIGH only when the eval texts already hold
  typos (:data:`pytest_rime.engine.tests.nlp_transformations.TYPOS`); otherwise it is capped
  at MEDIUM with the measured share in its reason.
- **model crash**: a model that raises on the edited texts gives a FAIL with statistic and
  impact 1.0.
- **metrics**: texts attacked (and misclassified, not attacked), successes, success rate,
  mean words changed by a successful attack, queries used (total and per text), predict
  calls, and up to three ``examples`` (original, perturbed, prediction before and after,
  words changed, queries).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.results import JSONValue
from pytest_rime.engine.robustness import (
    SAMPLE_SIZE_PARAM,
    AttackOutcome,
    PerturbationSample,
    attack_case,
    attack_finding,
    confidence,
    decision_index,
    predict_variants,
)
from pytest_rime.engine.tests.nlp_transformations import (
    MAX_EXAMPLES,
    exposure_capped,
    prediction_example,
)
from pytest_rime.engine.text import text_col
from pytest_rime.engine.text_perturb import CHARACTER_EDITS, MIN_EDIT_LENGTH, WORDS
from pytest_rime.vocabulary import NLP

CATEGORY = "Attacks"
SAMPLE_SIZE = 50
"""Default number of evaluation texts attacked."""

MAX_QUERIES = 100
"""Default model queries per attacked text."""

MAX_WORDS_FRACTION = 0.1
"""Default largest share of a text's words an attack may edit (at least one word)."""


def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)


def drop_word(text: str, word: str) -> str:
    """``text`` without any occurrence of ``word`` (case-insensitive, whole words)."""
    return _word_pattern(word).sub("", text)


def replace_word(text: str, word: str, new: str) -> str:
    """``text`` with every occurrence of ``word`` (case-insensitive, whole words) as ``new``."""
    return _word_pattern(word).sub(lambda _match: new, text)


@dataclass
class _Target:
    """The attack of one sampled text."""

    row: int
    original: str
    decision: np.ndarray
    confidence: float
    words: list[str]
    max_words: int
    current: str = ""
    queries: int = 0
    changed: int = 0
    flipped: bool = False
    ranked: list[str] = field(default_factory=list)
    after: np.ndarray | None = None


def _targets(
    texts: list[str],
    base: np.ndarray,
    attacked: np.ndarray,
    settings: TestSettings,
    rng: np.random.Generator,
) -> list[_Target]:
    budget = int(settings.params["max_queries"])
    fraction = float(settings.params["max_words_fraction"])
    decisions = decision_index(base)
    confidences = confidence(base, decisions)
    targets = []
    for row, text in enumerate(texts):
        if not attacked[row]:
            continue
        found = [m.group() for m in WORDS.finditer(text)]
        words = list(dict.fromkeys(w.lower() for w in found))
        if not words:
            continue
        if len(words) > budget // 2:
            keep = sorted(rng.choice(len(words), size=budget // 2, replace=False))
            words = [words[i] for i in keep]
        max_words = max(1, math.floor(fraction * len(found)))
        targets.append(
            _Target(row, text, decisions[row : row + 1], float(confidences[row]), words, max_words)
        )
        targets[-1].current = text
    return targets


def _candidates(target: _Target, budget: int, rng: np.random.Generator) -> list[str]:
    """The next word's edited texts (empty when the attack of ``target`` is over)."""
    while target.ranked and target.changed < target.max_words:
        word = target.ranked.pop(0)
        match = _word_pattern(word).search(target.current)
        if match is None or len(word) < MIN_EDIT_LENGTH:
            continue
        shown = match.group()
        edits = list(dict.fromkeys(edit(shown, rng) for edit in CHARACTER_EDITS))
        edits = [e for e in edits if e.lower() != shown.lower()][: budget - target.queries]
        if not edits:
            return []
        return [replace_word(target.current, word, e) for e in edits]
    return []


def correct_rows(ctx: RunContext, sample: PerturbationSample) -> np.ndarray:
    """Sampled rows to attack: those the model gets right (all rows without labels)."""
    if sample.labels is None:
        return np.ones(len(sample), dtype=bool)
    labels = sample.labels.to_numpy()
    return np.asarray(ctx.labels_of(sample.base) == labels, dtype=bool)


def run_attack(
    ctx: RunContext, sample: PerturbationSample, settings: TestSettings
) -> AttackOutcome[_Target]:
    """Attack every sampled text with words (see the module docstring)."""
    column = text_col(ctx)
    rng = ctx.rng("nlp_attack")
    budget = int(settings.params["max_queries"])
    originals = sample.inputs[column].astype(str).tolist()
    targets = _targets(originals, sample.base, correct_rows(ctx, sample), settings, rng)
    calls = 0
    if targets:  # every target has a word
        dropped = [(t.row, [drop_word(t.original, w) for w in t.words]) for t in targets]
        outputs = predict_variants(ctx, sample, column, dropped)
        calls += 1
        if isinstance(outputs, Exception):
            return AttackOutcome(targets, calls, outputs)
        for target, output in zip(targets, outputs, strict=True):
            scores = confidence(output, np.repeat(target.decision, len(output)))
            drop = target.confidence - scores
            order = np.argsort(-drop, kind="stable")
            target.ranked = [target.words[i] for i in order]
            target.queries = len(output)
    active = list(targets)
    while active:
        step = [(t, _candidates(t, budget, rng)) for t in active]
        step = [(t, c) for t, c in step if c]
        if not step:
            break
        outputs = predict_variants(ctx, sample, column, [(t.row, c) for t, c in step])
        calls += 1
        if isinstance(outputs, Exception):
            return AttackOutcome(targets, calls, outputs)
        active = []
        for (target, cands), preds in zip(step, outputs, strict=True):
            target.queries += len(cands)
            decisions = np.repeat(target.decision, len(cands))
            scores = confidence(preds, decisions)
            flips = np.flatnonzero(decision_index(preds) != decisions)
            best = int(flips[np.argmin(scores[flips])]) if flips.size else int(np.argmin(scores))
            if flips.size or scores[best] < target.confidence:
                target.current, target.confidence = cands[best], float(scores[best])
                target.after = preds[best : best + 1]
                target.changed += 1
            if flips.size:
                target.flipped = True
            elif target.queries < budget:
                active.append(target)
    return AttackOutcome(targets, calls)


def _attack_finding(
    ctx: RunContext,
    sample: PerturbationSample,
    settings: TestSettings,
    outcome: AttackOutcome[_Target],
) -> Finding:
    column = text_col(ctx)
    won, queries = outcome.won, outcome.queries
    count, successes, rate = len(outcome.targets), len(won), outcome.success_rate
    mean_changed = float(np.mean([t.changed for t in won])) if won else None
    examples: list[JSONValue] = []
    for target in sorted(won, key=lambda t: (t.changed, t.row))[:MAX_EXAMPLES]:
        assert target.after is not None
        example = prediction_example(
            ctx,
            target.original,
            target.current,
            sample.base[target.row : target.row + 1],
            target.after,
        )
        examples.append({**example, "words_changed": target.changed, "queries": target.queries})
    budget = int(settings.params["max_queries"])
    which = "correctly classified sampled" if sample.labels is not None else "sampled"
    description = (
        f"A character-level attack (at most {budget} model queries per text) flipped the "
        f"predicted class of {successes} of {count} {which} texts ({rate:.0%})"
    )
    if won:
        first = examples[0]
        assert isinstance(first, dict)
        description += (
            f", changing {mean_changed:.2g} words on average; e.g. {first['original']!r} -> "
            f"{first['perturbed']!r} ({first['prediction_before']!r} -> "
            f"{first['prediction_after']!r})."
        )
    else:
        description += "."
    return attack_finding(
        column,
        outcome,
        description,
        {
            "texts_attacked": count,
            "texts_not_attacked": len(sample) - count,
            "texts_misclassified": int((~correct_rows(ctx, sample)).sum()),
            "successful_attacks": successes,
            "attack_success_rate": rate,
            "mean_words_changed": mean_changed,
            "queries_used": queries,
            "mean_queries": queries / count,
            "max_queries": budget,
            "predict_calls": outcome.predict_calls,
            "examples": examples,
        },
        settings.thresholds[0],
    )


@register_test(
    "attacks.text_character_attack",
    name="Character-Level Text Attack",
    category=CATEGORY,
    thresholds=(0.2, 0.4, 0.6),
    description="Share of sampled texts whose decision a few typo-like word edits flip.",
    needs_model=True,
    params={
        SAMPLE_SIZE_PARAM: SAMPLE_SIZE,
        "max_queries": MAX_QUERIES,
        "max_words_fraction": MAX_WORDS_FRACTION,
    },
    data_types=(NLP,),
)
def text_character_attack(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """The attack success rate of a query-budgeted, word-importance-guided typo attack.

    Severity: the success rate against the thresholds, capped by itself, needing an exact
    binomial test against the low threshold, and capped at MEDIUM unless the eval texts already
    hold typos; a model crash counts as every decision flipped.
    """
    return attack_case(
        ctx,
        settings,
        text_col(ctx),
        "texts",
        run_attack,
        _attack_finding,
        _no_target,
        lambda finding: exposure_capped(ctx, finding, "typos"),
    )


def _no_target(sample: PerturbationSample) -> str:
    reason = "No sampled text has a word to attack"
    if sample.labels is not None:
        reason += " among those the model classifies correctly"
    return f"{reason}."
