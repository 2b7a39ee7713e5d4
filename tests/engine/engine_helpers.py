"""Helpers for engine tests: small frames, configs, contexts, models and test runners.

Imported as ``from engine_helpers import ...`` (a unique name: other test folders have their
own conftest modules).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pytest_rime.engine.catalog import get_test
from pytest_rime.engine.config import TestRunConfig
from pytest_rime.engine.context import RunContext
from pytest_rime.engine.distribution import MAX_LABELS
from pytest_rime.engine.importance import compute_importance
from pytest_rime.engine.model import ModelAdapter
from pytest_rime.engine.results import Severity, Status, TestCaseResult
from pytest_rime.engine.run import run_test, settings_for
from pytest_rime.engine.validation import validate_config


def make_config(
    *,
    label_col: str | None = "y",
    model_task: str | None = None,
    tests_config: Mapping[str, Any] | None = None,
    **data_info: Any,
) -> TestRunConfig:
    """A validated config whose paths are placeholders (frames are passed directly)."""
    raw: dict[str, Any] = {
        "run_name": "unit",
        "data_info": {"ref_path": "ref.csv", "eval_path": "eval.csv", **data_info},
    }
    if label_col is not None:
        raw["data_info"]["label_col"] = label_col
    if model_task is not None:
        raw["model_task"] = model_task
    if tests_config is not None:
        raw["tests_config"] = dict(tests_config)
    return validate_config(raw)


def make_context(
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    *,
    model: ModelAdapter | Callable[[pd.DataFrame], Any] | None = None,
    ref_predictions: np.ndarray | None = None,
    eval_predictions: np.ndarray | None = None,
    **config: Any,
) -> RunContext:
    """A RunContext over in-memory frames; a bare function becomes a ModelAdapter."""
    if model is not None and not isinstance(model, ModelAdapter):
        model = ModelAdapter(model, source="test model")
    return RunContext(
        make_config(**config),
        ref,
        cur,
        model=model,
        ref_predictions=ref_predictions,
        eval_predictions=eval_predictions,
        importance=compute_importance,
    )


def run_one(ctx: RunContext, test_id: str) -> list[TestCaseResult]:
    """Cases of one registered test on ``ctx`` (with the config's overrides)."""
    spec = get_test(test_id)
    cases, _ = run_test(ctx, spec, settings_for(ctx.config, spec), log=lambda _line: None)
    return list(cases)


def case_for(cases: list[TestCaseResult], *features: str) -> TestCaseResult:
    """The single case about exactly ``features``."""
    matches = [c for c in cases if c.features == features]
    assert len(matches) == 1, [c.features for c in cases]
    return matches[0]


def statuses(cases: list[TestCaseResult]) -> set[Status]:
    return {c.status for c in cases}


def worst(cases: list[TestCaseResult]) -> Severity:
    return Severity.worst(c.severity for c in cases)


def tabular_frame(n: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """A small mixed-type frame: x drives the label y, z is noise, c/k categorical, i integer."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    return pd.DataFrame(
        {
            "x": x,
            "z": rng.normal(0.0, 1.0, n),
            "i": rng.integers(0, 50, n),
            "c": rng.choice(["red", "green", "blue"], n),
            "k": rng.choice(["north", "south"], n),
            "y": (x + rng.normal(0.0, 0.5, n) > 0).astype(int),
        }
    )


def x_model(frame: pd.DataFrame) -> np.ndarray:
    """Positive-class probability from x only (z, i, c, k are ignored)."""
    x = pd.to_numeric(frame["x"], errors="coerce").fillna(0.0).to_numpy()
    return 1.0 / (1.0 + np.exp(-4.0 * x))


def planted(frame: pd.DataFrame, feature: str, values: Sequence[Any]) -> pd.DataFrame:
    """A copy of ``frame`` whose first rows of ``feature`` are ``values`` (dtype re-inferred)."""
    column = [*values, *frame[feature].iloc[len(values) :]]
    return frame.assign(**{feature: pd.Series(column, index=frame.index)})


def distribution_frame(case: TestCaseResult) -> pd.DataFrame:
    """The case's distribution as a frame indexed by label, after a JSON round trip."""
    data = json.loads(json.dumps(case.metrics["distribution"]))
    assert set(data) == {"labels", "ref", "eval"}
    assert len(data["labels"]) == len(data["ref"]) == len(data["eval"]) <= MAX_LABELS
    assert sum(data["ref"]) == pytest.approx(1.0, abs=1e-5)
    assert sum(data["eval"]) == pytest.approx(1.0, abs=1e-5)
    return pd.DataFrame({"ref": data["ref"], "eval": data["eval"]}, index=data["labels"])


def decile_shares(ref: pd.Series, cur: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges at the reference deciles and each side's shares in ``(e_i, e_i+1]`` bins."""
    ref_values = ref.dropna().to_numpy(dtype=float)
    edges = np.unique(np.quantile(ref_values, np.linspace(0, 1, 11)[1:-1]))
    bins = [-np.inf, *edges, np.inf]

    def side(values: pd.Series) -> np.ndarray:
        cut = pd.cut(values.dropna(), bins, right=True)
        return cut.value_counts(sort=False, normalize=True).to_numpy()

    return edges, side(ref), side(cur)
