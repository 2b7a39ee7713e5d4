"""Everything the engine can run: every registered test and data type.

They are found by importing each module under :mod:`pytest_rime.engine.tests` and
:mod:`pytest_rime.engine.datatypes`.

The run loop, config validation and the server ask here; a module that registers a test or a
data type is found without being listed anywhere (docs/internals.md, "Adding a test").
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from types import ModuleType

from pytest_rime.engine import datatypes
from pytest_rime.engine import tests as test_modules
from pytest_rime.engine.datatypes import DataType, registered_data_types
from pytest_rime.engine.registry import TestSpec, registered_tests
from pytest_rime.vocabulary import CATEGORIES, KNOWN_DATA_TYPES


def _import_modules_of(package: ModuleType) -> None:
    for module in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
        importlib.import_module(module.name)


@functools.cache
def _load() -> None:
    """Import every test and data type module once (each registers itself on import)."""
    _import_modules_of(datatypes)
    _import_modules_of(test_modules)


def all_tests(data_type: str | None = None) -> tuple[TestSpec, ...]:
    """Every registered test serving ``data_type`` (every one when ``None``).

    In :data:`~pytest_rime.vocabulary.CATEGORIES` order, then in registration order.
    """
    _load()
    order = {category: index for index, category in enumerate(CATEGORIES)}
    specs = (s for s in registered_tests() if data_type is None or data_type in s.data_types)
    return tuple(sorted(specs, key=lambda spec: order[spec.category]))


def get_test(test_id: str) -> TestSpec:
    """The registered test ``test_id``.

    Raises:
        KeyError: No test has that id.
    """
    for spec in all_tests():
        if spec.test_id == test_id:
            return spec
    raise KeyError(f"unknown test id {test_id!r}")


def supported_data_types() -> tuple[str, ...]:
    """Names of the registered data types, in ``KNOWN_DATA_TYPES`` order."""
    _load()
    registered = {data_type.name for data_type in registered_data_types()}
    return tuple(name for name in KNOWN_DATA_TYPES if name in registered)


def data_type(name: str) -> DataType:
    """The registered data type ``name``.

    Raises:
        KeyError: No data type of that name is registered.
    """
    _load()
    for registered in registered_data_types():
        if registered.name == name:
            return registered
    raise KeyError(
        f"data type {name!r} is not supported; supported: {', '.join(supported_data_types())}"
    )
