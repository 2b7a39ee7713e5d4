"""Abnormal Inputs tests: evaluation rows whose values break the reference profile.

Every test flags eval rows per feature (or feature pair). The statistic is the share of eval
rows flagged (``Rare Categories``: the excess over the reference share); the flagged row
positions go into the case so the run counts the failing inputs. Severity: the threshold level
capped by the measured model impact of the flagged rows (:mod:`pytest_rime.engine.impact`).
Tests whose flagged values carry none of the feature's information for the model (nulls,
blank strings, unseen or miscapitalised categories, values of the wrong type) use at least the
feature's importance as impact: the importance measures what the model loses when the feature's
information is destroyed, which a measured change can miss (an imputer hides a null behind a
typical value, which is also what the repaired rows get).
Features missing from eval are left to ``Required Features``.

Evidence: tests whose flags also happen between two samples of one distribution (an eval value
beyond the range or the outlier fences of a finite reference sample, a category the reference
sample happened to miss) give the rate expected under that null (``Flags.expected_rate``) and
their p-value is the exact binomial test of the flagged count against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.data import BOOL, CATEGORICAL, TEXT, FeatureInfo
from pytest_rime.engine.impact import measure_impacts
from pytest_rime.engine.pairwise import CategoryCodes, unseen_pairs
from pytest_rime.engine.profile import numeric_values
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.results import JSONValue
from pytest_rime.engine.tests._families import named_test

CATEGORY = "Abnormal Inputs"
ROW_THRESHOLDS = (0.01, 0.05, 0.1)
"""Default thresholds on the share of eval rows flagged."""


@dataclass(frozen=True)
class Flags:
    """Eval rows one case flags.

    Attributes:
        features: The feature(s) checked.
        mask: Boolean mask over the eval rows.
        what: What the flagged values are, completing "N eval rows (x%) of feature F have ...".
        metrics: Extra measured values.
        statistic: Overrides the default statistic (the share of flagged rows).
        expected_rate: Share of the checked (non-null) eval values expected to be flagged if
            eval were another sample of the reference distribution; ``None`` when any flag is
            abnormal whatever the sample (a wrong type, a blank string).
    """

    features: tuple[str, ...]
    mask: np.ndarray
    what: str
    metrics: dict[str, JSONValue] = field(default_factory=dict)
    statistic: float | None = None
    expected_rate: float | None = None


def binomial_p_value(flags: Flags, checked: int) -> float | None:
    """P(at least the flagged count among ``checked`` values at the expected rate)."""
    if flags.expected_rate is None or checked == 0:
        return None
    flagged = int(np.count_nonzero(flags.mask))
    rate = min(1.0, flags.expected_rate)
    return float(stats.binom.sf(flagged - 1, checked, rate)) if flagged else 1.0


def _eval_features(ctx: RunContext, accept: Callable[[FeatureInfo], bool]) -> list[str]:
    return [n for n, info in ctx.features.items() if accept(info) and n in ctx.eval.columns]


def _examples(ctx: RunContext, flags: Flags, limit: int = 5) -> list[JSONValue]:
    rows = np.flatnonzero(flags.mask)[:limit]
    return [str(v) for v in ctx.eval[flags.features[0]].iloc[rows]]


def _findings(
    ctx: RunContext, all_flags: Iterable[Flags], *, with_importance: bool = False
) -> list[Finding]:
    flags_list = list(all_flags)
    if not flags_list:
        return [Finding.skip((), "No feature of the data is of a type this test checks.")]
    rows = [np.flatnonzero(flags.mask) for flags in flags_list]
    impacts = measure_impacts(ctx, [(f.features, r) for f, r in zip(flags_list, rows, strict=True)])
    findings = []
    for flags, flagged, impact in zip(flags_list, rows, impacts, strict=True):
        share = flagged.size / len(ctx.eval) if len(ctx.eval) else 0.0
        value = impact.value
        if with_importance:
            importance = ctx.importance.of_any(flags.features)
            known = [v for v in (value, importance) if v is not None]
            value = max(known) if known else None
        names = " and ".join(repr(n) for n in flags.features)
        noun = "features" if len(flags.features) > 1 else "feature"
        text = f"{flagged.size} eval rows ({share:.1%}) of {noun} {names} have {flags.what}."
        if flagged.size and value is not None:
            text += f" Model impact on these rows: {value:.2f}."
        metrics: dict[str, JSONValue] = {"failing_fraction": share, **flags.metrics}
        metrics.update(impact.metrics)
        if flagged.size:
            metrics["examples"] = _examples(ctx, flags)
        if flags.expected_rate is not None:
            metrics["expected_rate"] = flags.expected_rate
        checked = int(ctx.eval[flags.features[0]].notna().sum())
        findings.append(
            Finding(
                features=flags.features,
                statistic=share if flags.statistic is None else flags.statistic,
                description=text,
                metrics=metrics,
                impact=value if flagged.size else None,
                flagged_rows=flagged.astype(np.int64),
                p_value=binomial_p_value(flags, checked),
            )
        )
    return findings


def _is_continuous(info: FeatureInfo) -> bool:
    return info.is_numeric and info.type != BOOL


@register_test(
    "abnormal_inputs.numeric_outliers",
    name="Numeric Outliers",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval values far outside the bulk of the reference values.",
    params={"iqr_multiplier": 1.5},
)
def numeric_outliers(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Values below ``q0.1% - k*IQR`` or above ``q99.9% + k*IQR`` of ref (``k = iqr_multiplier``).

    Severity: the share of flagged rows, capped by their measured model impact.
    """
    return _findings(ctx, _outlier_flags(ctx, settings.params["iqr_multiplier"]))


def _outlier_flags(ctx: RunContext, k: float) -> list[Flags]:
    flags = []
    for name in _eval_features(ctx, _is_continuous):
        numeric = ctx.profile(name).numeric
        assert numeric is not None
        q = numeric.quantiles
        iqr = q[0.75] - q[0.25]
        low, high = q[0.001] - k * iqr, q[0.999] + k * iqr
        values = numeric_values(ctx.eval[name])
        with np.errstate(invalid="ignore"):
            mask = (values < low) | (values > high)
            ref_values = numeric_values(ctx.ref[name])
            ref_beyond = int(np.count_nonzero((ref_values < low) | (ref_values > high)))
        flags.append(
            Flags(
                (name,),
                mask,
                f"outliers outside [{low:.4g}, {high:.4g}]",
                {"bounds": [low, high]},
                # the reference's own rate beyond the fences (rule of succession)
                expected_rate=(ref_beyond + 1) / (numeric.ref_count + 1),
            )
        )
    return flags


@register_test(
    "abnormal_inputs.out_of_range",
    name="Out of Range",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval values below the reference minimum or above the reference maximum.",
)
def out_of_range(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Values outside ``[min, max]`` of the reference values.

    Severity: the share of flagged rows, capped by their measured model impact.
    """
    return _findings(ctx, _out_of_range_flags(ctx))


def _out_of_range_flags(ctx: RunContext) -> list[Flags]:
    flags = []
    for name in _eval_features(ctx, _is_continuous):
        numeric = ctx.profile(name).numeric
        assert numeric is not None
        low, high = numeric.ref_min, numeric.ref_max
        values = numeric_values(ctx.eval[name])
        with np.errstate(invalid="ignore"):
            mask = (values < low) | (values > high)
        # A new value of a continuous distribution falls below the minimum or above the
        # maximum of n earlier ones with probability 2 / (n + 1); ties only lower it.
        flags.append(
            Flags(
                (name,),
                mask,
                f"values outside the reference range [{low:.4g}, {high:.4g}]",
                expected_rate=2 / (numeric.ref_count + 1),
            )
        )
    return flags


def _is_categorical(info: FeatureInfo) -> bool:
    return info.type == CATEGORICAL


def _ref_frequencies(ctx: RunContext, name: str) -> pd.Series:
    profile = ctx.profile(name)
    counts = profile.ref_counts if profile.ref_counts is not None else pd.Series(dtype=float)
    total = counts.sum()
    return counts / total if total else counts.astype(float)


@register_test(
    "abnormal_inputs.unseen_categorical",
    name="Unseen Categorical",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval values of a categorical feature never seen in the reference data.",
)
def unseen_categorical(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Non-null eval values of a categorical feature absent from its reference values.

    Severity: the share of flagged rows, capped by the larger of the feature's importance and
    the flagged rows' measured model impact.
    """
    return _findings(ctx, _unseen_flags(ctx), with_importance=True)


def _unseen_flags(ctx: RunContext) -> list[Flags]:
    flags = []
    for name in _eval_features(ctx, _is_categorical):
        counts = ctx.profile(name).ref_counts
        known = _ref_frequencies(ctx, name).index
        column = ctx.eval[name]
        mask = (column.notna() & ~column.isin(known)).to_numpy()
        seen = int(counts.sum()) if counts is not None else 0
        singletons = int((counts == 1).sum()) if counts is not None else 0
        # Good-Turing: a new draw is a value the sample missed with probability about the
        # share of values the sample saw exactly once.
        flags.append(
            Flags(
                (name,),
                mask,
                "values never seen in the reference data",
                expected_rate=(singletons + 1) / (seen + 1),
            )
        )
    return flags


@register_test(
    "abnormal_inputs.rare_categories",
    name="Rare Categories",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval rows with categories that are rare in the reference data, beyond their "
    "reference share.",
    params={"min_frequency": 0.01},
)
def rare_categories(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Eval values seen in ref with frequency below ``min_frequency``.

    Statistic: eval share of such rows minus the reference share (rare values are normal in
    small amounts). Severity: that excess, capped by the flagged rows' measured model impact.
    """
    min_frequency = settings.params["min_frequency"]
    flags = []
    for name in _eval_features(ctx, _is_categorical):
        frequencies = _ref_frequencies(ctx, name)
        rare = frequencies[frequencies < min_frequency]
        mask = ctx.eval[name].isin(rare.index).to_numpy()
        ref_share = float(rare.sum())
        eval_share = float(mask.mean()) if mask.size else 0.0
        flags.append(
            Flags(
                (name,),
                mask,
                f"categories rarer than {min_frequency:.1%} in ref ({ref_share:.1%} of ref rows)",
                {"ref_fraction": ref_share},
                statistic=max(0.0, eval_share - ref_share),
            )
        )
    return _findings(ctx, flags)


@register_test(
    "abnormal_inputs.null_check",
    name="Null Check",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Missing values in eval for features that had (almost) none in the reference.",
    params={"max_ref_null_fraction": 0.0},
)
def null_check(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Eval nulls in features whose reference null share is at most ``max_ref_null_fraction``.

    Severity: the share of flagged rows, capped by the larger of the feature's importance and
    the flagged rows' measured model impact.
    """
    limit = settings.params["max_ref_null_fraction"]
    return _findings(ctx, _null_flags(ctx, limit), with_importance=True)


def _null_flags(ctx: RunContext, limit: float) -> list[Flags]:
    flags = []
    for name in _eval_features(ctx, lambda info: True):
        if ctx.profile(name).ref_null_fraction > limit:
            continue
        mask = ctx.eval[name].isna().to_numpy()
        flags.append(Flags((name,), mask, "missing values (none expected from ref)"))
    return flags


def _is_string_feature(info: FeatureInfo) -> bool:
    return info.type in (CATEGORICAL, TEXT) and info.value_kind == "str"


def _blank(column: pd.Series) -> np.ndarray:
    try:
        stripped = column.str.strip()
    except AttributeError:  # no string values at all
        return np.zeros(len(column), dtype=bool)
    return stripped.eq("").fillna(False).to_numpy(bool)


@register_test(
    "abnormal_inputs.empty_string",
    name="Empty String",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Empty or blank strings in eval for string features without them in the reference.",
)
def empty_string(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Eval values that are empty or whitespace-only strings.

    Only string features whose reference has no blank strings are checked.

    Severity: the share of flagged rows, capped by the larger of the feature's importance and
    the flagged rows' measured model impact.
    """
    return _findings(ctx, _empty_string_flags(ctx), with_importance=True)


def _empty_string_flags(ctx: RunContext) -> list[Flags]:
    return [
        Flags((name,), _blank(ctx.eval[name]), "empty strings")
        for name in _eval_features(ctx, _is_string_feature)
        if not _blank(ctx.ref[name]).any()
    ]


@register_test(
    "abnormal_inputs.capitalization",
    name="Capitalization",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Eval values that match a reference category only when ignoring case.",
)
def capitalization(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Eval strings absent from ref whose case-folded form is a reference category.

    Severity: the share of flagged rows, capped by the larger of the feature's importance and
    the flagged rows' measured model impact.
    """
    return _findings(ctx, _capitalization_flags(ctx), with_importance=True)


def _capitalization_flags(ctx: RunContext) -> list[Flags]:
    flags = []
    for name in _eval_features(ctx, lambda i: _is_categorical(i) and i.value_kind == "str"):
        known = _ref_frequencies(ctx, name).index
        folded = {str(v).casefold() for v in known}
        column = ctx.eval[name]
        unseen = column.notna() & ~column.isin(known)
        mask = unseen & column.astype(str).str.casefold().isin(folded)
        flags.append(Flags((name,), mask.to_numpy(bool), "values differing from ref only in case"))
    return flags


def _is_int(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, int | np.integer):
        return True
    return isinstance(value, float | np.floating) and float(value).is_integer()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


_KIND_CHECKS: dict[str, Callable[[Any], bool]] = {
    "int": _is_int,
    "float": _is_number,
    "bool": _is_bool,
    "str": _is_str,
}


_CONFORMING_INFERRED = {
    "int": ("integer", "empty"),
    "float": ("integer", "floating", "mixed-integer-float", "decimal", "empty"),
    "bool": ("boolean", "empty"),
    "str": ("string", "empty"),
}
"""``pandas.api.types.infer_dtype`` results meaning every value is of the kind (C-speed)."""


def _dtype_conforms(column: pd.Series, kind: str) -> bool:
    if kind == "int":
        return pd.api.types.is_integer_dtype(column)
    if kind == "float":
        return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if kind == "bool":
        return pd.api.types.is_bool_dtype(column)
    return pd.api.types.is_string_dtype(column) and not pd.api.types.is_object_dtype(column)


def type_violations(column: pd.Series, kind: str) -> np.ndarray:
    """Mask of non-null values of ``column`` that are not of Python kind ``kind``.

    Whole floats count as ints (pandas stores ints with nulls as floats).
    """
    if kind == "int" and pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            fractional: np.ndarray = np.isinf(values) | (np.mod(values, 1) > 0)
        return fractional
    if (
        _dtype_conforms(column, kind)
        or pd.api.types.infer_dtype(column, skipna=True) in (_CONFORMING_INFERRED[kind])
    ):
        return np.zeros(len(column), dtype=bool)
    present = column.notna().to_numpy()
    ok = column.astype(object).map(_KIND_CHECKS[kind]).to_numpy(bool)
    violations: np.ndarray = present & ~ok
    return violations


def _type_flags(ctx: RunContext, kind: str) -> list[Flags]:
    names = _eval_features(ctx, lambda info: info.value_kind == kind)
    return [
        Flags((name,), type_violations(ctx.eval[name], kind), f"values that are not {kind}")
        for name in names
    ]


_TYPE_TESTS = (
    (
        "int",
        "Int",
        "Eval values of integer features that are not integers (e.g. strings).",
        "Whole floats count as ints.",
    ),
    (
        "float",
        "Float",
        "Eval values of numeric features that are not numbers.",
        "Ints count as floats.",
    ),
    ("bool", "Bool", "Eval values of boolean features that are not booleans.", ""),
    ("str", "String", "Eval values of string features that are not strings.", ""),
)
"""The Must be <Type> tests: value kind, type name, description, note for the docstring."""


def _register_type_test(kind: str, type_name: str, description: str, note: str) -> None:
    slug = f"must_be_{type_name.lower()}"
    doc = (
        f"Non-null eval values, in features whose ref values are all {kind}, that are not {kind}.",
        note,
        "Severity: the share of flagged rows, capped by the larger of the feature's importance "
        "and\nthe flagged rows' measured model impact.",
    )
    register_test(
        f"abnormal_inputs.{slug}",
        name=f"Must be {type_name}",
        category=CATEGORY,
        thresholds=ROW_THRESHOLDS,
        description=description,
    )(
        named_test(
            slug,
            "\n\n".join(paragraph for paragraph in doc if paragraph),
            lambda ctx, settings: _findings(ctx, _type_flags(ctx, kind), with_importance=True),
        )
    )


for _kind, _type_name, _description, _note in _TYPE_TESTS:
    _register_type_test(_kind, _type_name, _description, _note)


def _codes(ref: pd.Series, cur: pd.Series) -> CategoryCodes:
    """Ref codes, eval codes on the ref categories (-1 if unseen), reference frequencies."""
    ref_codes, categories = pd.factorize(ref.astype(object), use_na_sentinel=True)
    eval_codes = pd.Index(categories).get_indexer(cur.astype(object))
    counts = np.bincount(ref_codes[ref_codes >= 0], minlength=len(categories))
    return CategoryCodes(
        ref_codes.astype(np.int64), eval_codes.astype(np.int64), counts / max(1, len(ref))
    )


@register_test(
    "abnormal_inputs.inconsistencies",
    name="Inconsistencies",
    category=CATEGORY,
    thresholds=ROW_THRESHOLDS,
    description="Pairs of categorical values seen together in eval but never in the reference "
    "data, although each is common.",
    params={"min_expected_count": 5.0},
)
def inconsistencies(ctx: RunContext, settings: TestSettings) -> list[Finding]:
    """Eval rows whose pair of values of two categorical features never occurs in ref.

    A pair is flagged only when independence of the two features would predict at least
    ``min_expected_count`` reference rows with it (both values are common).

    One case per pair of features with flagged rows, else one PASS case. Severity: the share of
    flagged rows, capped by their measured model impact (repairing both features).

    Bounded for wide data (:func:`pytest_rime.engine.pairwise.unseen_pairs`): every pair of
    features is checked exactly, one feature against a block of features at a time, so memory
    grows linearly with the number of features; at most
    :data:`~pytest_rime.engine.pairwise.MAX_REPORTED_PAIRS` pairs are reported (those with the
    most flagged rows). When more pairs have flagged rows, the others are not reported and each
    case's ``pairs_flagged`` metric gives their total.
    """
    min_expected = settings.params["min_expected_count"]
    names = _eval_features(ctx, _is_categorical)
    unseen = unseen_pairs([_codes(ctx.ref[n], ctx.eval[n]) for n in names], min_expected)
    dropped = unseen.total - len(unseen.pairs)
    metrics: dict[str, JSONValue] = {"pairs_flagged": unseen.total} if dropped else {}
    flags = [
        Flags((names[a], names[b]), mask, "value pairs never seen together in ref", dict(metrics))
        for a, b, mask in unseen.pairs
    ]
    if dropped:
        ctx.log(
            f"Inconsistencies: {unseen.total} feature pairs have flagged rows; the "
            f"{len(flags)} with the most are reported"
        )
    if names and not flags:
        return [
            Finding(
                features=(),
                statistic=0.0,
                description="No eval row pairs common categorical values in a way never seen "
                "in ref.",
                metrics={"num_feature_pairs": len(names) * (len(names) - 1) // 2},
            )
        ]
    return _findings(ctx, flags)


ABNORMALITIES: Mapping[str, Callable[[RunContext], list[Flags]]] = MappingProxyType(
    {
        "nulls": lambda ctx: _null_flags(ctx, 0.0),
        "out_of_range": _out_of_range_flags,
        "numeric_outliers": lambda ctx: _outlier_flags(ctx, 1.5),
        "unseen_categorical": _unseen_flags,
        "empty_string": _empty_string_flags,
        "capitalization": _capitalization_flags,
        "type": lambda ctx: [f for kind in _KIND_CHECKS for f in _type_flags(ctx, kind)],
    }
)
"""Detectors of each kind of abnormal value, with the tests' default parameters."""


def features_with(ctx: RunContext, abnormality: str) -> frozenset[str]:
    """Features whose eval data holds values of ``abnormality`` (a key of :data:`ABNORMALITIES`).

    A feature counts when the share of eval rows holding such values reaches the medium
    threshold of the Abnormal Inputs tests (:data:`ROW_THRESHOLDS`, 5% of eval rows by
    default) and, for values a random split also produces (:attr:`Flags.expected_rate`), is
    beyond that chance (binomial p-value below the run's ``significance_level``): a few tail
    values, or a null in 2% of the rows, do not make production data exercise a weakness
    materially.

    The what-if tests (transformations) use it to tell a hypothetical weakness from one the
    evaluation data already exercises.
    """
    return ctx.memo(
        f"abnormal_features:{abnormality}",
        lambda: frozenset(
            name
            for flags in ABNORMALITIES[abnormality](ctx)
            if _exercised(ctx, flags)
            for name in flags.features
        ),
    )


def _exercised(ctx: RunContext, flags: Flags) -> bool:
    if not flags.mask.size or flags.mask.mean() < ROW_THRESHOLDS[1]:
        return False
    p_value = binomial_p_value(flags, int(ctx.eval[flags.features[0]].notna().sum()))
    return p_value is None or p_value < ctx.config.significance_level
