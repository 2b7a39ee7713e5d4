"""Registry hygiene: every test is registered once, under its category, with its defaults."""

from __future__ import annotations

import pkgutil

import pytest

import pytest_rime.engine.tests as test_package
from pytest_rime.engine.catalog import all_tests, get_test
from pytest_rime.engine.registry import CATEGORY_SLUGS, Finding, register_test
from pytest_rime.engine.results import CATEGORIES


def test_ids_are_unique_and_prefixed_by_their_category() -> None:
    specs = all_tests()
    ids = [spec.test_id for spec in specs]
    assert len(ids) == len(set(ids))
    for spec in specs:
        assert spec.category in CATEGORIES
        assert spec.test_id.startswith(CATEGORY_SLUGS[spec.category] + ".")


def test_every_spec_has_description_thresholds_and_a_severity_docstring() -> None:
    for spec in all_tests():
        assert spec.description.strip(), spec.test_id
        assert spec.name.strip(), spec.test_id
        low, medium, high = spec.thresholds
        assert low <= medium <= high, spec.test_id
        assert spec.func.__doc__ and "everity" in spec.func.__doc__, spec.test_id
        assert set(spec.param_choices) <= set(spec.params), spec.test_id
        for name, choices in spec.param_choices.items():
            assert spec.params[name] in choices, spec.test_id


def test_every_category_module_registers_at_least_one_test() -> None:
    # a private module (``_families``) is a helper of the category modules, not a category
    modules = [
        info.name
        for info in pkgutil.iter_modules(test_package.__path__)
        if not info.name.startswith("_")
    ]
    assert modules
    registered = {spec.func.__module__ for spec in all_tests()}
    for name in modules:
        module = f"{test_package.__name__}.{name}"
        assert module in registered, (
            f"{module} registers no test, or pytest_rime/engine/tests/__init__.py does not "
            "import it"
        )


def test_registry_is_in_category_order() -> None:
    order = [CATEGORIES.index(spec.category) for spec in all_tests()]
    assert order == sorted(order)


def test_every_documented_test_is_registered() -> None:
    names = {(spec.category, spec.name) for spec in all_tests()}
    for expected in [
        ("Data Cleanliness", "Required Features"),
        ("Data Cleanliness", "Duplicate Rows"),
        ("Data Cleanliness", "Label Imbalance"),
        ("Data Cleanliness", "High Feature Correlation"),
        ("Data Cleanliness", "High Mutual Information (Feature to Label)"),
        ("Abnormal Inputs", "Numeric Outliers"),
        ("Abnormal Inputs", "Out of Range"),
        ("Abnormal Inputs", "Unseen Categorical"),
        ("Abnormal Inputs", "Rare Categories"),
        ("Abnormal Inputs", "Null Check"),
        ("Abnormal Inputs", "Empty String"),
        ("Abnormal Inputs", "Capitalization"),
        ("Abnormal Inputs", "Must be Int"),
        ("Abnormal Inputs", "Must be Float"),
        ("Abnormal Inputs", "Must be Bool"),
        ("Abnormal Inputs", "Must be String"),
        ("Abnormal Inputs", "Inconsistencies"),
        ("Drift", "Feature Drift"),
        ("Drift", "Label Drift"),
        ("Drift", "Prediction Drift"),
        ("Drift", "Nulls Per Feature Drift"),
        ("Drift", "Correlation Drift (Feature to Label)"),
    ]:
        assert expected in names


def _noop(ctx: object, settings: object) -> list[Finding]:
    return []


def test_duplicate_id_raises() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_test(
            "drift.feature_drift",
            name="Again",
            category="Drift",
            thresholds=(0.1, 0.2, 0.3),
            description="duplicate",
        )(_noop)


@pytest.mark.parametrize(
    ("test_id", "category", "thresholds", "text"),
    [
        ("drift.x", "Weather", (0.1, 0.2, 0.3), "unknown category"),
        ("weather.x", "Drift", (0.1, 0.2, 0.3), "must start with 'drift'"),
        ("drift.x", "Drift", (0.3, 0.2, 0.1), "ascending"),
    ],
)
def test_malformed_registrations_raise(
    test_id: str, category: str, thresholds: tuple[float, float, float], text: str
) -> None:
    with pytest.raises(ValueError, match=text):
        register_test(test_id, name="X", category=category, thresholds=thresholds, description="x")(
            _noop
        )
    with pytest.raises(KeyError):
        get_test(test_id)


def test_get_test_unknown_id() -> None:
    with pytest.raises(KeyError, match="unknown test id"):
        get_test("drift.nope")
