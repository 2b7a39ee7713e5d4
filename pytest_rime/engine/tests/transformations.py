"""Transformations tests: how the model reacts when one feature of real rows is corrupted.

Each test draws a seeded sample of evaluation rows (``sample_size``, default
:data:`SAMPLE_SIZE`; fewer for wide data, see
:func:`~pytest_rime.engine.robustness.perturbed_rows`), replaces one feature at a time with
corrupted values from
:mod:`pytest_rime.engine.perturb` (only features of the types the corruption applies to, and
only rows it actually changes), and predicts every corrupted copy of the test in one batched
call (:func:`pytest_rime.engine.robustness.predict_edits`). One case per feature.

- **statistic** (classification): the share of corrupted rows whose decision changed (another
  predicted label, or a prediction that is not a number).
- **statistic** (regression, with labels): the change of the mean absolute error on the
  corrupted rows, paired on the same rows, relative to the error of a constant predictor
  (``+0.3``: the error rose by 30% of the median predictor's error;
  :func:`~pytest_rime.engine.robustness.paired_losses`): predictions that move but do not get
  worse are no finding. Without labels, the share of predictions that moved by more
  than :data:`~pytest_rime.engine.robustness.REGRESSION_TOLERANCE` standard deviations,
  capped at MEDIUM.
- **impact / importance_score**: the same measured value (clipped to 0..1), so a feature the
  model ignores is PASS with severity NONE. Severity: the threshold level of the statistic,
  capped by the impact (:mod:`pytest_rime.engine.severity`).
- **evidence**: with labels, ``p_value`` is a one-sided paired test that the corruption made
  the model's per-row loss worse (exact McNemar on 0/1 errors, Wilcoxon signed-rank on absolute
  errors); MEDIUM and HIGH need it significant after the run's multiple-testing correction
  (:mod:`pytest_rime.engine.evidence`).
- **exposure**: a transformation is a what-if. When the evaluation data holds no value of the
  kind the test imitates in that feature (no nulls for Null Substitution, no out-of-range value
  for Out of Range Substitution, ... as the Abnormal Inputs detectors see it), the weakness is
  hypothetical and the case is capped at MEDIUM: it fails and warns, but does not break the
  default ``fail_on: high`` gate. When the data does hold such values, the case can be HIGH:
  the model is brittle to something production already sends. The data holds such values when
  at least 5% of eval rows do (the Abnormal Inputs medium threshold) and, for values outside
  the reference range or beyond its outlier bounds, more than a random split of one dataset
  would put there (:func:`~pytest_rime.engine.tests.abnormal_inputs.features_with`): a small
  eval set always holds a value or two beyond the reference extremes.
- **model crash**: when the model raises on the corrupted rows of a feature, that case is a
  FAIL with statistic and impact 1.0 and the exception in its description (HIGH when
  exposed). The tests need a model; with precomputed predictions only they are SKIP.
- **metrics**: rows corrupted, decisions changed, the mean absolute prediction change, and with
  labels the model metrics on those rows before and after (``metric_changes``), the mean loss
  before and after and the rows whose loss rose or fell (``rows_worse``, ``rows_better``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.metrics import evaluate, prepare, task_metrics
from pytest_rime.engine.perturb import (
    Substitution,
    capitalization,
    changed_rows,
    empty_strings,
    nulls,
    numeric_outliers,
    out_of_range,
    type_change,
    unseen_category,
)
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.results import JSONValue
from pytest_rime.engine.robustness import (
    SAMPLE_SIZE_PARAM,
    Edit,
    PerturbationSample,
    crash_finding,
    decision_changed,
    judged_by_error,
    paired_losses,
    perturbation_sample,
    predict_edits,
    row_changes,
    what_if_capped,
)
from pytest_rime.engine.tests._families import named_test
from pytest_rime.engine.tests.abnormal_inputs import features_with
from pytest_rime.vocabulary import REGRESSION, TABULAR

CATEGORY = "Transformations"
THRESHOLDS = (0.05, 0.15, 0.3)
"""Default thresholds on the share of changed decisions."""

SAMPLE_SIZE = 500
"""Default number of evaluation rows each test corrupts."""

_PARAMS = {SAMPLE_SIZE_PARAM: SAMPLE_SIZE}


def metric_changes(
    ctx: RunContext, labels: np.ndarray, before: np.ndarray, after: np.ndarray
) -> dict[str, dict[str, float | None]]:
    """Every metric of the task on the same rows before and after a perturbation.

    Each metric maps to ``{"before", "after", "degradation"}`` (positive = worse, see
    :meth:`pytest_rime.engine.metrics.Metric.degradation`); ``None`` where undefined.
    """
    classes = list(ctx.classes) if ctx.classes.size else None
    try:
        old = evaluate(prepare(ctx.model_task, labels, before, classes=classes))
        new = evaluate(prepare(ctx.model_task, labels, after, classes=classes))
    except ValueError:  # predictions that do not fit the task's classes: no metrics
        return {}
    changes: dict[str, dict[str, float | None]] = {}
    for metric in task_metrics(ctx.model_task):
        value_before, value_after = old[metric.name], new[metric.name]
        degradation = None
        if value_before is not None and value_after is not None:
            degradation = metric.degradation(value_before, value_after)
        changes[metric.name] = {
            "before": value_before,
            "after": value_after,
            "degradation": degradation,
        }
    return changes


def _metric_sentence(changes: dict[str, dict[str, float | None]]) -> str:
    """The first defined metric before and after (``Accuracy on those rows: 0.8 -> 0.7.``)."""
    for name, change in changes.items():
        if change["before"] is not None and change["after"] is not None:
            return f" {name} on those rows: {change['before']:.3g} -> {change['after']:.3g}."
    return ""


def _measured_finding(
    ctx: RunContext, sample: PerturbationSample, edit: Edit, what: str, predictions: np.ndarray
) -> Finding:
    base = sample.base[edit.rows]
    changed = decision_changed(ctx, sample, base, predictions)
    rows = int(edit.rows.size)
    rate = float(changed.mean())
    metrics: dict[str, JSONValue] = {
        "rows_perturbed": rows,
        "decisions_changed": int(changed.sum()),
        "decision_change_rate": rate,
        "mean_abs_prediction_change": float(row_changes(ctx, sample, base, predictions).mean()),
    }
    description = (
        f"With {what} in {edit.feature!r}, {int(changed.sum())} of {rows} sampled predictions "
        f"changed ({rate:.1%})."
    )
    if sample.labels is not None:
        changes = metric_changes(ctx, sample.labels.to_numpy()[edit.rows], base, predictions)
        metrics["metric_changes"] = changes
        description += _metric_sentence(changes)
    finding = Finding(
        features=(edit.feature,),
        statistic=rate,
        impact=rate,
        description=description,
        metrics=metrics,
    )
    losses = paired_losses(ctx, sample, edit.rows, base, predictions)
    return judged_by_error(
        finding, losses, ctx.model_task == REGRESSION, f"With {what} in {edit.feature!r}"
    )


def _exposure_capped(ctx: RunContext, finding: Finding, abnormality: str, what: str) -> Finding:
    """Cap ``finding`` at MEDIUM unless the eval data already holds such values in its feature.

    A cap the finding already has at MEDIUM or below stays (with its reason).
    """
    if finding.statistic is None or set(finding.features) & features_with(ctx, abnormality):
        return finding
    return what_if_capped(finding, f"the evaluation data holds no {what} in this feature")


def substitution_findings(
    ctx: RunContext,
    settings: TestSettings,
    substitute: Substitution,
    what: str,
    abnormality: str,
) -> list[Finding]:
    """One finding per model feature ``substitute`` applies to (see the module docstring).

    Args:
        ctx: The run.
        settings: The test's settings (``sample_size``).
        substitute: The corruption, from :mod:`pytest_rime.engine.perturb`.
        what: The corrupted values in words, completing "With ... in 'feature'".
        abnormality: The kind of abnormal eval value the corruption imitates (a key of
            :data:`~pytest_rime.engine.tests.abnormal_inputs.ABNORMALITIES`).
    """
    sample = perturbation_sample(ctx, int(settings.params[SAMPLE_SIZE_PARAM]))
    if len(sample) == 0:
        return [Finding.skip((), "The evaluation data has no rows to transform.")]
    findings: dict[str, Finding] = {}
    edits: list[Edit] = []
    for name in ctx.model_features:
        column = sample.inputs[name]
        new = substitute(column, ctx.profile(name), ctx.rng(f"{what}:{name}"))
        if new is None:
            continue
        rows = np.flatnonzero(changed_rows(column, new))
        if rows.size == 0:
            reason = f"Substituting {what} changes no sampled value of {name!r}."
            findings[name] = Finding.skip((name,), reason)
            continue
        edits.append(Edit.of(name, rows, new.iloc[rows]))
    for edit, output in zip(edits, predict_edits(ctx, sample, edits), strict=True):
        if isinstance(output, Exception):
            count = int(edit.rows.size)
            inputs = f"{count} sampled rows with {what} in {edit.feature!r}"
            findings[edit.feature] = crash_finding(
                edit.feature, output, inputs, {"rows_perturbed": count}
            )
        else:
            findings[edit.feature] = _measured_finding(ctx, sample, edit, what, output)
    if not findings:
        return [Finding.skip((), f"No model feature has a type that {what} apply to.")]
    return [
        _exposure_capped(ctx, findings[name], abnormality, what)
        for name in ctx.model_features
        if name in findings
    ]


_SEVERITY_DOC = (
    "Severity: share of changed decisions (regression: relative rise of the error), capped by\n"
    "itself and at MEDIUM unless the eval data holds such values in the feature; a model crash\n"
    "counts as every decision changed."
)
"""The severity paragraph of every Transformations test's docstring."""


@dataclass(frozen=True)
class TransformationSpec:
    """What every Transformations test (tabular, nlp, images) is registered with.

    Attributes:
        slug: The test id after ``transformations.``, and the test function's name.
        name: The display name (``test_batch_type``).
        description: What the test does, one sentence (also its docstring's first line).
    """

    slug: str
    name: str
    description: str


def register_transformation(
    spec: TransformationSpec,
    severity_doc: str,
    params: Mapping[str, Any],
    run: Callable[[RunContext, TestSettings], list[Finding]],
    data_types: tuple[str, ...] = (TABULAR,),
) -> None:
    """Register ``run`` as the Transformations test ``transformations.<slug>`` of a model.

    Its function is named ``spec.slug``, its docstring ``spec.description`` then
    ``severity_doc``.
    """
    register_test(
        f"transformations.{spec.slug}",
        name=spec.name,
        category=CATEGORY,
        thresholds=THRESHOLDS,
        description=spec.description,
        needs_model=True,
        params=params,
        data_types=data_types,
    )(named_test(spec.slug, f"{spec.description}\n\n{severity_doc}", run))


@dataclass(frozen=True)
class Transformation(TransformationSpec):
    """One tabular Transformations test: a corruption of :mod:`pytest_rime.engine.perturb`.

    Attributes:
        substitute: The corruption.
        what: The corrupted values in words, completing "With ... in 'feature'".
        abnormality: The kind of abnormal eval value the corruption imitates (a key of
            :data:`~pytest_rime.engine.tests.abnormal_inputs.ABNORMALITIES`).
    """

    substitute: Substitution
    what: str
    abnormality: str


TRANSFORMATIONS = (
    Transformation(
        "null_substitution",
        "Null Substitution",
        "Replaces each feature with missing values in sampled eval rows.",
        nulls,
        "nulls",
        "nulls",
    ),
    Transformation(
        "out_of_range_substitution",
        "Out of Range Substitution",
        "Replaces each numeric feature with values 10% of its range beyond its min or max.",
        out_of_range,
        "values just outside the reference range",
        "out_of_range",
    ),
    Transformation(
        "numeric_outliers_substitution",
        "Numeric Outliers Substitution",
        "Replaces each numeric feature with extreme values: median +/- 10 x (q99 - q1).",
        numeric_outliers,
        "extreme outliers",
        "numeric_outliers",
    ),
    Transformation(
        "unseen_categorical_substitution",
        "Unseen Categorical Substitution",
        "Replaces each categorical feature with a category absent from the reference data.",
        unseen_category,
        "unseen categories",
        "unseen_categorical",
    ),
    Transformation(
        "empty_string_substitution",
        "Empty String Substitution",
        "Replaces each string feature with empty strings.",
        empty_strings,
        "empty strings",
        "empty_string",
    ),
    Transformation(
        "feature_type_change",
        "Feature Type Change",
        "Gives each feature its values in another type: numbers as text, strings as codes.",
        type_change,
        "values of another type",
        "type",
    ),
    Transformation(
        "capitalization_change",
        "Capitalization Change",
        "Upper-cases each string feature (lower-cases values already upper case).",
        capitalization,
        "changed capitalization",
        "capitalization",
    ),
)
"""The Transformations tests, in registration (report) order."""


def _register_transformation(spec: Transformation) -> None:
    register_transformation(
        spec,
        _SEVERITY_DOC,
        _PARAMS,
        lambda ctx, settings: substitution_findings(
            ctx, settings, spec.substitute, spec.what, spec.abnormality
        ),
    )


for _spec in TRANSFORMATIONS:
    _register_transformation(_spec)
