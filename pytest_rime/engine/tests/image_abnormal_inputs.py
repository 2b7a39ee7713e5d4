"""Abnormal Inputs tests of images: eval images unlike anything the reference holds.

Each test flags eval rows (their positions go into the case, so the run counts the failing
inputs):

- **Blank Images** (``abnormal_inputs.image_blank``): readable images whose grey levels are
  (nearly) constant: contrast (standard deviation of the grey levels) at most
  ``max_contrast``.
- **Image Size and Channels** (``abnormal_inputs.image_size``): two cases, images whose size
  (height x width) no reference image has, and images whose channel count (grey / colour) no
  reference image has.
- **Unreadable Images** (``abnormal_inputs.image_unreadable``): missing, truncated or
  undecodable files, with the file names and errors in the case (never a failed run). The
  model scored each as a black image (:func:`pytest_rime.engine.datatypes.images.images_of`),
  so their measured impact is real.
- **Extreme Image Properties** (``abnormal_inputs.image_extreme_properties``): one case each
  for brightness, contrast and sharpness: readable, non-blank images beyond the reference
  range widened by ``margin`` times its width on each side.

Statistic: the share of eval rows flagged (thresholds 1 %, 5 %, 10 %, as the tabular Abnormal
Inputs tests). Severity: the threshold level capped by the measured model impact on the flagged
rows, the larger of

- the share of the model's skill lost on the flagged rows against the other eval rows (with
  labels; :func:`pytest_rime.engine.impact.metric_impact`; against the reference rows when
  fewer than :data:`MIN_CLEAN_ROWS` eval rows are not flagged), and
- the mean prediction change when the flagged images are repaired and predicted again (all of a
  test's repaired images in ONE model call): a wrong size resized to the most common reference
  size and the reference channel count; an extreme brightness or contrast moved to the
  reference median; an image with nothing to repair (blank, unreadable) replaced by random
  reference images: how differently the model treats it from real images. Extreme sharpness
  has no repair (blur cannot be undone) and keeps the metric impact.

Evidence: each rule is also applied to the reference images, out of fold where the rule is
fitted on ref (ranges, sizes: fitted on nine tenths of ref, applied to the other tenth), which
gives the rate a random split flags; the p-value is the exact binomial test of the flagged eval
count against that rate (rule of succession), so a clean split stays within sampling noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.datatypes.images import image_column, images_of
from pytest_rime.engine.image_properties import grey, properties, read_images
from pytest_rime.engine.image_thumbnails import thumbnail
from pytest_rime.engine.impact import Impact, failure_impact, metric_impact
from pytest_rime.engine.importance import prediction_change
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.results import JSONValue
from pytest_rime.engine.tests.abnormal_inputs import (
    CATEGORY,
    ROW_THRESHOLDS,
    Flags,
    binomial_p_value,
)
from pytest_rime.vocabulary import IMAGES

FOLDS = 10
"""Folds of the reference images for the out-of-fold rate of a rule fitted on ref."""

EXAMPLES = 3
"""Failing examples (thumbnails) per case."""

LISTED_FILES = 20
"""Unreadable files named in a case's metrics at most."""

MIN_CLEAN_ROWS = 30
"""Unflagged eval rows the metric impact compares with at least (else the reference rows)."""

EXTREME_PROPERTIES = ("brightness", "contrast", "sharpness")

Repair = Callable[[RunContext, np.ndarray], list[np.ndarray]]
"""``(ctx, flagged eval positions) -> repaired images of those rows``."""


@dataclass(frozen=True)
class ImageFlags:
    """Eval images one case flags, why, and how to repair them.

    Attributes:
        flags: The flagged rows, what they are, the expected rate (tabular :class:`Flags`).
        checked: Eval images the rule applies to (the binomial test's trials).
        reasons: Per flagged position, a short reason for the examples.
        repair: Repaired images of the flagged rows (``None``: metric impact only).
    """

    flags: Flags
    checked: int
    reasons: Callable[[int], str]
    repair: Repair | None
    extra: dict[str, JSONValue] = field(default_factory=dict)


def _eval_images(ctx: RunContext) -> list[np.ndarray]:
    """The eval images as the model sees them (unreadable: black), read once."""
    return ctx.memo(
        "image_abnormal:eval_images", lambda: images_of(ctx.eval, image_column(ctx.config))
    )


def _random_reference_images(ctx: RunContext, rows: np.ndarray, name: str) -> list[np.ndarray]:
    readable = [read.pixels for read in read_images(ctx, "ref") if read.pixels is not None]
    if not readable:
        return [_eval_images(ctx)[int(row)] for row in rows]
    picks = ctx.rng(name).integers(0, len(readable), rows.size)
    return [readable[int(i)] for i in picks]


def _predicted(ctx: RunContext, frame: pd.DataFrame, images: Sequence[np.ndarray]) -> np.ndarray:
    column = image_column(ctx.config)
    arrays = pd.Series(list(images), index=frame.index, dtype=object)
    return ctx.predict(frame.assign(**{column: arrays}))


def _skill_lost(ctx: RunContext, mask: np.ndarray) -> Impact | None:
    """The tabular metric impact; against the reference rows when few eval rows are clean.

    With fewer than :data:`MIN_CLEAN_ROWS` unflagged eval rows (most of eval is abnormal) the
    flagged rows' loss is compared with the reference rows' loss instead.
    """
    labelled = ctx.labels("eval").notna().to_numpy()
    if np.count_nonzero(~mask & labelled) >= MIN_CLEAN_ROWS:
        return metric_impact(ctx, mask)
    losses = ctx.memo("eval_row_losses", lambda: ctx.row_losses("eval"))
    flagged = losses[mask & labelled]
    ref_losses = ctx.memo("image_abnormal:ref_losses", lambda: ctx.row_losses("ref"))
    clean = ref_losses[ctx.labels("ref").notna().to_numpy()]
    if flagged.size == 0 or clean.size == 0:
        return None
    metrics: dict[str, JSONValue] = {
        "flagged_rows_loss": float(flagged.mean()),
        "ref_rows_loss": float(clean.mean()),
    }
    skill = ctx.baseline_loss() - float(clean.mean())
    if not skill > 0:
        return Impact(None, metrics)
    return Impact(float(np.clip((flagged.mean() - clean.mean()) / skill, 0.0, 1.0)), metrics)


def _impacts(
    ctx: RunContext, cases: Sequence[ImageFlags]
) -> list[tuple[float | None, dict[str, JSONValue]]]:
    """Model impact of each case (module docstring); all repairs predicted in one call."""
    out: list[tuple[list[float], dict[str, JSONValue]]] = [([], {}) for _ in cases]
    rows = [np.flatnonzero(case.flags.mask) for case in cases]
    if not ctx.has_predictions:
        return [(None, {}) for _ in cases]
    todo = [i for i, case in enumerate(cases) if rows[i].size and case.repair is not None]
    if todo and ctx.has_model:
        frame = pd.concat([ctx.eval.iloc[rows[i]] for i in todo])
        try:
            repaired: list[np.ndarray] = []
            for i in todo:
                repair = cases[i].repair
                assert repair is not None
                repaired.extend(repair(ctx, rows[i]))
            changed = _predicted(ctx, frame, repaired)
        except MemoryError:  # the worker reports it as OOMKILLED
            raise
        except Exception as exc:  # the model may fail on the data: report, do not fail the test
            for i in todo:
                failure = failure_impact(ctx, rows[i], exc)
                out[i][1].update(failure.metrics)
                if failure.value is not None:
                    out[i][0].append(failure.value)
        else:
            base = ctx.predictions("eval")
            start = 0
            for i in todo:
                stop = start + rows[i].size
                change = min(1.0, prediction_change(ctx, base[rows[i]], changed[start:stop]))
                out[i][1]["prediction_change"] = change
                out[i][0].append(change)
                start = stop
    if ctx.has_labels:
        for i, flagged in enumerate(rows):
            if not flagged.size:
                continue
            mask = np.zeros(len(ctx.eval), dtype=bool)
            mask[flagged] = True
            metric = _skill_lost(ctx, mask)
            if metric is not None:
                out[i][1].update(metric.metrics)
                if metric.value is not None:
                    out[i][0].append(metric.value)
    return [(max(values) if values else None, metrics) for values, metrics in out]


def _prediction_text(ctx: RunContext, row: int) -> JSONValue:
    label = ctx.labels_of(ctx.predictions("eval")[row : row + 1])[0]
    return label.item() if isinstance(label, np.generic) else str(label)


def _examples(ctx: RunContext, case: ImageFlags, rows: np.ndarray) -> list[JSONValue]:
    column = image_column(ctx.config)
    examples: list[JSONValue] = []
    for row in rows[:EXAMPLES]:
        example: dict[str, JSONValue] = {
            "row": int(row),
            "file": Path(str(ctx.eval[column].iloc[row])).name,
            "reason": case.reasons(int(row)),
            "original": thumbnail(_eval_images(ctx)[int(row)]),
        }
        if ctx.has_predictions:
            example["prediction"] = _prediction_text(ctx, int(row))
        examples.append(example)
    return examples


def _findings(ctx: RunContext, cases: Sequence[ImageFlags]) -> list[Finding]:
    impacts = _impacts(ctx, cases)
    findings = []
    for case, (impact, measured) in zip(cases, impacts, strict=True):
        flags = case.flags
        rows = np.flatnonzero(flags.mask)
        share = rows.size / len(ctx.eval) if len(ctx.eval) else 0.0
        rate = flags.expected_rate
        text = f"{rows.size} eval images ({share:.1%}) are {flags.what}"
        text += f" (a random split flags about {rate:.2%})." if rate is not None else "."
        if rows.size and impact is not None:
            text += f" Model impact on these rows: {impact:.2f}."
        metrics: dict[str, JSONValue] = {
            "failing_fraction": share,
            "flagged_rows": int(rows.size),
            "checked_rows": case.checked,
            **flags.metrics,
            **case.extra,
            **measured,
        }
        if rate is not None:
            metrics["expected_rate"] = rate
        if rows.size:
            metrics["examples"] = _examples(ctx, case, rows)
        findings.append(
            Finding(
                features=flags.features,
                statistic=share,
                description=text,
                metrics=metrics,
                impact=impact if rows.size else None,
                flagged_rows=rows.astype(np.int64),
                p_value=binomial_p_value(flags, case.checked),
            )
        )
    return findings


def _reason_of(name: str, values: np.ndarray) -> Callable[[int], str]:
    """The example reason "<name> <value of the row>"."""

    def reason(row: int) -> str:
        value = values[row]
        return f"{name} {value:.4g}" if isinstance(value, float) else f"{name} {value}"

    return reason


def _succession(flagged: int, checked: int) -> float:
    """Rule of succession: the rate after ``flagged`` of ``checked`` (never 0)."""
    return (flagged + 1) / (checked + 2)


def _out_of_fold_rate(
    ctx: RunContext,
    name: str,
    values: np.ndarray,
    rule: Callable[[np.ndarray], Callable[..., np.ndarray]],
) -> float:
    """The share of reference ``values`` flagged by ``rule`` fitted on the other folds.

    ``rule(fit_values)`` returns the flag function of values; NaN values are not checked.
    """
    finite = np.flatnonzero(~pd.isna(pd.Series(list(values), dtype=object)).to_numpy())
    if finite.size < 2:
        return _succession(0, int(finite.size))
    folds = ctx.rng(f"image_abnormal_folds:{name}").permutation(finite.size) % min(
        FOLDS, finite.size
    )
    flagged = 0
    for fold in range(int(folds.max()) + 1):
        held = finite[folds == fold]
        fitted = finite[folds != fold]
        flagged += int(np.count_nonzero(rule(values[fitted])(values[held])))
    return _succession(flagged, int(finite.size))


# --------------------------------------------------------------------------------- blank
def _blank_mask(ctx: RunContext, which: str, max_contrast: float) -> np.ndarray:
    props = properties(ctx, "ref" if which == "ref" else "eval")
    contrast = props["contrast"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return props["readable"].to_numpy() & (contrast <= max_contrast)


@register_test(
    "abnormal_inputs.image_blank",
    name="Blank Images",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval images that are blank or of one constant grey level (contrast near 0).",
    params={"max_contrast": 1.0},
    data_types=(IMAGES,),
)
def image_blank(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Readable eval images whose grey-level standard deviation is at most ``max_contrast``.

    Severity: the share of flagged rows capped by the measured model impact (module docstring).
    """
    limit = float(settings.params["max_contrast"])
    mask = _blank_mask(ctx, "eval", limit)
    ref_flags = _blank_mask(ctx, "ref", limit)
    ref_checked = int(properties(ctx, "ref")["readable"].sum())
    levels = properties(ctx, "eval")["brightness"].to_numpy(dtype=float)
    flags = Flags(
        ("contrast",),
        mask,
        f"blank (one grey level: contrast <= {limit:g})",
        {"max_contrast": limit, "ref_blank": int(ref_flags.sum())},
        expected_rate=_succession(int(ref_flags.sum()), ref_checked),
    )
    case = ImageFlags(
        flags,
        int(properties(ctx, "eval")["readable"].sum()),
        lambda row: f"blank at grey level {levels[row]:.0f}",
        lambda c, rows: _random_reference_images(c, rows, "image_blank"),
    )
    return _findings(ctx, [case])


# ---------------------------------------------------------------------------- unreadable
@register_test(
    "abnormal_inputs.image_unreadable",
    name="Unreadable Images",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval image files that are missing, truncated or not images (the model scored "
    "them as black images).",
    data_types=(IMAGES,),
)
def image_unreadable(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Eval rows whose image cannot be read, with the file names and errors.

    Severity: the share of flagged rows capped by the measured model impact (module docstring).
    """
    column = image_column(ctx.config)
    reads = read_images(ctx, "eval")
    mask = np.array([read.pixels is None for read in reads], dtype=bool)
    ref_unreadable = sum(read.pixels is None for read in read_images(ctx, "ref"))
    files = ctx.eval[column].astype(str).to_numpy()
    listed: list[JSONValue] = [
        {"row": int(row), "file": Path(files[row]).name, "error": reads[row].error or "unreadable"}
        for row in np.flatnonzero(mask)[:LISTED_FILES]
    ]
    named = "; ".join(
        f"{item['file']}: {item['error']}" for item in listed[:3] if isinstance(item, dict)
    )
    flags = Flags(
        (column,),
        mask,
        "unreadable files" + (f" (e.g. {named})" if named else ""),
        {"unreadable_files": listed, "ref_unreadable": int(ref_unreadable)},
        expected_rate=_succession(int(ref_unreadable), len(ctx.ref)),
    )
    case = ImageFlags(
        flags,
        len(reads),
        lambda row: reads[row].error or "unreadable",
        lambda c, rows: _random_reference_images(c, rows, "image_unreadable"),
    )
    return _findings(ctx, [case])


# ---------------------------------------------------------------------- size and channels
def _size_keys(props: pd.DataFrame) -> np.ndarray:
    keys = [
        f"{h:.0f}x{w:.0f}" if ok else None
        for h, w, ok in zip(props["height"], props["width"], props["readable"], strict=True)
    ]
    return np.array(keys, dtype=object)


def _channel_keys(props: pd.DataFrame) -> np.ndarray:
    return np.array(
        [
            f"{c:.0f}" if ok else None
            for c, ok in zip(props["channels"], props["readable"], strict=True)
        ],
        dtype=object,
    )


def _unseen_rule(fit: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    known = {value for value in fit if value is not None}
    return lambda values: np.array([v is not None and v not in known for v in values], dtype=bool)


def _most_common(values: np.ndarray) -> str | None:
    present = [v for v in values if v is not None]
    return pd.Series(present).mode().iloc[0] if present else None


def _resized(ctx: RunContext, rows: np.ndarray) -> list[np.ndarray]:
    """The flagged images at the most common reference size and channel count."""
    from PIL import Image

    ref = properties(ctx, "ref")
    size = _most_common(_size_keys(ref))
    channels = _most_common(_channel_keys(ref))
    out = []
    for row in rows:
        pixels = _eval_images(ctx)[int(row)]
        if channels == "1" and pixels.ndim == 3:
            pixels = np.clip(np.rint(grey(pixels)), 0, 255).astype(np.uint8)
        elif channels == "3" and pixels.ndim == 2:
            pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        if size is not None:
            height, width = (int(part) for part in size.split("x"))
            if pixels.shape[:2] != (height, width):
                pixels = np.asarray(
                    Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR)
                )
        out.append(pixels)
    return out


@register_test(
    "abnormal_inputs.image_size",
    name="Image Size and Channels",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval images of a size (height x width) or channel count no reference image has.",
    data_types=(IMAGES,),
)
def image_size(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Two cases: eval images of an unseen size, and of an unseen channel count.

    Severity: the share of flagged rows capped by the measured model impact (the change when
    the images are resized / converted to the reference's most common size and channels).
    """
    ref, cur = properties(ctx, "ref"), properties(ctx, "eval")
    cases = []
    for features, keys, what in (
        (("height", "width"), _size_keys, "of a size"),
        (("channels",), _channel_keys, "with a channel count"),
    ):
        ref_keys, eval_keys = keys(ref), keys(cur)
        mask = _unseen_rule(ref_keys)(eval_keys)
        known = sorted({k for k in ref_keys if k is not None})
        unseen = sorted({str(k) for k in eval_keys[mask]})
        shown = ", ".join(known[:5]) + (", ..." if len(known) > 5 else "")
        rate = _out_of_fold_rate(ctx, "_".join(features), ref_keys, _unseen_rule)
        flags = Flags(
            features,
            mask,
            f"{what} no reference image has ({', '.join(unseen[:5]) or 'none'}; ref has {shown})",
            {"ref_values": list(known[:20]), "unseen_values": list(unseen[:20])},
            expected_rate=rate,
        )
        cases.append(
            ImageFlags(
                flags,
                int(cur["readable"].sum()),
                _reason_of("/".join(features), eval_keys),
                _resized,
            )
        )
    return _findings(ctx, cases)


# ----------------------------------------------------------------------------- extremes
def _range_rule(margin: float) -> Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    def rule(fit: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        finite = fit[np.isfinite(fit)]
        if not finite.size:
            return lambda values: np.zeros(values.size, dtype=bool)
        low, high = float(finite.min()), float(finite.max())
        pad = margin * (high - low)

        def flag(values: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore"):
                return np.asarray((values < low - pad) | (values > high + pad), dtype=bool)

        return flag

    return rule


def _moved(name: str) -> Repair:
    """Move brightness (shift) or contrast (scale about the mean) to the reference median."""

    def repair(ctx: RunContext, rows: np.ndarray) -> list[np.ndarray]:
        target = float(properties(ctx, "ref")[name].median())
        out = []
        for row in rows:
            pixels = _eval_images(ctx)[int(row)].astype(float)
            level = grey(pixels)
            if name == "brightness":
                pixels = pixels + (target - level.mean())
            else:
                spread = level.std()
                scale = target / spread if spread > 0 else 1.0
                pixels = level.mean() + (pixels - level.mean()) * scale
            out.append(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
        return out

    return repair


@register_test(
    "abnormal_inputs.image_extreme_properties",
    name="Extreme Image Properties",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval images whose brightness, contrast or sharpness lies beyond the reference "
    "range (widened by a margin).",
    params={"margin": 0.1, "max_contrast": 1.0},
    data_types=(IMAGES,),
)
def image_extreme_properties(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Per property, readable non-blank eval images outside ``[min - m*w, max + m*w]`` of ref.

    ``w`` is the reference range's width and ``m`` the ``margin``; blank images are left to
    Blank Images. Severity: the share of flagged rows capped by the measured model impact.
    """
    margin, limit = float(settings.params["margin"]), float(settings.params["max_contrast"])
    ref, cur = properties(ctx, "ref"), properties(ctx, "eval")
    ref_ok = ref["readable"].to_numpy() & ~_blank_mask(ctx, "ref", limit)
    eval_ok = cur["readable"].to_numpy() & ~_blank_mask(ctx, "eval", limit)
    cases = []
    for name in EXTREME_PROPERTIES:
        ref_values = np.where(ref_ok, ref[name].to_numpy(dtype=float), np.nan)
        eval_values = np.where(eval_ok, cur[name].to_numpy(dtype=float), np.nan)
        rule = _range_rule(margin)
        mask = rule(ref_values)(eval_values) & eval_ok
        finite = ref_values[np.isfinite(ref_values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (np.nan, np.nan)
        flags = Flags(
            (name,),
            mask,
            f"of {name} beyond the reference range [{low:.4g}, {high:.4g}] widened by "
            f"{margin:.0%} on each side",
            {"ref_range": [low, high], "margin": margin},
            expected_rate=_out_of_fold_rate(ctx, f"extreme:{name}", ref_values, rule),
        )
        cases.append(
            ImageFlags(
                flags,
                int(eval_ok.sum()),
                _reason_of(name, eval_values),
                None if name == "sharpness" else _moved(name),
            )
        )
    return _findings(ctx, cases)
