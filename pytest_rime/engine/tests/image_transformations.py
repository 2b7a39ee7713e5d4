"""Transformations tests of image classifiers: graded corruptions as in ImageNet-C.

Each test corrupts a seeded sample of evaluation images (``sample_size``, default
:data:`SAMPLE_SIZE`) with one corruption of :mod:`pytest_rime.engine.image_perturb` at each
strength 1..5 (flips have no strength), stacks every corrupted image of every strength into
one frame and predicts it in ONE call (:func:`pytest_rime.engine.robustness.predict_edits`).
Unreadable images and images the corruption leaves unchanged (colour jitter of a grey image)
are left out. One case per test.

- **statistic / impact**: the share of corrupted images whose decision changed (another
  predicted class) at the *judged* strength: the worst strength up to ``judged_strength``
  (default 3, ImageNet-C's middle severity; ties go to the lower strength). The metrics hold the
  rate, and with labels the accuracy before and after, at every strength (``by_strength``), so
  the full curve is visible whatever is judged. Thresholds ``(0.05, 0.15, 0.3)`` as for tabular
  transformations.
- **evidence**: ``p_value`` is the exact one-sided binomial test that the model's flip rate at
  the judged strength exceeds the low threshold (a clean image never flips, so the question
  is whether the flips seen could come from a model flipping at most that often), multiplied
  by the number of strengths the worst was chosen from (Bonferroni). With labels each strength
  also reports the exact one-sided McNemar test that the corruption made the model wrong more
  often than right (``mcnemar_p_value``).
- **exposure**: a transformation is a what-if. The case can be HIGH only when the evaluation
  images already show what the corruption does, measured by the image property it changes
  (:mod:`pytest_rime.engine.image_properties`): blur -> sharpness below the reference minimum;
  Gaussian / shot noise and randomized pixels -> sharpness above the reference maximum;
  brightness -> brightness outside the reference range; contrast -> contrast below the
  reference minimum; colour jitter -> colourfulness outside the reference range; JPEG -> image
  files stored as JPEG while the reference has significantly fewer. Exposed means at least
  :data:`EXPOSURE_SHARE` of the eval images show it and more than chance puts there (exact
  binomial test below the run's ``significance_level``: a new image of the reference's
  distribution falls below the minimum of ``n`` reference images with probability
  ``1 / (n + 1)``, outside the range with ``2 / (n + 1)``).
  Flips are not visible in any single property, so they are measured by orientation: each
  image (grey, resized to 16 x 16) is compared with the mean reference image and with its
  mirror; an image closer to the mirror "looks flipped". The eval images are exposed when
  their share looking flipped exceeds that of a held-out half of the reference (read against
  the other half's mean image) by at least :data:`EXPOSURE_SHARE` and significantly (one-sided
  Fisher exact test). Data whose mean image is symmetric (the flip does not show on average)
  is never exposed: the flip tests then stay at MEDIUM at most, which is the honest answer.
  Pixelation, rotation and translation change no property measured here: those cases are
  always capped at MEDIUM.
- **flips that change the class**: when the labels depend on orientation (objects at the top
  vs the bottom under a vertical flip), a changed decision on a flipped image is right, not a
  weakness. The mean reference image of each class is mirrored: when, for at least
  :data:`CLASS_SWAP_SHARE` of the reference images, it looks most like another class's mean
  image (correlation at least :data:`SWAP_CORRELATION` and above the two classes' unflipped
  correlation), the flip case is capped at LOW (``flip_class_swap_share`` in the metrics).
- **model crash**: a model that raises on the corrupted images gives a FAIL with statistic and
  impact 1.0 (capped like any other case when not exposed).
- **metrics**: images corrupted, judged strength, decisions changed, rate, the per-strength
  table, the exposure measured, ``predict_calls`` (1), and up to three ``examples`` of changed
  decisions at the judged strength (thumbnails of the original and corrupted image, row,
  prediction and its probability before and after).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.datatypes.images import image_column
from pytest_rime.engine.image_io import pixels_of
from pytest_rime.engine.image_perturb import (
    STRENGTHS,
    ImagePerturbation,
    brightness,
    colour_jitter,
    contrast,
    gaussian_blur,
    gaussian_noise,
    horizontal_flip,
    jpeg_compression,
    pixelate,
    randomize_pixels,
    rotation,
    shot_noise,
    translation,
    vertical_flip,
)
from pytest_rime.engine.image_properties import grey, properties
from pytest_rime.engine.image_thumbnails import thumbnail
from pytest_rime.engine.registry import Finding, TestSettings
from pytest_rime.engine.results import JSONValue, Severity
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
    object_array,
    paired_losses,
    perturbation_sample,
    predict_edits,
    prediction_change,
    what_if_capped,
)
from pytest_rime.engine.tests.transformations import TransformationSpec, register_transformation
from pytest_rime.vocabulary import IMAGES

SAMPLE_SIZE = 200
"""Default number of evaluation images each test corrupts (x 5 strengths per predict call)."""

JUDGED_STRENGTH = 3
"""Default ``judged_strength``: the case is judged on the worst strength up to this one."""

MAX_EXAMPLES = 3
"""Examples of changed decisions kept in a case's metrics."""

TEMPLATE_SIDE = 16
"""Side of the grey images compared for the orientation (flip) exposure."""

JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")


# ------------------------------------------------------------------------------ exposure
Side = Literal["below", "above", "outside"]


def property_exposure(ctx: RunContext, prop: str, side: Side) -> ExposureMeasure:
    """Eval images whose ``prop`` is beyond the reference range on ``side`` (see module doc)."""
    ref = properties(ctx, "ref")[prop].dropna().to_numpy(dtype=float)
    cur = properties(ctx, "eval")[prop].dropna().to_numpy(dtype=float)
    if ref.size == 0:
        return ExposureMeasure(0.0, 0.0, None, False)
    low, high = float(ref.min()), float(ref.max())
    below, above = cur < low, cur > high
    hits = {"below": below, "above": above, "outside": below | above}[side]
    tails = 2 if side == "outside" else 1
    return binomial_exposure(ctx, int(hits.sum()), int(cur.size), tails / (ref.size + 1))


def jpeg_exposure(ctx: RunContext) -> ExposureMeasure:
    """Eval image files stored as JPEG, against the reference's share of JPEG files."""
    column = image_column(ctx.config)

    def jpeg_share(which: Literal["ref", "eval"]) -> tuple[int, int]:
        values = ctx.frame(which)[column]
        names = [str(v).lower() for v in values if isinstance(v, str) and v]
        return sum(1 for n in names if n.endswith(JPEG_SUFFIXES)), len(values)

    ref_hits, ref_total = jpeg_share("ref")
    hits, total = jpeg_share("eval")
    baseline = ref_hits / ref_total if ref_total else 0.0
    return binomial_exposure(ctx, hits, total, baseline)


def _orientation_images(
    ctx: RunContext, which: Literal["ref", "eval"]
) -> tuple[np.ndarray, np.ndarray]:
    """Readable images of ``which`` as grey 16 x 16 floats (``(n, 16, 16)``), and which rows."""
    from PIL import Image

    from pytest_rime.engine.image_properties import read_images

    def compute() -> tuple[np.ndarray, np.ndarray]:
        rows, readable = [], []
        for read in read_images(ctx, which):
            readable.append(read.pixels is not None)
            if read.pixels is None:
                continue
            level = Image.fromarray(np.clip(grey(read.pixels), 0, 255).astype(np.uint8))
            small = level.resize((TEMPLATE_SIDE, TEMPLATE_SIDE), Image.Resampling.BILINEAR)
            rows.append(np.asarray(small, dtype=float))
        images = np.stack(rows) if rows else np.empty((0, TEMPLATE_SIDE, TEMPLATE_SIDE))
        return images, np.asarray(readable, dtype=bool)

    return ctx.memo(f"images.orientation:{which}", compute)


def _correlations(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Pearson correlation of each image (``(n, s, s)``) with ``reference`` (0 if constant)."""
    flat = images.reshape(len(images), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    ref = reference.ravel() - reference.mean()
    norms = np.linalg.norm(flat, axis=1) * np.linalg.norm(ref)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = (flat @ ref) / norms
    result: np.ndarray = np.nan_to_num(values, nan=0.0)
    return result


def looks_mirrored(images: np.ndarray, template: np.ndarray, axis: int) -> np.ndarray:
    """Images (``(n, s, s)``) more correlated with the mirrored ``template`` than with it.

    ``axis`` 1 mirrors left-right, 0 upside-down. Constant images (no correlation) are False.
    """
    mirrored = _correlations(images, np.flip(template, axis=axis))
    result: np.ndarray = mirrored > _correlations(images, template) + 1e-9
    return result


def flip_exposure(ctx: RunContext, axis: int) -> ExposureMeasure:
    """Eval images that look mirrored against the reference (see the module docstring)."""
    from scipy import stats

    ref = _orientation_images(ctx, "ref")[0]
    cur = _orientation_images(ctx, "eval")[0]
    if len(ref) < 2 or len(cur) == 0:
        return ExposureMeasure(0.0, 0.0, None, False)
    order = ctx.rng("images.orientation_split").permutation(len(ref))
    half = len(ref) // 2
    known, held_out = ref[order[:half]], ref[order[half:]]
    base_hits = int(looks_mirrored(held_out, known.mean(axis=0), axis).sum())
    hits = int(looks_mirrored(cur, ref.mean(axis=0), axis).sum())
    share, baseline = hits / len(cur), base_hits / len(held_out)
    table = [[hits, len(cur) - hits], [base_hits, len(held_out) - base_hits]]
    p_value = float(stats.fisher_exact(table, alternative="greater")[1])
    exposed = share - baseline >= EXPOSURE_SHARE and p_value < ctx.config.significance_level
    return ExposureMeasure(share, baseline, p_value, exposed)


def flip_class_swap(ctx: RunContext, axis: int) -> float | None:
    """Share of reference images whose class's mirrored mean image is nearest another class's.

    The mean (16 x 16 grey) image of each reference class is mirrored and compared with every
    class's mean image; a class whose mirror is most correlated with another class's mean, at
    least :data:`SWAP_CORRELATION` and more than its own mean is correlated with that class's,
    is turned into that class by the flip (top vs bottom objects under a vertical flip).
    ``None`` without reference labels or with fewer than two classes.
    """
    if not ctx.has_labels:
        return None
    images, readable = _orientation_images(ctx, "ref")
    labels = ctx.labels("ref").to_numpy()[readable]
    known = np.asarray(~pd.isna(labels), dtype=bool)
    images, labels = images[known], labels[known]
    classes = list(pd.unique(labels))
    if len(classes) < 2:
        return None
    templates = np.stack([images[labels == c].mean(axis=0) for c in classes])
    swapped = 0
    for index, name in enumerate(classes):
        mirror = np.flip(templates[index], axis=axis)[None]
        similar = [float(_correlations(mirror, t)[0]) for t in templates]
        nearest = int(np.argmax(similar))
        unflipped = float(_correlations(templates[index][None], templates[nearest])[0])
        if nearest != index and similar[nearest] >= max(SWAP_CORRELATION, unflipped):
            swapped += int(np.count_nonzero(labels == name))
    return swapped / len(labels)


SWAP_CORRELATION = 0.5
"""Least correlation of a class's mirrored mean image with another class's mean image for the
flip to count as turning one class into the other."""

CLASS_SWAP_SHARE = 0.5
"""Share of reference images whose class a flip turns into another (see
:func:`flip_class_swap`) from which a flip test is capped at LOW."""


def class_swap_capped(ctx: RunContext, finding: Finding, axis: int) -> Finding:
    """``finding`` capped at LOW when the flip turns most reference classes into others."""
    share = flip_class_swap(ctx, axis)
    if finding.statistic is None or share is None:
        return finding
    finding = replace(finding, metrics={**finding.metrics, "flip_class_swap_share": share})
    if share < CLASS_SWAP_SHARE:
        return finding
    reason = (
        f"Capped at LOW: for {share:.0%} of the reference images, the mirrored mean image of "
        "their class looks most like another class's mean image, so the flip changes what "
        "the image shows and a changed decision is expected."
    )
    return replace(finding, severity_cap=Severity.LOW, cap_reason=reason)


@dataclass(frozen=True)
class Exposure:
    """How the eval images can show what a corruption does.

    Attributes:
        what: The effect in words, completing "N% of the evaluation images show ...".
        measure: Measures it on a run (``None``: no property shows it; always capped).
    """

    what: str
    measure: Callable[[RunContext], ExposureMeasure] | None


def _by_property(prop: str, side: Side) -> Callable[[RunContext], ExposureMeasure]:
    return lambda ctx: property_exposure(ctx, prop, side)


EXPOSURES: dict[str, Exposure] = {
    "blur": Exposure("sharpness below the reference range", _by_property("sharpness", "below")),
    "noise": Exposure("sharpness above the reference range", _by_property("sharpness", "above")),
    "brightness": Exposure(
        "brightness outside the reference range", _by_property("brightness", "outside")
    ),
    "contrast": Exposure("contrast below the reference range", _by_property("contrast", "below")),
    "colour": Exposure(
        "colourfulness outside the reference range", _by_property("colourfulness", "outside")
    ),
    "jpeg": Exposure("JPEG files (beyond the reference's share)", jpeg_exposure),
    "horizontal_flip": Exposure(
        "a left-right orientation mirrored against the reference", lambda c: flip_exposure(c, 1)
    ),
    "vertical_flip": Exposure(
        "an upside-down orientation against the reference", lambda c: flip_exposure(c, 0)
    ),
    "pixelation": Exposure("pixelation", None),
    "rotation": Exposure("rotation", None),
    "translation": Exposure("translation", None),
}
"""How each corruption shows in eval images (keys: :attr:`ImageTransformation.exposure`)."""


def measure_exposure(ctx: RunContext, key: str) -> ExposureMeasure | None:
    """:data:`EXPOSURES` ``[key]`` measured on the run (once), ``None`` when unmeasurable."""
    measure = EXPOSURES[key].measure
    if measure is None:
        return None
    return ctx.memo(f"images.exposure:{key}", lambda: measure(ctx))


def exposure_capped(ctx: RunContext, finding: Finding, key: str) -> Finding:
    """``finding`` with its exposure in the metrics, capped at MEDIUM when not exposed.

    A cap the finding already has at MEDIUM or below stays (with its reason).
    """
    if finding.statistic is None:
        return finding
    what = EXPOSURES[key].what
    measure = measure_exposure(ctx, key)
    if measure is not None:
        finding = replace(finding, metrics={**finding.metrics, **measure.metrics()})
        if measure.exposed:
            return finding
    if measure is None:
        held = f"no image property measured here shows {what} in the evaluation images"
    else:
        held = (
            f"{measure.share:.1%} of the evaluation images show {what}, against "
            f"{measure.baseline:.1%} expected (HIGH needs {EXPOSURE_SHARE:.0%} and "
            "significantly more)"
        )
    return what_if_capped(finding, held)


# ------------------------------------------------------------------------- measured change
def image_example(
    ctx: RunContext,
    row: int,
    original: np.ndarray,
    perturbed: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
) -> dict[str, JSONValue]:
    """An example: eval ``row``, thumbnails, predicted class and its probability before/after.

    ``before`` and ``after`` are one row of normal-form predictions each.
    """
    return {
        "row": row,
        "original": thumbnail(original),
        "perturbed": thumbnail(perturbed),
        **prediction_change(ctx, before, after),
    }


def sample_images(sample: PerturbationSample, column: str) -> list[np.ndarray | None]:
    """The decoded sampled images (``None`` where unreadable)."""
    return [pixels_of(value).pixels for value in sample.inputs[column]]


@dataclass(frozen=True)
class _Level:
    """The corrupted images of one strength: sample rows and images, then predictions."""

    strength: int | None
    rows: np.ndarray
    images: list[np.ndarray]


def _strength_metrics(
    ctx: RunContext, sample: PerturbationSample, level: _Level, predictions: np.ndarray, low: float
) -> tuple[dict[str, JSONValue], np.ndarray]:
    base = sample.base[level.rows]
    changed = decision_changed(ctx, sample, base, predictions)
    count, flips = int(level.rows.size), int(changed.sum())
    entry: dict[str, JSONValue] = {
        "strength": level.strength,
        "images": count,
        "decisions_changed": flips,
        "decision_change_rate": flips / count,
        "flip_p_value": flip_p_value(flips, count, low),
    }
    losses = paired_losses(ctx, sample, level.rows, base, predictions)
    if losses is not None:
        before, after = 1.0 - float(losses.before.mean()), 1.0 - float(losses.after.mean())
        entry.update(
            rows_worse=int(np.count_nonzero(losses.change > 0)),
            rows_better=int(np.count_nonzero(losses.change < 0)),
            accuracy_before=before,
            accuracy_after=after,
            accuracy_drop=before - after,
            mcnemar_p_value=losses.p_value,
        )
    return entry, changed


def _percent(rate: JSONValue) -> str:
    return f"{float(rate):.0%}" if isinstance(rate, int | float) else "?"


def measured_finding(
    ctx: RunContext,
    settings: TestSettings,
    sample: PerturbationSample,
    originals: list[np.ndarray | None],
    levels: list[_Level],
    predictions: list[np.ndarray],
    what: str,
) -> Finding:
    """The case of one corruption from its predictions at every strength."""
    low = settings.thresholds[0]
    table: list[dict[str, JSONValue]] = []
    changes: list[np.ndarray] = []
    for level, preds in zip(levels, predictions, strict=True):
        entry, changed = _strength_metrics(ctx, sample, level, preds, low)
        table.append(entry)
        changes.append(changed)
    judged_limit = int(settings.params.get("judged_strength", JUDGED_STRENGTH))
    candidates = [
        i for i, lv in enumerate(levels) if lv.strength is None or lv.strength <= judged_limit
    ] or [0]
    rates = [float(changes[i].mean()) for i in candidates]
    pick = candidates[int(np.argmax(rates))]
    level, changed, entry = levels[pick], changes[pick], table[pick]
    count, flips = int(level.rows.size), int(changed.sum())
    rate = flips / count
    p_value = min(1.0, len(candidates) * flip_p_value(flips, count, low))
    examples: list[JSONValue] = []
    for i in np.flatnonzero(changed)[:MAX_EXAMPLES]:
        row = int(level.rows[i])
        original = originals[row]
        assert original is not None
        examples.append(
            {
                **image_example(
                    ctx,
                    int(sample.positions[row]),
                    original,
                    level.images[i],
                    sample.base[row : row + 1],
                    predictions[pick][i : i + 1],
                ),
                "strength": level.strength,
            }
        )
    at = "" if level.strength is None else f" at strength {level.strength} of 5"
    description = (
        f"With {what}{at}, {flips} of {count} sampled images changed their predicted class "
        f"({rate:.1%})."
    )
    if "accuracy_before" in entry:
        description += (
            f" Accuracy on those images: {float(entry['accuracy_before']):.3g} -> "
            f"{float(entry['accuracy_after']):.3g}."
        )
    if len(levels) > 1:
        curve = ", ".join(_percent(e["decision_change_rate"]) for e in table)
        description += f" Changed decisions at strengths 1-5: {curve}."
    metrics: dict[str, JSONValue] = {
        "images_perturbed": count,
        "images_not_perturbed": len(sample) - count,
        "judged_strength": level.strength,
        "decisions_changed": flips,
        "decision_change_rate": rate,
        "by_strength": list(table),
        "predict_calls": 1,
        "examples": examples,
    }
    for key in (
        "accuracy_before",
        "accuracy_after",
        "accuracy_drop",
        "rows_worse",
        "rows_better",
        "mcnemar_p_value",
    ):
        if key in entry:
            metrics[key] = entry[key]
    return Finding(
        features=(image_column(ctx.config),),
        statistic=rate,
        impact=rate,
        description=description,
        metrics=metrics,
        p_value=p_value,
    )


def _corrupt(
    originals: list[np.ndarray | None],
    corruption: ImagePerturbation,
    graded: bool,
    rng: np.random.Generator,
) -> list[_Level]:
    levels = []
    for strength in STRENGTHS if graded else (None,):
        rows, images = [], []
        for row, image in enumerate(originals):
            if image is None:
                continue
            new = corruption(image, strength or 1, rng)
            if not np.array_equal(new, image):
                rows.append(row)
                images.append(new)
        if rows:
            levels.append(_Level(strength, np.asarray(rows, dtype=np.int64), images))
    return levels


def transformation_findings(
    ctx: RunContext, settings: TestSettings, spec: ImageTransformation
) -> list[Finding]:
    """The case of one image corruption (see the module docstring)."""
    column = image_column(ctx.config)
    sample = perturbation_sample(ctx, int(settings.params[SAMPLE_SIZE_PARAM]))
    if len(sample) == 0:
        return [Finding.skip((), "The evaluation data has no images to transform.")]
    originals = sample_images(sample, column)
    if all(image is None for image in originals):
        return [Finding.skip((column,), "No sampled evaluation image can be read.")]
    levels = _corrupt(originals, spec.corruption, spec.graded, ctx.rng(f"images:{spec.slug}"))
    if not levels:
        return [Finding.skip((column,), spec.unchanged_reason)]
    rows = np.concatenate([level.rows for level in levels])
    values = object_array([image for level in levels for image in level.images])
    output = predict_edits(ctx, sample, [Edit(column, rows, values)])[0]
    if isinstance(output, Exception):
        inputs = f"{rows.size} sampled images with {spec.what}"
        finding = crash_finding(column, output, inputs, {"images_perturbed": int(rows.size)})
    else:
        bounds = np.cumsum([0, *(level.rows.size for level in levels)])
        predictions = [output[a:b] for a, b in itertools.pairwise(bounds)]
        finding = measured_finding(ctx, settings, sample, originals, levels, predictions, spec.what)
    finding = exposure_capped(ctx, finding, spec.exposure)
    if spec.flip_axis is not None:
        finding = class_swap_capped(ctx, finding, spec.flip_axis)
    return [finding]


# ---------------------------------------------------------------------------- the tests
@dataclass(frozen=True)
class ImageTransformation(TransformationSpec):
    """One image Transformations test.

    Attributes:
        corruption: The corruption of :mod:`pytest_rime.engine.image_perturb`.
        what: The corruption in words, completing "With ..., N images changed".
        exposure: How eval images show it (a key of :data:`EXPOSURES`).
        graded: Applied at strengths 1..5 (else once: flips).
        flip_axis: For flips, the mirrored axis (1 left-right, 0 upside-down): the case is
            capped at LOW when the flip turns reference classes into others.
        unchanged_reason: The SKIP reason when it changes no sampled image.
    """

    corruption: ImagePerturbation
    what: str
    exposure: str
    graded: bool = True
    flip_axis: int | None = None
    unchanged_reason: str = "The corruption changes no sampled image."


IMAGE_TRANSFORMATIONS = (
    ImageTransformation("image_gaussian_blur", "Image Gaussian Blur",
        "Blurs sampled eval images with a Gaussian filter at strengths 1-5.",
        gaussian_blur, "Gaussian blur", "blur",
        unchanged_reason="Gaussian blur changes no sampled image (the images are constant)."),
    ImageTransformation("image_gaussian_noise", "Image Gaussian Noise",
        "Adds Gaussian pixel noise to sampled eval images at strengths 1-5.",
        gaussian_noise, "Gaussian noise", "noise"),
    ImageTransformation("image_shot_noise", "Image Shot Noise",
        "Adds Poisson (photon) noise to sampled eval images at strengths 1-5.",
        shot_noise, "shot noise", "noise",
        unchanged_reason="Shot noise changes no sampled image (the images are black)."),
    ImageTransformation("image_brightness", "Image Brightness",
        "Makes sampled eval images brighter or darker at strengths 1-5.",
        brightness, "brightness shifted", "brightness"),
    ImageTransformation("image_contrast", "Image Contrast",
        "Lowers the contrast of sampled eval images at strengths 1-5.",
        contrast, "lower contrast", "contrast",
        unchanged_reason="Lowering contrast changes no sampled image (the images are "
        "constant)."),
    ImageTransformation("image_colour_jitter", "Image Colour Jitter",
        "Shifts the hue and saturation of sampled colour eval images at strengths 1-5.",
        colour_jitter, "colour jitter", "colour",
        unchanged_reason="Colour jitter applies to colour images only: no sampled image has "
        "colour (grey images are left out)."),
    ImageTransformation("image_jpeg_compression", "Image JPEG Compression",
        "Re-encodes sampled eval images as JPEG at falling qualities (strengths 1-5).",
        jpeg_compression, "JPEG compression", "jpeg"),
    ImageTransformation("image_pixelate", "Image Pixelate",
        "Pixelates sampled eval images (shrunk and enlarged back) at strengths 1-5.",
        pixelate, "pixelation", "pixelation"),
    ImageTransformation("image_horizontal_flip", "Image Horizontal Flip",
        "Mirrors sampled eval images left to right.",
        horizontal_flip, "a horizontal flip", "horizontal_flip", graded=False, flip_axis=1,
        unchanged_reason="A horizontal flip changes no sampled image (they are symmetric)."),
    ImageTransformation("image_vertical_flip", "Image Vertical Flip",
        "Turns sampled eval images upside down (mirrored top to bottom).",
        vertical_flip, "a vertical flip", "vertical_flip", graded=False, flip_axis=0,
        unchanged_reason="A vertical flip changes no sampled image (they are symmetric)."),
    ImageTransformation("image_rotation", "Image Rotation",
        "Rotates sampled eval images by 3-15 degrees either way (strengths 1-5).",
        rotation, "a small rotation", "rotation"),
    ImageTransformation("image_translation", "Image Translation",
        "Shifts sampled eval images by 3-15% of their size (strengths 1-5).",
        translation, "a small translation", "translation"),
    ImageTransformation("image_randomized_pixels", "Image Randomized Pixels",
        "Replaces a random mask of 1-20% of the pixels of sampled eval images with random "
        "values (strengths 1-5).",
        randomize_pixels, "randomized pixels", "noise"),
)  # fmt: skip
"""The image Transformations tests, in registration (report) order."""

_SEVERITY_DOC = (
    "Severity: the share of changed decisions at the worst strength up to judged_strength,\n"
    "capped by itself, needing an exact binomial test against the low threshold (Bonferroni\n"
    "over the strengths compared), and capped at MEDIUM unless the eval images already show\n"
    "what the corruption does ({what}); a model crash counts as every decision changed."
)


def _register(spec: ImageTransformation) -> None:
    params: dict[str, Any] = {SAMPLE_SIZE_PARAM: SAMPLE_SIZE}
    if spec.graded:
        params["judged_strength"] = JUDGED_STRENGTH
    register_transformation(
        spec,
        _SEVERITY_DOC.format(what=EXPOSURES[spec.exposure].what),
        params,
        lambda ctx, settings: transformation_findings(ctx, settings, spec),
        data_types=(IMAGES,),
    )


for _spec in IMAGE_TRANSFORMATIONS:
    _register(_spec)
