"""Attacks tests of image classifiers: a black-box, query-budgeted L-infinity attack.

**Square Attack** (Andriushchenko, Croce, Flammarion & Hein, ECCV 2020), untargeted, L-infinity:
for each of a seeded sample of evaluation images (``sample_size``, default :data:`SAMPLE_SIZE`)
the attack looks for an image within ``epsilon`` (default 8/255 of the pixel range, i.e. 8
grey levels) of the original, every pixel, whose predicted class differs from the model's
prediction on the original. It only queries the model's probabilities:

1. start from vertical stripes: each column of each channel moved by ``+epsilon`` or
   ``-epsilon`` (random sign);
2. repeat: in a random square window (side ``sqrt(p * h * w)``, ``p`` starting at ``p_init`` and
   halved on the paper's schedule, rescaled to the query budget), set the perturbation of each
   channel to ``+epsilon`` or ``-epsilon`` (random sign); keep the candidate when it lowers the
   margin (probability of the predicted class minus the largest other probability);
3. stop at a changed decision or after ``max_queries`` model queries per image.

To keep predict calls few, each round tries ``candidates_per_round`` (default 4) independent
squares per image and keeps the best (every candidate counts as a query); all candidates of all
images of a round go to the model in ONE call, so an attack costs about ``max_queries /
candidates_per_round`` predict calls. Pixels stay integers in 0..255 (uint8).

- **statistic / impact**: the attack success rate (share of attacked images whose decision
  changed). Thresholds ``(0.2, 0.4, 0.6)`` as for the other attacks.
- **evidence**: ``p_value`` is the exact one-sided binomial test that the success rate exceeds
  the low threshold.
- **severity cap**: a perturbation of a few grey levels is invisible and no property of the
  evaluation images can show it, so the case is a what-if capped at ``max_severity`` (default
  MEDIUM) as tabular Single-Feature Changes is.
- **model crash**: a model that raises on the candidates gives a FAIL with statistic and impact
  1.0 (capped the same way).
- **metrics**: images attacked, successes, rate, epsilon (fraction and grey levels), mean
  queries of the successful attacks, queries used, predict calls, and up to three ``examples``
  (row, thumbnails of the original and attacked image, prediction and its probability before
  and after, queries, largest pixel change).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.datatypes.images import image_column
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.results import JSONValue, Severity
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
from pytest_rime.engine.tests.image_transformations import (
    MAX_EXAMPLES,
    image_example,
    sample_images,
)
from pytest_rime.vocabulary import IMAGES

CATEGORY = "Attacks"
SAMPLE_SIZE = 30
"""Default number of evaluation images attacked."""

MAX_QUERIES = 200
"""Default model queries per attacked image."""

EPSILON = 8 / 255
"""Default L-infinity budget, as a fraction of the pixel range."""

P_INIT = 0.1
"""Default initial share of the image's pixels in a square window."""

CANDIDATES = 4
"""Default candidates tried per image and round."""

_SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
"""Square Attack's iterations (of 10,000) after which the window share ``p`` halves."""


def window_share(p_init: float, queries: int, budget: int) -> float:
    """Square Attack's share ``p`` after ``queries`` of ``budget`` (schedule rescaled)."""
    iteration = int(queries / budget * 10_000)
    halvings = sum(1 for step in _SCHEDULE if iteration > step)
    return float(p_init / 2**halvings)


def margins(predictions: np.ndarray, decision: np.ndarray) -> np.ndarray:
    """Probability of the class ``decision`` names minus the largest other probability.

    Negative when another class is predicted. Label predictions give +1 / -1.
    """
    if predictions.ndim == 2:
        values = np.nan_to_num(predictions.astype(float), nan=0.0)
        rows = np.arange(len(values))
        own = values[rows, decision.astype(np.int64)]
        others = values.copy()
        others[rows, decision.astype(np.int64)] = -np.inf
        result: np.ndarray = own - others.max(axis=1)
        return result
    return np.asarray(2.0 * confidence(predictions, decision) - 1.0, dtype=float)


@dataclass
class _Target:
    """The attack of one sampled image."""

    row: int
    original: np.ndarray
    decision: np.ndarray
    current: np.ndarray
    margin: float = math.inf
    queries: int = 0
    flipped: bool = False
    after: np.ndarray | None = None


def _clipped(original: np.ndarray, delta: np.ndarray) -> np.ndarray:
    values: np.ndarray = np.clip(original.astype(np.int16) + delta, 0, 255).astype(np.uint8)
    return values


def _stripes(image: np.ndarray, eps: int, rng: np.random.Generator) -> np.ndarray:
    channels = image.shape[2:]  # () grey, (3,) colour
    signs = rng.choice(np.array([-eps, eps], dtype=np.int16), size=(1, image.shape[1], *channels))
    return _clipped(image, np.broadcast_to(signs, image.shape))


def _square(target: _Target, eps: int, share: float, rng: np.random.Generator) -> np.ndarray:
    height, width = target.original.shape[:2]
    side = max(1, min(height, width, round(math.sqrt(share * height * width))))
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    delta = target.current.astype(np.int16) - target.original.astype(np.int16)
    channels = target.original.shape[2:]
    signs = rng.choice(np.array([-eps, eps], dtype=np.int16), size=(1, 1, *channels))
    delta[top : top + side, left : left + side] = signs
    return _clipped(target.original, delta)


def _update(target: _Target, candidates: list[np.ndarray], predictions: np.ndarray) -> None:
    decisions = np.repeat(target.decision, len(candidates))
    values = margins(predictions, decisions)
    flips = np.flatnonzero(decision_index(predictions) != decisions)
    best = int(flips[0]) if flips.size else int(np.argmin(values))
    target.queries += len(candidates)
    if flips.size or values[best] < target.margin:
        target.current = candidates[best]
        target.margin = float(values[best])
        target.after = predictions[best : best + 1]
    if flips.size:
        target.flipped = True


def run_attack(
    ctx: RunContext, sample: PerturbationSample, settings: TestSettings
) -> AttackOutcome[_Target]:
    """Attack every readable sampled image (see the module docstring)."""
    column = image_column(ctx.config)
    rng = ctx.rng("image_square_attack")
    budget = int(settings.params["max_queries"])
    per_round = int(settings.params["candidates_per_round"])
    p_init = float(settings.params["p_init"])
    eps = max(1, round(float(settings.params["epsilon"]) * 255))
    decisions = decision_index(sample.base)
    targets = [
        _Target(row, image, decisions[row : row + 1], image)
        for row, image in enumerate(sample_images(sample, column))
        if image is not None
    ]
    calls = 0
    step: list[tuple[_Target, list[np.ndarray]]] = [
        (t, [_stripes(t.original, eps, rng)]) for t in targets
    ]
    while step:
        outputs = predict_variants(ctx, sample, column, [(t.row, c) for t, c in step])
        calls += 1
        if isinstance(outputs, Exception):
            return AttackOutcome(targets, calls, outputs)
        for (target, cands), output in zip(step, outputs, strict=True):
            _update(target, cands, output)
        step = []
        for target in targets:
            left = budget - target.queries
            if target.flipped or left <= 0:
                continue
            share = window_share(p_init, target.queries, budget)
            count = min(per_round, left)
            step.append((target, [_square(target, eps, share, rng) for _ in range(count)]))
    return AttackOutcome(targets, calls)


def _attack_finding(
    ctx: RunContext,
    sample: PerturbationSample,
    settings: TestSettings,
    outcome: AttackOutcome[_Target],
) -> Finding:
    column = image_column(ctx.config)
    won, queries = outcome.won, outcome.queries
    count, successes, rate = len(outcome.targets), len(won), outcome.success_rate
    eps = max(1, round(float(settings.params["epsilon"]) * 255))
    mean_queries = float(np.mean([t.queries for t in won])) if won else None
    examples: list[JSONValue] = []
    for target in sorted(won, key=lambda t: (t.queries, t.row))[:MAX_EXAMPLES]:
        assert target.after is not None
        example = image_example(
            ctx,
            int(sample.positions[target.row]),
            target.original,
            target.current,
            sample.base[target.row : target.row + 1],
            target.after,
        )
        change = np.abs(target.current.astype(int) - target.original.astype(int)).max()
        examples.append({**example, "queries": target.queries, "max_pixel_change": int(change)})
    budget = int(settings.params["max_queries"])
    description = (
        f"A black-box square attack changing each pixel by at most {eps} grey levels "
        f"(epsilon {eps}/255, at most {budget} model queries per image) changed the predicted "
        f"class of {successes} of {count} sampled images ({rate:.0%})"
    )
    if won:
        first = examples[0]
        assert isinstance(first, dict)
        description += (
            f", after {mean_queries:.3g} queries on average; e.g. eval row {first['row']}: "
            f"{first['prediction_before']!r} -> {first['prediction_after']!r}."
        )
    else:
        description += "."
    return attack_finding(
        column,
        outcome,
        description,
        {
            "images_attacked": count,
            "images_not_attacked": len(sample) - count,
            "successful_attacks": successes,
            "attack_success_rate": rate,
            "epsilon": eps / 255,
            "epsilon_grey_levels": eps,
            "mean_queries_successful": mean_queries,
            "queries_used": queries,
            "max_queries": budget,
            "predict_calls": outcome.predict_calls,
            "examples": examples,
        },
        settings.thresholds[0],
    )


@register_test(
    "attacks.image_square_attack",
    name="Image Square Attack",
    category=CATEGORY,
    thresholds=(0.2, 0.4, 0.6),
    description="Share of sampled images whose decision a small black-box L-inf attack flips.",
    needs_model=True,
    params={
        SAMPLE_SIZE_PARAM: SAMPLE_SIZE,
        "max_queries": MAX_QUERIES,
        "epsilon": EPSILON,
        "p_init": P_INIT,
        "candidates_per_round": CANDIDATES,
        "max_severity": "MEDIUM",
    },
    param_choices={"max_severity": ("LOW", "MEDIUM", "HIGH")},
    data_types=(IMAGES,),
)
def image_square_attack(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """The success rate of a query-budgeted square attack within a small L-inf budget.

    Severity: the success rate against the thresholds, capped by itself, needing an exact
    binomial test against the low threshold, and capped at ``max_severity`` (default MEDIUM:
    an invisible perturbation is never in the evaluation images, so this is a what-if); a
    model crash counts as every decision flipped.
    """

    def capped(finding: Finding) -> Finding:
        cap = Severity(settings.params["max_severity"])
        reason = (
            f"Capped at {cap.value} (max_severity): a perturbation of a few grey levels is "
            "invisible and no property of the evaluation images can show it, so the attack is "
            "a what-if."
        )
        return replace(finding, severity_cap=cap, cap_reason=reason)

    return attack_case(
        ctx,
        settings,
        image_column(ctx.config),
        "images",
        run_attack,
        _attack_finding,
        lambda _sample: "No sampled evaluation image can be read.",
        capped,
    )
