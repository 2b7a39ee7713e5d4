"""Multiple-testing control over a run: Benjamini-Hochberg against scipy, severity by evidence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pytest_rime.engine.errors import ConfigError
from pytest_rime.engine.evidence import P_VALUE_ADJUSTED, apply_evidence, benjamini_hochberg
from pytest_rime.engine.results import Severity, Status, TestBatchResult, TestCaseResult
from pytest_rime.engine.validation import validate_config


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_benjamini_hochberg_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.random(40), rng.random(10) * 1e-3])
    rng.shuffle(p)
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p))


def test_benjamini_hochberg_ignores_nan() -> None:
    p = np.array([0.01, np.nan, 0.04, 0.03])
    adjusted = benjamini_hochberg(p)
    assert np.isnan(adjusted[1])
    finite = p[[0, 2, 3]]
    np.testing.assert_allclose(adjusted[[0, 2, 3]], stats.false_discovery_control(finite))


def _case(
    p_value: float | None, severity: Severity, status: Status = Status.FAIL
) -> TestCaseResult:
    metrics = {} if p_value is None else {"p_value": p_value}
    return TestCaseResult(
        test_id="drift.feature_drift",
        test_batch_type="Feature Drift",
        category="Drift",
        features=("x",),
        status=status,
        severity=severity,
        importance_score=1.0,
        metrics=metrics,
        description="Feature x drifted.",
    )


def _batch(*cases: TestCaseResult) -> TestBatchResult:
    return TestBatchResult("drift.feature_drift", "Feature Drift", "Drift", "", 0, cases)


def test_insignificant_high_is_lowered_and_significant_high_stays() -> None:
    noise = [_case(0.02, Severity.HIGH)] + [_case(0.5, Severity.NONE, Status.PASS)] * 9
    real = _case(1e-6, Severity.HIGH)
    (batch,) = apply_evidence([_batch(real, *noise)], 0.01)
    kept, lowered = batch.cases[0], batch.cases[1]
    assert kept.severity is Severity.HIGH
    assert kept.metrics[P_VALUE_ADJUSTED] == pytest.approx(1.1e-5)
    assert "significant at 0.01" in kept.description
    assert lowered.severity is Severity.LOW
    assert lowered.status is Status.FAIL
    assert lowered.metrics[P_VALUE_ADJUSTED] == pytest.approx(0.11)
    assert "not significant" in lowered.description


def test_cases_without_p_values_are_untouched_and_not_counted() -> None:
    plain = _case(None, Severity.HIGH)
    (batch,) = apply_evidence([_batch(plain, _case(0.004, Severity.HIGH))], 0.01)
    assert batch.cases[0] == plain
    assert batch.cases[1].metrics[P_VALUE_ADJUSTED] == pytest.approx(0.004)
    assert batch.cases[1].severity is Severity.HIGH


def _config(tests_config: object) -> dict[str, object]:
    return {
        "data_info": {"ref_path": "ref.csv", "eval_path": "eval.csv"},
        "tests_config": tests_config,
    }


def test_significance_level_is_validated_and_round_trips() -> None:
    config = validate_config(_config({"significance_level": 0.05}))
    assert config.significance_level == 0.05
    assert validate_config(config.to_dict()) == config
    assert validate_config(_config({})).significance_level == 0.01
    for bad in (0, 1.5, "0.05", True):
        with pytest.raises(ConfigError) as info:
            validate_config(_config({"significance_level": bad}))
        assert info.value.key == "tests_config.significance_level"
