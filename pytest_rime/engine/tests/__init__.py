"""The engine's tests, one module per category (or per data type's own tests).

Each module registers its tests on import (:func:`pytest_rime.engine.registry.register_test`);
:mod:`pytest_rime.engine.catalog` imports every module of this package, so a new module is
found without being listed here.
"""
