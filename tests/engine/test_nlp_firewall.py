"""Firewalls over text: daily bins of timestamped texts tested against an nlp reference run.

Data (:mod:`text_data`): topic texts of two classes, a TF-IDF + logistic regression pipeline
trained on its own texts; three days of evaluation texts stamped ``ts``. Each planted fault is on
the middle day only: 40% of its labels flipped (the model metrics of that day), or 30% of its
texts empty (its abnormality rate). The other days are clean draws of the same distribution.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score
from text_data import TextRun, make_texts, write_text_run

from pytest_rime.engine.firewall import (
    FIREWALL_CATEGORIES,
    FirewallFromReferenceResult,
    FirewallRunResult,
    run_firewall,
    run_firewall_from_reference,
)
from pytest_rime.engine.monitoring import (
    ABNORMALITY_RATE,
    AVERAGE_SEVERITY,
    NUM_DRIFTING_FEATURES,
    TEST_PASS_RATE,
)
from pytest_rime.engine.results import Severity

DAY = 86400
FIRST_DAY = pd.Timestamp("2024-05-01", tz="UTC")
BAD_DAY = 1
ROWS_PER_DAY = 200


def _days(seed: int, fault: str | None) -> pd.DataFrame:
    """Three days of texts stamped ``ts``, with ``fault`` on day 1.

    ``flipped``: 40% of its labels flipped; ``empty``: 30% of its texts empty; ``topic``: its
    texts of other topics.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for day in range(3):
        topics = ("health", "travel") if day == BAD_DAY and fault == "topic" else ("sport", "money")
        frame = make_texts(ROWS_PER_DAY, seed=seed * 10 + day, classes=topics)
        if day == BAD_DAY and fault is not None:
            rows = rng.choice(
                ROWS_PER_DAY,
                int((0.4 if fault == "flipped" else 0.3) * ROWS_PER_DAY),
                replace=False,
            )
            if fault == "flipped":
                frame.loc[rows, "label"] = 1 - frame.loc[rows, "label"]
            else:
                frame.loc[rows, "text"] = ""
        offsets = np.sort(rng.integers(0, DAY, ROWS_PER_DAY))
        stamps = FIRST_DAY + pd.Timedelta(days=day) + pd.to_timedelta(offsets, unit="s")
        frames.append(frame.assign(ts=stamps.strftime("%Y-%m-%d %H:%M:%S")))
    return pd.concat(frames, ignore_index=True)


def _write_jsonl(frame: pd.DataFrame, path: Path) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict("records")))
    return str(path)


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> TextRun:
    folder = tmp_path_factory.mktemp("nlp-firewall")
    ref, cur, train = make_texts(500, seed=1), make_texts(400, seed=2), make_texts(800, seed=3)
    return write_text_run(folder, ref, cur, train=train)


def _config(run: TextRun, eval_path: str | None = None, **extra: Any) -> dict[str, Any]:
    config = run.config(model_task="Binary Classification", random_seed=0, **extra)
    if eval_path is not None:
        config["data_info"]["eval_path"] = eval_path
    return config


def _daily_firewall(texts: TextRun, eval_path: str) -> FirewallRunResult:
    """The firewall of ``texts``' reference over daily bins of ``eval_path`` (stamped ``ts``)."""
    return run_firewall(
        _config(texts),
        eval_path=eval_path,
        timestamp_col="ts",
        bin_size_seconds=DAY,
        log=lambda _line: None,
    )


@pytest.fixture(scope="module")
def flipped(texts: TextRun) -> tuple[pd.DataFrame, FirewallFromReferenceResult]:
    days = _days(5, "flipped")
    path = _write_jsonl(days, texts.ref_path.parent / "days_flipped.jsonl")
    config = _config(texts, path, monitoring_info={"timestamp_col": "ts", "bin_size": "day"})
    return days, run_firewall_from_reference(config, log=lambda _line: None)


def _day_start(day: int) -> int:
    return int((FIRST_DAY + pd.Timedelta(days=day)).timestamp())


def test_daily_bins_of_texts_carry_the_tabular_monitored_metrics(
    flipped: tuple[pd.DataFrame, FirewallFromReferenceResult],
) -> None:
    _, result = flipped
    assert result.stress_test.data_type == "nlp"
    summaries = result.firewall.summaries
    assert [s.bin_start_secs for s in summaries] == [_day_start(d) for d in range(3)]
    assert [s.num_rows for s in summaries] == [ROWS_PER_DAY] * 3
    assert [s.label for s in summaries] == ["2024-05-01", "2024-05-02", "2024-05-03"]
    for summary in summaries:
        metrics = summary.metrics
        for name in (ABNORMALITY_RATE, TEST_PASS_RATE, AVERAGE_SEVERITY, NUM_DRIFTING_FEATURES):
            assert name in metrics
        for name in ("Accuracy", "AUC", "F1", "Log Loss"):
            assert f"model_perf.{name}" in metrics
            assert f"model_perf.{name}.p_value_adjusted" in metrics


def test_each_text_bin_is_a_run_of_the_firewall_categories_only(
    flipped: tuple[pd.DataFrame, FirewallFromReferenceResult],
) -> None:
    _, result = flipped
    stress_categories = {c.category for c in result.stress_test.test_cases}
    assert {"Transformations", "Attacks"} <= stress_categories
    for time_bin in result.firewall.bins:
        assert time_bin.result.data_type == "nlp"
        categories = {c.category for c in time_bin.result.test_cases}
        assert categories <= set(FIREWALL_CATEGORIES)
        assert {"Abnormal Inputs", "Drift", "Model Performance"} <= categories
        assert time_bin.result.num_inputs == ROWS_PER_DAY
        assert "ts" not in {f for c in time_bin.result.test_cases for f in c.features}


def test_flipped_labels_raise_model_events_on_that_day_only(
    flipped: tuple[pd.DataFrame, FirewallFromReferenceResult], texts: TextRun
) -> None:
    days, result = flipped
    events = result.firewall.events
    assert events, "no event for a day with 40% of its labels flipped"
    assert {e.bin_start_secs for e in events} == {_day_start(BAD_DAY)}
    assert any(e.metric == "model_perf.Accuracy" and e.severity is Severity.HIGH for e in events), [
        (e.metric, e.severity) for e in events
    ]
    model = joblib.load(texts.model_path)
    labels = pd.to_datetime(days["ts"], utc=True).dt.day - FIRST_DAY.day
    for day, summary in enumerate(result.firewall.summaries):
        rows = days[labels == day]
        expected = accuracy_score(rows["label"], model.predict(rows["text"]))
        assert summary.metrics["model_perf.Accuracy"] == pytest.approx(expected)
    assert result.firewall.summaries[BAD_DAY].severity is Severity.HIGH
    assert all(result.firewall.summaries[d].severity is Severity.NONE for d in (0, 2))


def test_empty_texts_raise_the_abnormality_rate_of_that_day(texts: TextRun, tmp_path: Path) -> None:
    days = _days(6, "empty")
    path = _write_jsonl(days, tmp_path / "days_empty.jsonl")
    result = _daily_firewall(texts, path)
    assert isinstance(result, FirewallRunResult)
    rates = [s.metrics[ABNORMALITY_RATE] for s in result.summaries]
    assert rates[BAD_DAY] == pytest.approx(0.3, abs=0.02)  # the empty texts, and only them
    assert all(rates[d] is not None and rates[d] < 0.05 for d in (0, 2)), rates
    abnormal = [e for e in result.events if e.metric == ABNORMALITY_RATE]
    assert [e.bin_start_secs for e in abnormal] == [_day_start(BAD_DAY)]
    assert abnormal[0].severity is Severity.HIGH
    bad_cases = result.bins[BAD_DAY].result.test_cases
    empty = [c for c in bad_cases if c.test_id == "abnormal_inputs.empty_text"]
    assert empty and empty[0].severity is Severity.HIGH


def test_a_day_of_other_topics_counts_the_text_column_as_drifting(
    texts: TextRun, tmp_path: Path
) -> None:
    path = _write_jsonl(_days(8, "topic"), tmp_path / "days_topic.jsonl")
    result = _daily_firewall(texts, path)
    counts = [s.metrics[NUM_DRIFTING_FEATURES] for s in result.summaries]
    assert counts == [0.0, 1.0, 0.0]
    assert result.summaries[BAD_DAY].drifting_features == ("text",)
    drift_events = [e for e in result.events if e.metric == NUM_DRIFTING_FEATURES]
    assert [e.bin_start_secs for e in drift_events] == [_day_start(BAD_DAY)]
    assert "'text' (" in drift_events[0].description
    assert "the test's own" in drift_events[0].description


def test_clean_days_raise_no_event_above_low(texts: TextRun, tmp_path: Path) -> None:
    path = _write_jsonl(_days(7, None), tmp_path / "days_clean.jsonl")
    config = _config(texts, path, monitoring_info={"timestamp_col": "ts"})
    result = run_firewall_from_reference(config, log=lambda _line: None)
    assert [e for e in result.firewall.events if e.severity.rank >= Severity.MEDIUM.rank] == []
    assert not [c for c in result.stress_test.test_cases if c.severity is Severity.HIGH]


def test_text_firewall_result_round_trips_through_json(
    flipped: tuple[pd.DataFrame, FirewallFromReferenceResult],
) -> None:
    _, result = flipped
    again = FirewallFromReferenceResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result


def test_a_missing_timestamp_column_in_texts_is_named(texts: TextRun) -> None:
    with pytest.raises(ValueError, match="timestamp_col"):
        run_firewall(
            _config(texts),
            eval_path=str(texts.eval_path),
            timestamp_col="ts",
            bin_size_seconds=DAY,
            log=lambda _line: None,
        )
