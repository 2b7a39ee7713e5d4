"""The data-type seam: a data type is a loader, a model adapter and its tests, nothing more.

The worked example of docs/internals.md ("Adding a data type") is run here for real: a data
type registered for the duration of one test (under the name ``images``, not registered yet)
reads jsonl files, calls a model through its own adapter and runs only the tests registered
for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pytest_rime.engine import datatypes, registry
from pytest_rime.engine.catalog import all_tests, data_type, supported_data_types
from pytest_rime.engine.config import TestRunConfig
from pytest_rime.engine.context import RunContext
from pytest_rime.engine.data import Resolver, read_table
from pytest_rime.engine.datatypes import LoadedData, register_data_type
from pytest_rime.engine.errors import ConfigError
from pytest_rime.engine.model import ModelAdapter
from pytest_rime.engine.registry import Finding, TestSettings, register_test
from pytest_rime.engine.results import Status
from pytest_rime.engine.run import run_stress_test
from pytest_rime.engine.validation import validate_config
from pytest_rime.vocabulary import BINARY, IMAGES, KNOWN_DATA_TYPES, NLP, TABULAR


@pytest.fixture
def scratch_registries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Registrations made in the test are dropped after it.

    ``images`` (and the tests serving it) are unregistered for the test's duration, so that it
    can register a data type of that name itself (the catalog is loaded first).
    """
    all_tests()
    tests = {k: v for k, v in registry._REGISTRY.items() if IMAGES not in v.data_types}
    monkeypatch.setattr(registry, "_REGISTRY", tests)
    kinds = {k: v for k, v in datatypes._DATA_TYPES.items() if k != IMAGES}
    monkeypatch.setattr(datatypes, "_DATA_TYPES", kinds)
    yield


def test_the_registered_data_types() -> None:
    assert supported_data_types() == (TABULAR, NLP, IMAGES)
    assert data_type(TABULAR).name == TABULAR


def test_every_test_serves_a_registered_data_type() -> None:
    specs = all_tests()
    assert specs
    assert all(set(spec.data_types) <= set(KNOWN_DATA_TYPES) for spec in specs)
    ids = {spec.test_id for spec in specs}
    assert {s.test_id for kind in KNOWN_DATA_TYPES for s in all_tests(kind)} == ids


def test_config_with_an_unregistered_data_type_names_the_supported_ones(
    scratch_registries: None,
) -> None:
    raw = {"data_info": {"ref_path": "r.csv", "eval_path": "e.csv"}, "data_type": "images"}
    with pytest.raises(ConfigError) as info:
        validate_config(raw)
    assert info.value.key == "data_type"
    assert "expected one of tabular, nlp, got 'images'" in str(info.value)
    with pytest.raises(KeyError, match="'images' is not supported; supported: tabular, nlp"):
        data_type(IMAGES)


def test_registering_checks_names(scratch_registries: None) -> None:
    loader: Callable[..., LoadedData] = lambda *_: LoadedData(  # noqa: E731
        pd.DataFrame(), pd.DataFrame(), None, None, {}
    )
    with pytest.raises(ValueError, match="expected one of tabular, nlp, images"):
        register_data_type(
            "audio", load_data=loader, load_model=_no_model, data_info_keys=(), model_tasks=()
        )
    with pytest.raises(ValueError, match="already registered"):
        register_data_type(
            TABULAR, load_data=loader, load_model=_no_model, data_info_keys=(), model_tasks=()
        )
    with pytest.raises(ValueError, match=r"data_info keys \['sound_col'\] are not DataInfo"):
        register_data_type(
            "images",
            load_data=loader,
            load_model=_no_model,
            data_info_keys=("ref_path", "sound_col"),
            model_tasks=(),
        )
    with pytest.raises(ValueError, match="data_types must be some of"):
        register_test(
            "drift.x",
            name="X",
            category="Drift",
            thresholds=(1, 2, 3),
            description="x",
            data_types=("audio",),
        )


def _no_model(config: TestRunConfig, resolver: Resolver | None) -> ModelAdapter:
    raise AssertionError("not called")


def _write_jsonl(path: Path, texts: list[str], labels: list[int]) -> str:
    rows = (json.dumps({"text": t, "label": y}) for t, y in zip(texts, labels, strict=True))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def _load_texts(
    config: TestRunConfig, resolver: Resolver | None, log: Callable[[str], None]
) -> LoadedData:
    ref = read_table(config.data_info.ref_path, resolver)
    cur = read_table(config.data_info.eval_path, resolver)
    log(f"read {len(ref)} reference and {len(cur)} evaluation texts")
    return LoadedData(ref, cur, None, None, {"ref_rows": len(ref), "eval_rows": len(cur)})


class _TextModel:
    """Probability of the positive class: 0.9 for texts mentioning "good", else 0.1."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def predict_dict(self, row: dict[str, object]) -> float:
        text = str(row["text"])
        self.seen.append(text)
        return 0.9 if "good" in text else 0.1


def test_a_new_data_type_is_a_loader_an_adapter_and_its_tests(
    tmp_path: Path, scratch_registries: None
) -> None:
    model = _TextModel()

    def load_text_model(config: TestRunConfig, resolver: Resolver | None) -> ModelAdapter:
        path = config.model_info.path if config.model_info else "model.py"

        def predict(frame: pd.DataFrame) -> np.ndarray:
            return np.array([model.predict_dict(row) for row in frame.to_dict("records")])

        return ModelAdapter(predict, source=path, function="predict_dict")

    register_data_type(
        "images",
        load_data=_load_texts,
        load_model=load_text_model,
        data_info_keys=("ref_path", "eval_path", "label_col"),
        model_tasks=(BINARY,),
    )

    @register_test(
        "data_cleanliness.empty_texts",
        name="Empty Texts",
        category="Data Cleanliness",
        thresholds=(0.01, 0.05, 0.1),
        description="Share of eval texts that are empty or whitespace.",
        data_types=("images",),
    )
    def empty_texts(ctx: RunContext, settings: TestSettings) -> list[Finding]:
        """Share of blank eval texts. Severity: the threshold level."""
        blank = ctx.eval["text"].astype(str).str.strip().eq("")
        return [Finding(("text",), float(blank.mean()), f"{int(blank.sum())} blank texts.")]

    texts = ["good day", "bad day", "good film", "awful", "good", "meh"] * 5
    labels = [1, 0, 1, 0, 1, 0] * 5
    ref = _write_jsonl(tmp_path / "ref.jsonl", texts, labels)
    cur = _write_jsonl(tmp_path / "eval.jsonl", [*texts[:-3], " ", "", "good"], labels)
    config = {
        "run_name": "texts",
        "data_type": "images",
        "data_info": {"ref_path": ref, "eval_path": cur, "label_col": "label"},
        "model_info": {"path": "model.py"},
        "tests_config": {"data_cleanliness.empty_texts": {"thresholds": [0.01, 0.02, 0.05]}},
    }
    assert supported_data_types() == (TABULAR, NLP, IMAGES)

    result = run_stress_test(config, log=lambda _line: None)

    assert result.data_type == "images"
    assert [batch.test_id for batch in result.batches] == ["data_cleanliness.empty_texts"]
    (case,) = result.batches[0].cases
    assert case.status == Status.FAIL
    assert case.metrics["statistic"] == pytest.approx(2 / 30)
    assert "good film" in model.seen  # the data type's adapter made the predictions
    assert {p.name for p in result.model_perf} >= {"Accuracy"}
    accuracy = next(p for p in result.model_perf if p.name == "Accuracy")
    assert accuracy.ref_metric == pytest.approx(1.0)
