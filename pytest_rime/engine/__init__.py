"""The testing engine: pure Python/pandas, no gRPC and no pytest.

Entry points: :func:`pytest_rime.engine.validation.validate_config` and
:func:`pytest_rime.engine.run.run_stress_test`; results are in :mod:`pytest_rime.engine.results`.
"""
