"""Confidence drift (nlp and images): the model's top class probability, ref vs eval."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from engine_helpers import decile_shares, distribution_frame
from image_data import blob_images, write_image_run
from scipy import stats
from text_data import make_texts, train_pipeline, write_text_run

from pytest_rime.engine.results import Severity, Status
from pytest_rime.engine.run import run_stress_test

ONLY = "drift.confidence_drift"


def _only_confidence(config: dict[str, object]) -> dict[str, object]:
    from pytest_rime.engine.catalog import all_tests

    data_type = str(config["data_type"])
    others = {s.test_id: {"enabled": False} for s in all_tests(data_type) if s.test_id != ONLY}
    return {**config, "tests_config": {**others, **dict(config.get("tests_config", {}))}}


def _case(config: dict[str, object]):  # type: ignore[no-untyped-def]
    result = run_stress_test(_only_confidence(config), log=lambda _line: None)
    (batch,) = result.batches
    (case,) = batch.cases
    return case


def test_a_clean_text_split_has_no_confidence_drift(tmp_path: Path) -> None:
    case = _case(write_text_run(tmp_path, make_texts(400, 0), make_texts(400, 1)).config())
    assert case.status is not Status.SKIP
    assert case.severity.rank <= Severity.LOW.rank


def test_texts_of_unseen_topics_lower_the_confidence_and_ks_matches_scipy(tmp_path: Path) -> None:
    ref = make_texts(400, 0)
    cur = make_texts(400, 1, classes=("health", "travel"))
    cur["label"] = cur["label"].clip(0, 1)
    run = write_text_run(tmp_path, ref, cur)
    config = run.config(tests_config={ONLY: {"numeric_statistic": "ks"}})
    case = _case(config)
    assert case.severity is Severity.HIGH
    pipeline = train_pipeline(ref)
    ref_conf = pipeline.predict_proba(ref["text"]).max(axis=1)
    eval_conf = pipeline.predict_proba(cur["text"]).max(axis=1)
    assert eval_conf.mean() < ref_conf.mean()
    assert case.metrics["statistic"] == pytest.approx(stats.ks_2samp(ref_conf, eval_conf).statistic)
    shares = distribution_frame(case)  # the chart: reference-decile bins of the confidence
    _, ref_expected, eval_expected = decile_shares(pd.Series(ref_conf), pd.Series(eval_conf))
    assert shares["ref"].to_numpy() == pytest.approx(ref_expected, abs=0.01)
    assert shares["eval"].to_numpy() == pytest.approx(eval_expected, abs=0.01)


def test_images_get_it_too_and_labels_only_models_skip(tmp_path: Path) -> None:
    run = write_image_run(tmp_path / "blobs", blob_images(200, 0), blob_images(200, 1))
    assert _case(run.config()).status is not Status.SKIP
    labels_only = tmp_path / "labels.py"
    labels_only.write_text(
        "import numpy as np\n"
        "def predict_batch(images):\n"
        "    return np.array([i % 3 for i in range(len(images))])\n",
        encoding="utf-8",
    )
    texts = write_text_run(
        tmp_path / "texts",
        make_texts(90, 0, ("sport", "money", "health")),
        make_texts(90, 1, ("sport", "money", "health")),
    )
    case = _case(texts.config(model_info={"path": str(labels_only)}))
    assert case.status is Status.SKIP
    assert "no class probabilities" in case.description
