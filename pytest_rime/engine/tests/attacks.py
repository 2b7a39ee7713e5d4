"""Attacks tests: the change of a single feature that moves each sampled prediction most.

For each model feature, every sampled evaluation row (``sample_size``, default
:data:`SAMPLE_SIZE`; fewer for wide data, see
:func:`~pytest_rime.engine.robustness.perturbed_rows`) is tried with a set of candidate values
of that feature, the other features unchanged; the candidate that moves the row's prediction
most is its worst case.

- **Single-Feature Changes** searches the observed reference values: ``grid_size`` reference
  quantiles from min to max for numeric and integer features, up to ``max_categories`` reference
  categories (most frequent first) for categorical and bool features. Text and datetime
  features are not attacked.
- **Bounded Single-Feature Changes** searches a neighbourhood of the original value: ``steps``
  values evenly spaced within +/- ``bound_fraction`` x the feature's reference ``q99 - q1``
  (its range without the 1% tails; at least 1 for integer features) around it, clipped to the
  reference range (:func:`pytest_rime.engine.perturb.bounded_grid`). Numeric and integer
  features only; rows with a missing value are not attacked.

Default thresholds: Single-Feature Changes ``(0.2, 0.4, 0.6)``: its search spans the whole
observed range, so an important feature legitimately moves predictions; HIGH means one feature
alone nearly decides most predictions. Bounded Single-Feature Changes ``(0.05, 0.1, 0.2)``: a
small move should barely change a prediction.

All candidates of all features of a test go to the model in one batched call (split beyond
:data:`~pytest_rime.engine.robustness.MAX_BATCH_ROWS` rows).

- **statistic** (classification): the mean over the attacked rows of the largest prediction
  change (:func:`~pytest_rime.engine.robustness.row_changes`: |change of the probability| for
  binary classification, half the L1 change of the probability vector for multi-class).
- **statistic** (regression, with labels): the change of the mean absolute error when each
  attacked row takes its worst-case value (the candidate that moves its prediction most),
  paired on the same rows, relative to the error of a constant predictor
  (:func:`~pytest_rime.engine.robustness.paired_losses`). A model that follows a feature
  smoothly moves predictions but, over rows with errors of both signs, gains no error: no
  finding. A model that jumps on a small move gets worse: a finding. Without labels, the mean
  largest move over the standard deviation of the sample's predictions, capped at MEDIUM.
- **evidence**: with labels, ``p_value`` is a one-sided paired test that the worst-case values
  made the per-row loss worse (exact McNemar on 0/1 errors, Wilcoxon signed-rank on absolute
  errors); MEDIUM and HIGH need it significant after the run's multiple-testing correction.
- **impact / importance_score**: the same measured value (clipped to 0..1), so a feature the
  model ignores is PASS with severity NONE. Severity: the threshold level, capped by the impact
  (:mod:`pytest_rime.engine.severity`). A model exception on the candidates is a FAIL with
  statistic and impact 1.0. The tests need a model; with precomputed predictions only they
  are SKIP.
- **metrics**: rows attacked, candidates per row, the share of rows whose decision some
  candidate changes (``attack_success_rate``) and the worst case: ``row`` (position in the
  evaluation data), ``original_value``, ``new_value``, ``prediction_before`` / ``_after``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.data import BOOL, CATEGORICAL, INTEGER, NUMERIC
from pytest_rime.engine.perturb import bounded_grid, category_candidates, numeric_grid
from pytest_rime.engine.profile import numeric_values
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.results import JSONValue, Severity, json_safe
from pytest_rime.engine.robustness import (
    SAMPLE_SIZE_PARAM,
    Edit,
    IntArray,
    PerturbationSample,
    crash_finding,
    decision_changed,
    judged_by_error,
    paired_losses,
    perturbation_sample,
    predict_edits,
    row_changes,
)
from pytest_rime.vocabulary import REGRESSION

CATEGORY = "Attacks"
SAMPLE_SIZE = 200
"""Default number of evaluation rows attacked."""

Candidates = Callable[
    [RunContext, str, pd.Series, TestSettings], "tuple[IntArray, np.ndarray] | None"
]
"""``(ctx, feature, sampled column, settings) -> (attacked sample rows, (rows, k) values)``."""


@dataclass(frozen=True)
class _Attack:
    """Candidate values of one feature: ``values[i, j]`` is tried on sample row ``rows[i]``."""

    feature: str
    rows: IntArray
    values: np.ndarray

    def edit(self) -> Edit:
        """All candidates as one edit, row-major (row ``i`` candidate ``j`` at ``i * k + j``)."""
        repeats = self.values.shape[1]
        return Edit.of(self.feature, np.repeat(self.rows, repeats), self.values.reshape(-1))


def _typed_numbers(values: np.ndarray, column: pd.Series, feature_type: str) -> np.ndarray:
    """Whole-number candidates as int64 when the column holds integers, else floats."""
    if feature_type == INTEGER and pd.api.types.is_integer_dtype(column.dtype):
        return values.astype(np.int64)
    return values


def observed_values(
    ctx: RunContext, feature: str, column: pd.Series, settings: TestSettings
) -> tuple[IntArray, np.ndarray] | None:
    """Reference quantiles (numeric) or reference categories (categorical, bool) for every row."""
    info = ctx.features[feature]
    if info.type in (CATEGORICAL, BOOL):
        categories = category_candidates(
            ctx.profile(feature), int(settings.params["max_categories"])
        )
        candidates = np.asarray(categories)
        if candidates.dtype.kind not in "biuf":  # keep each category's own type
            candidates = np.asarray(categories, dtype=object)
    elif info.type in (NUMERIC, INTEGER):
        grid = numeric_grid(
            ctx.ref[feature], int(settings.params["grid_size"]), info.type == INTEGER
        )
        candidates = _typed_numbers(grid, column, info.type)
    else:
        return None
    if candidates.size == 0:
        return None
    rows = np.arange(len(column), dtype=np.int64)
    return rows, np.tile(candidates, (rows.size, 1))


MAX_CODE_VALUES = 10
"""Integer features with this many distinct reference values or fewer may be codes."""


def _is_code_like(ctx: RunContext, feature: str) -> bool:
    counts = ctx.profile(feature).ref_counts
    return (
        ctx.features[feature].type == INTEGER
        and counts is not None
        and len(counts) <= MAX_CODE_VALUES
    )


def bounded_values(
    ctx: RunContext, feature: str, column: pd.Series, settings: TestSettings
) -> tuple[IntArray, np.ndarray] | None:
    """Values near each row's original value (numeric and integer features with a value)."""
    info = ctx.features[feature]
    if info.type not in (NUMERIC, INTEGER):
        return None
    original = numeric_values(column)
    rows = np.flatnonzero(np.isfinite(original)).astype(np.int64)
    grid = bounded_grid(
        original[rows],
        ctx.profile(feature),
        float(settings.params["bound_fraction"]),
        int(settings.params["steps"]),
    )
    if rows.size == 0 or grid.shape[1] == 0:
        return None
    return rows, _typed_numbers(grid, column, info.type)


def _prediction(predictions: np.ndarray, index: int) -> JSONValue:
    value = predictions[index]
    return [float(p) for p in value] if np.ndim(value) else value


def _attack_finding(
    ctx: RunContext, sample: PerturbationSample, attack: _Attack, predictions: np.ndarray
) -> Finding:
    n_rows, per_row = attack.values.shape
    base = sample.base[np.repeat(attack.rows, per_row)]
    changes = row_changes(ctx, sample, base, predictions).reshape(n_rows, per_row)
    flipped = decision_changed(ctx, sample, base, predictions).reshape(n_rows, per_row)
    worst_per_row = changes.max(axis=1)
    statistic = float(worst_per_row.mean())
    success = float(flipped.any(axis=1).mean())
    i, j = np.unravel_index(int(np.argmax(changes)), changes.shape)
    row = int(attack.rows[i])
    original = json_safe(sample.inputs[attack.feature].iloc[row])
    new = json_safe(attack.values[i, j])
    worst: dict[str, JSONValue] = {
        "row": int(sample.positions[row]),
        "original_value": original,
        "new_value": new,
        "prediction_before": _prediction(sample.base, row),
        "prediction_after": _prediction(predictions, int(i) * per_row + int(j)),
        "prediction_change": float(changes[i, j]),
    }
    description = (
        f"Changing only {attack.feature!r} moves a sampled prediction by {statistic:.3f} on "
        f"average at worst and changes the decision of {success:.0%} of {n_rows} rows; worst "
        f"case: eval row {worst['row']}, {original!r} -> {new!r} moved the prediction by "
        f"{float(changes[i, j]):.3f}."
    )
    finding = Finding(
        features=(attack.feature,),
        statistic=statistic,
        impact=statistic,
        description=description,
        metrics={
            "rows_attacked": n_rows,
            "candidates_per_row": per_row,
            "mean_worst_prediction_change": statistic,
            "attack_success_rate": success,
            "worst_case": worst,
        },
    )
    chosen = np.arange(n_rows) * per_row + np.argmax(changes, axis=1)
    losses = paired_losses(ctx, sample, attack.rows, sample.base[attack.rows], predictions[chosen])
    what = f"With each row's worst-case value of {attack.feature!r}"
    return judged_by_error(finding, losses, ctx.model_task == REGRESSION, what)


def attack_findings(
    ctx: RunContext, settings: TestSettings, candidates: Candidates, what: str
) -> list[Finding]:
    """One finding per model feature that ``candidates`` gives values for (module docstring).

    Args:
        ctx: The run.
        settings: The test's settings.
        candidates: The candidate values per feature (:func:`observed_values`,
            :func:`bounded_values`).
        what: The kind of feature attacked, for the SKIP reason when there is none.
    """
    sample = perturbation_sample(ctx, int(settings.params[SAMPLE_SIZE_PARAM]))
    if len(sample) == 0:
        return [Finding.skip((), "The evaluation data has no rows to attack.")]
    attacks = []
    for name in ctx.model_features:
        found = candidates(ctx, name, sample.inputs[name], settings)
        if found is not None:
            attacks.append(_Attack(name, *found))
    if not attacks:
        return [Finding.skip((), f"No model feature is {what}.")]
    outputs = predict_edits(ctx, sample, [attack.edit() for attack in attacks])
    return [
        crash_finding(
            attack.feature,
            output,
            f"{attack.values.size} candidate values of {attack.feature!r}",
            {"candidates_tried": attack.values.size},
        )
        if isinstance(output, Exception)
        else _attack_finding(ctx, sample, attack, output)
        for attack, output in zip(attacks, outputs, strict=True)
    ]


@register_test(
    "attacks.single_feature_changes",
    name="Single-Feature Changes",
    category=CATEGORY,
    thresholds=(0.2, 0.4, 0.6),
    description="Worst-case prediction change from setting one feature to any observed value.",
    needs_model=True,
    params={
        SAMPLE_SIZE_PARAM: SAMPLE_SIZE,
        "grid_size": 21,
        "max_categories": 20,
        "max_severity": "MEDIUM",
    },
    param_choices={"max_severity": ("LOW", "MEDIUM", "HIGH")},
)
def single_feature_changes(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Per feature, the mean worst-case prediction change over the observed reference values.

    Severity: the threshold level of that mean change, capped by itself and by
    ``max_severity`` (default MEDIUM: a model is meant to respond to its important features
    across their whole range, so this is a sensitivity map, not a defect, unless you say so).
    """
    cap = Severity(settings.params["max_severity"])
    reason = (
        f"Capped at {cap.value} (max_severity): moving a feature across its whole observed "
        "range is expected to move predictions of an important feature."
    )
    return [
        replace(finding, severity_cap=cap, cap_reason=reason)
        for finding in attack_findings(
            ctx, settings, observed_values, "numeric, categorical or bool"
        )
    ]


@register_test(
    "attacks.bounded_single_feature_changes",
    name="Bounded Single-Feature Changes",
    category=CATEGORY,
    thresholds=(0.05, 0.1, 0.2),
    description="Worst-case prediction change from moving one numeric feature a little.",
    needs_model=True,
    params={SAMPLE_SIZE_PARAM: SAMPLE_SIZE, "bound_fraction": 0.05, "steps": 10},
)
def bounded_single_feature_changes(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Per numeric feature, the mean worst-case prediction change within a bounded move.

    The bound is ``bound_fraction`` x the reference ``q99 - q1`` around the original value.
    Severity: the threshold level of that mean change, capped by itself; a crash is HIGH.
    Integer features with at most :data:`MAX_CODE_VALUES` distinct reference values may be
    codes (a class, a rating) where the smallest move already picks another category, so
    their cases are capped at MEDIUM (list them in ``data_info.categorical_features`` to test
    them as categories).
    """
    reason = (
        f"Capped at MEDIUM: the feature has at most {MAX_CODE_VALUES} distinct integer values, "
        "so a one-step move may be a change of category rather than a small change."
    )
    return [
        replace(finding, severity_cap=Severity.MEDIUM, cap_reason=reason)
        if any(_is_code_like(ctx, name) for name in finding.features)
        else finding
        for finding in attack_findings(ctx, settings, bounded_values, "numeric or integer")
    ]
