"""RunContext: task inference, cached predictions, normal forms, importance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_helpers import make_context, tabular_frame, x_model

from pytest_rime.engine.errors import ModelError
from pytest_rime.engine.importance import LABEL_MI, NONE, PERMUTATION
from pytest_rime.engine.model import ModelAdapter
from pytest_rime.engine.tasks import infer_model_task


@pytest.mark.parametrize(
    ("labels", "task"),
    [
        ([0, 1, 1, 0], "Binary Classification"),
        (["a", "b", "a", "a"], "Binary Classification"),
        ([0, 1, 2, 1], "Multi-class Classification"),
        (["a", "b", "c", "a"], "Multi-class Classification"),
        ([0.5, 1.25, 3.0, 2.0], "Regression"),
        (list(range(100)), "Regression"),
    ],
)
def test_task_inferred_from_labels(labels: list[object], task: str) -> None:
    assert infer_model_task(pd.Series(labels), None) == task


def test_task_inferred_from_predictions_without_labels() -> None:
    assert infer_model_task(None, np.array([0.1, 0.9])) == "Binary Classification"
    assert infer_model_task(None, np.ones((3, 3)) / 3) == "Multi-class Classification"
    assert infer_model_task(None, np.array([3.5, -2.0])) == "Regression"
    assert infer_model_task(None, None) is None


def test_predictions_are_computed_once_and_cached() -> None:
    ref, cur = tabular_frame(100, 0), tabular_frame(80, 1)
    ctx = make_context(ref, cur, model=x_model)
    assert ctx.model_task == "Binary Classification" and ctx.model_task_inferred
    assert ctx.model is not None and ctx.model.n_calls == 0
    first = ctx.predictions("eval")
    assert ctx.predictions("eval") is first and ctx.model.n_calls == 1
    assert first.shape == (80,)
    assert set(ctx.predicted_labels("eval")) <= {0, 1}
    assert ctx.positive_class == 1


def test_binary_matrix_and_label_outputs_are_normalised() -> None:
    ref, cur = tabular_frame(50, 0), tabular_frame(50, 1)
    proba = np.column_stack([1 - x_model(ref), x_model(ref)])
    ctx = make_context(ref, cur, ref_predictions=proba, eval_predictions=np.asarray(cur["y"]))
    np.testing.assert_allclose(ctx.predictions("ref"), x_model(ref))
    np.testing.assert_array_equal(ctx.predictions("eval"), cur["y"].to_numpy(float))
    assert not ctx.has_model and ctx.has_predictions
    with pytest.raises(ModelError, match="no model"):
        ctx.predict(cur)


def test_multiclass_probabilities_give_labels_in_class_order() -> None:
    ref = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": ["a", "b", "c"]})
    probs = np.eye(3)[[2, 0, 1]]
    ctx = make_context(ref, ref, ref_predictions=probs, eval_predictions=probs)
    assert ctx.model_task == "Multi-class Classification"
    assert ctx.predicted_labels("ref").tolist() == ["c", "a", "b"]


def test_row_losses_and_baseline() -> None:
    ref = pd.DataFrame({"x": [0.0] * 4, "y": [0, 0, 0, 1]})
    ctx = make_context(
        ref,
        ref,
        ref_predictions=np.array([0.1, 0.9, 0.2, 0.8]),
        eval_predictions=np.array([0.1, 0.9, 0.2, 0.8]),
    )
    assert ctx.row_losses("eval").tolist() == [0.0, 1.0, 0.0, 0.0]
    assert ctx.baseline_loss() == pytest.approx(0.25)


def test_prediction_length_mismatch_is_an_error() -> None:
    ref = tabular_frame(10, 0)
    with pytest.raises(ValueError, match="ref predictions have 3 rows"):
        make_context(ref, ref, ref_predictions=np.zeros(3))


def test_permutation_importance_ranks_the_used_feature_in_one_call() -> None:
    ref, cur = tabular_frame(300, 0), tabular_frame(300, 1)
    model = ModelAdapter(x_model, source="x")
    ctx = make_context(ref, cur, model=model, features_not_in_model=["k"])
    importance = ctx.importance
    assert importance.method == PERMUTATION
    assert importance.of("x") == 1.0
    assert importance.of("z") == 0.0 and importance.of("c") == 0.0 and importance.of("k") == 0.0
    assert model.n_calls == 1
    assert ctx.importance is importance


def test_importance_falls_back_to_label_dependence() -> None:
    ref, cur = tabular_frame(400, 0), tabular_frame(400, 1)
    importance = make_context(ref, cur).importance
    assert importance.method == LABEL_MI
    assert importance.of("x") == 1.0
    assert max(importance.of(n) or 0.0 for n in ("z", "i", "c", "k")) < 0.2
    none = make_context(ref.drop(columns="y"), cur, label_col=None).importance
    assert none.method == NONE and none.of("x") is None


def test_failing_model_falls_back_and_logs() -> None:
    def broken(frame: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("boom")

    ref = tabular_frame(100, 0)
    lines: list[str] = []
    ctx = make_context(ref, ref, model=broken)
    ctx.log = lines.append
    assert ctx.importance.method == LABEL_MI
    assert any("boom" in line for line in lines)


def test_profiles_and_memo_are_shared() -> None:
    ref, cur = tabular_frame(100, 0), tabular_frame(100, 1)
    ctx = make_context(ref, cur)
    assert ctx.profile("x") is ctx.profile("x")
    calls: list[int] = []

    def compute(value: int) -> int:
        calls.append(value)
        return value

    assert ctx.memo("k", lambda: compute(5)) == 5
    assert ctx.memo("k", lambda: compute(6)) == 5 and calls == [5]
    a, b = ctx.rng("a").random(3), make_context(ref, cur).rng("a").random(3)
    np.testing.assert_array_equal(a, b)
