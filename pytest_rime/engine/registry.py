"""The test registry: every engine test is a small function registered by id.

How to write a test (one function per test, in ``pytest_rime/engine/tests/<category>.py``)::

    from pytest_rime.engine.context import RunContext
    from pytest_rime.engine.registry import Finding, TestSettings, register_test


    @register_test(
        "drift.label_drift",  # "<category slug>.<name>", unique
        name="Label Drift",  # the results' test_batch_type
        category="Drift",  # one of results.CATEGORIES
        thresholds=(0.1, 0.2, 0.3),  # default ascending [low, medium, high]
        description="Distribution of the label in eval vs ref (PSI).",
        needs_labels=True,  # SKIP (with the reason) when the data has no labels
        params={"bins": 10},  # tests_config parameters with their defaults
    )  # (each numeric one has its range in PARAM_RANGES)
    def label_drift(ctx: RunContext, settings: TestSettings) -> list[Finding]:
        '''One sentence on what is measured. Severity: how it is set.'''
        psi = ...
        return [Finding(features=(), statistic=psi, description=f"Label PSI is {psi:.3f}.")]

Contract of a test function ``fn(ctx, settings) -> Iterable[Finding]``:

- it reads data only through the shared :class:`~pytest_rime.engine.context.RunContext`
  (frames, feature types, cached profiles, labels, predictions, importance), so nothing is
  computed twice;
- each :class:`Finding` is one test case: the features it is about, one ``statistic`` where
  **larger is worse** (compared with the thresholds outside the function, by
  :mod:`pytest_rime.engine.severity`), the measured ``metrics``, a sentence of ``description``,
  the model ``impact`` in 0..1 (``None`` when the case is not about the model) and, for
  abnormal-input tests, the positions of the flagged eval rows;
- a finding with ``statistic=None`` and a ``skip_reason`` becomes a SKIP case;
- a test that raises becomes one ERROR case with the error (an engine error that fails the
  gate; the run goes on).

Flags: ``needs_model`` (calls the model on new inputs: SKIP when the run has only precomputed
predictions), ``needs_predictions`` (model or precomputed predictions), ``needs_labels``
(label column in both ref and eval). A test serves the data types in ``data_types`` (default
``("tabular",)``). :mod:`pytest_rime.engine.catalog` imports every module under
:mod:`pytest_rime.engine.tests`, so a new test module needs no edit elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pytest_rime.engine.results import CATEGORIES, JSONValue, Severity
from pytest_rime.vocabulary import KNOWN_DATA_TYPES, TABULAR

if TYPE_CHECKING:
    from pytest_rime.engine.context import RunContext

CATEGORY_SLUGS: Mapping[str, str] = MappingProxyType(
    {category: category.lower().replace(" ", "_") for category in CATEGORIES}
)
"""Test id prefix of each category, e.g. ``"Abnormal Inputs" -> "abnormal_inputs"``."""

Thresholds = tuple[float, float, float]


@dataclass(frozen=True)
class ParamRange:
    """The values a numeric test parameter may take: ``minimum``..``maximum`` (inclusive).

    ``min_exclusive`` excludes ``minimum`` itself (``(0, 1]`` for a positive fraction).
    """

    minimum: float
    maximum: float
    min_exclusive: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.minimum if self.min_exclusive else value >= self.minimum
        return above and value <= self.maximum

    def __str__(self) -> str:
        return f"{'(' if self.min_exclusive else '['}{self.minimum:g}, {self.maximum:g}]"


_FRACTION = ParamRange(0.0, 1.0)
_POSITIVE_FRACTION = ParamRange(0.0, 1.0, min_exclusive=True)
_COUNT = ParamRange(1, 10_000_000)

PARAM_RANGES: Mapping[str, ParamRange] = MappingProxyType(
    {
        "bound_fraction": _POSITIVE_FRACTION,
        "candidates_per_round": ParamRange(1, 100),
        "components": ParamRange(1, 1024),
        "dims": ParamRange(1, 65_536),
        "epsilon": _POSITIVE_FRACTION,
        "flip_tolerance": _FRACTION,
        "foreign_share": _FRACTION,
        "grid_size": ParamRange(2, 1000),
        "iqr_multiplier": ParamRange(0, 1000),
        "judged_strength": ParamRange(1, 5),
        "margin": ParamRange(0, 100),
        "max_categories": ParamRange(1, 10_000),
        "max_contrast": ParamRange(0, 255),
        "max_queries": ParamRange(2, 100_000),  # a text attack ranks words, then edits
        "max_ref_null_fraction": _FRACTION,
        "max_rows": ParamRange(1, 1_000_000),
        "max_words_fraction": _POSITIVE_FRACTION,
        "min_expected_count": ParamRange(0, 1e9),
        "min_frequency": _FRACTION,
        "min_group_size": _COUNT,
        "min_script_share": _FRACTION,
        "min_side_texts": _COUNT,
        "min_subset_size": _COUNT,
        "min_texts": _COUNT,
        "numeric_bins": ParamRange(2, 100),
        "p_init": _POSITIVE_FRACTION,
        "quantile": _POSITIVE_FRACTION,
        "sample_size": ParamRange(1, 100_000),
        "steps": ParamRange(1, 1000),
        "top_tokens": ParamRange(1, 100_000),
        "word_rate": _POSITIVE_FRACTION,
    }
)
"""The range of every numeric ``tests_config`` parameter, by name (one range per name, whichever
test has it). :func:`register_test` refuses a numeric parameter without one;
:func:`pytest_rime.engine.validation.validate_config` refuses a value outside it."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Finding:
    """What a test measured for one test case (status and severity are set outside).

    Attributes:
        features: Feature names the case is about (empty for dataset-level cases).
        statistic: The number compared with the thresholds; larger is worse. ``None`` = SKIP.
        description: One sentence a person can act on (the verdict is appended by the runner).
        metrics: Measured values (observed statistic, counts, metric deltas), JSON-simple.
        impact: Model impact in 0..1 (feature importance, or measured change of the model on
            the flagged rows); caps the severity. ``None`` when the case is not about the model.
        flagged_rows: Positions (0-based, in the eval frame) of the rows the case flags.
        skip_reason: Why the case was skipped (when ``statistic`` is ``None``).
        severity_cap: The highest severity the case may have whatever its statistic and impact
            (``None``: no cap); what-if tests use it when the data does not show the weakness.
        cap_reason: The sentence appended to the description when the cap lowers the severity.
        p_value: The probability of an effect at least this large by sampling noise alone
            (``None`` when the case compares no samples). After the run, every p-value is
            adjusted for multiple testing (:mod:`pytest_rime.engine.evidence`); MEDIUM and
            HIGH need the adjusted value below the run's ``significance_level``.
    """

    features: tuple[str, ...]
    statistic: float | None
    description: str
    metrics: Mapping[str, JSONValue] = field(default_factory=dict)
    impact: float | None = None
    flagged_rows: npt.NDArray[np.int64] | None = None
    skip_reason: str | None = None
    severity_cap: Severity | None = None
    cap_reason: str = ""
    p_value: float | None = None

    @classmethod
    def skip(cls, features: Iterable[str], reason: str) -> Finding:
        """A SKIP case for ``features`` with ``reason`` as its description."""
        return cls(features=tuple(features), statistic=None, description=reason, skip_reason=reason)


@dataclass(frozen=True)
class TestSettings:
    """Effective settings of one test in a run: defaults merged with ``tests_config``."""

    __test__ = False  # not a pytest test class

    thresholds: Thresholds
    params: Mapping[str, Any]
    seed: int


TestFunction = Callable[["RunContext", TestSettings], Iterable[Finding]]


@dataclass(frozen=True)
class TestSpec:
    """A registered test: its id, display name, category, defaults and function."""

    __test__ = False  # not a pytest test class

    test_id: str
    name: str
    category: str
    description: str
    thresholds: Thresholds
    func: TestFunction
    needs_model: bool = False
    needs_predictions: bool = False
    needs_labels: bool = False
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    param_choices: Mapping[str, tuple[Any, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    data_types: tuple[str, ...] = (TABULAR,)
    column_drift: bool = False

    @property
    def category_slug(self) -> str:
        """The id prefix of the test's category."""
        return CATEGORY_SLUGS[self.category]


_REGISTRY: dict[str, TestSpec] = {}


def register_test(
    test_id: str,
    *,
    name: str,
    category: str,
    thresholds: Thresholds,
    description: str,
    needs_model: bool = False,
    needs_predictions: bool = False,
    needs_labels: bool = False,
    params: Mapping[str, Any] | None = None,
    param_choices: Mapping[str, tuple[Any, ...]] | None = None,
    data_types: tuple[str, ...] = (TABULAR,),
    column_drift: bool = False,
) -> Callable[[TestFunction], TestFunction]:
    """Decorator registering a test function under ``test_id``.

    Args:
        test_id: ``"<category slug>.<name>"``, unique across the registry.
        name: Display name (``test_batch_type``), e.g. ``"Feature Drift"``.
        category: One of :data:`pytest_rime.engine.results.CATEGORIES`.
        thresholds: Default ascending ``(low, medium, high)``.
        description: One sentence on what the test checks.
        needs_model: The test calls the model on new inputs.
        needs_predictions: The test needs ref/eval predictions (model or precomputed).
        needs_labels: The test needs the label column in ref and eval.
        params: Test-specific ``tests_config`` parameters and their defaults; each numeric one
            needs its range in :data:`PARAM_RANGES`.
        param_choices: Allowed values of some parameters.
        data_types: The ``data_type`` values the test serves (the run loop runs it only on
            those); each one of :data:`pytest_rime.vocabulary.KNOWN_DATA_TYPES`.
        column_drift: The test measures the drift of the columns its cases name: in a firewall
            bin, a WARNING or FAIL case of it counts its features as drifting
            (``num_drifting_features``, :mod:`pytest_rime.engine.monitoring`).

    Returns:
        The decorator; it returns the function unchanged.

    Raises:
        ValueError: The id is taken, malformed, the category or thresholds are invalid, or a
            numeric parameter has no range in :data:`PARAM_RANGES` (or a default outside it).
    """
    if category not in CATEGORY_SLUGS:
        raise ValueError(f"{test_id}: unknown category {category!r} (expected one of {CATEGORIES})")
    if not test_id.startswith(CATEGORY_SLUGS[category] + "."):
        raise ValueError(f"{test_id}: id must start with {CATEGORY_SLUGS[category]!r}.")
    if not thresholds[0] <= thresholds[1] <= thresholds[2]:
        raise ValueError(f"{test_id}: thresholds must be ascending (low, medium, high)")
    for param, default in (params or {}).items():
        if _is_number(default) and (
            param not in PARAM_RANGES or default not in PARAM_RANGES[param]
        ):
            raise ValueError(
                f"{test_id}: numeric parameter {param!r} needs a range in PARAM_RANGES that "
                f"holds its default {default!r}"
            )
    unknown = [name for name in data_types if name not in KNOWN_DATA_TYPES]
    if not data_types or unknown:
        raise ValueError(
            f"{test_id}: data_types must be some of {KNOWN_DATA_TYPES}, got {data_types}"
        )

    def decorate(func: TestFunction) -> TestFunction:
        if test_id in _REGISTRY:
            raise ValueError(f"test id {test_id!r} is already registered")
        _REGISTRY[test_id] = TestSpec(
            test_id=test_id,
            name=name,
            category=category,
            description=description,
            thresholds=(float(thresholds[0]), float(thresholds[1]), float(thresholds[2])),
            func=func,
            needs_model=needs_model,
            needs_predictions=needs_predictions or needs_model,
            needs_labels=needs_labels,
            params=MappingProxyType(dict(params or {})),
            param_choices=MappingProxyType(dict(param_choices or {})),
            data_types=tuple(data_types),
            column_drift=column_drift,
        )
        return func

    return decorate


def registered_tests() -> tuple[TestSpec, ...]:
    """The tests registered so far, in registration order.

    Only the modules imported so far have registered theirs: ask
    :func:`pytest_rime.engine.catalog.all_tests` for every test of the engine.
    """
    return tuple(_REGISTRY.values())
