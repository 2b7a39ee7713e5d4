"""Firewall runs: time bins of production data tested against a reference, events per bin."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from pytest_rime.engine.errors import ConfigError, DataError
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
    Evidence,
    MetricThreshold,
    bin_events,
    measure_bin,
    resolve_thresholds,
)
from pytest_rime.engine.results import (
    ModelPerf,
    RunResult,
    Severity,
    Status,
    TestBatchResult,
    TestCaseResult,
)

DAY = 86400
FIRST_DAY = pd.Timestamp("2024-05-01", tz="UTC")
DRIFT_DAY = 2  # index of the day whose feature x is shifted
ROWS_PER_DAY = 250
FEATURES = ["x", "z", "i", "c"]


def _frame(rng: np.random.Generator, n: int, *, shift: float = 0.0) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, n)
    c = rng.choice(["red", "green", "blue"], n)
    return pd.DataFrame(
        {
            "x": x,
            "z": rng.normal(0.0, 1.0, n),
            "i": rng.integers(0, 50, n),
            "c": c,
            "y": (x + 0.3 * (c == "red") + rng.normal(0.0, 0.5, n) > 0).astype(int),
        }
    )


def _stamp(frame: pd.DataFrame, start: pd.Timestamp, span_secs: int, rng: np.random.Generator):
    offsets = np.sort(rng.integers(0, span_secs, len(frame)))
    stamps = (start + pd.to_timedelta(offsets, unit="s")).strftime("%Y-%m-%d %H:%M:%S")
    return frame.assign(ts=stamps)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A trained sklearn model, a reference set and five days of eval data (day 3 drifts)."""
    root = tmp_path_factory.mktemp("firewall")
    rng = np.random.default_rng(7)
    train = _frame(rng, 1000)
    model = make_pipeline(
        ColumnTransformer(
            [("c", OneHotEncoder(handle_unknown="ignore"), ["c"])], remainder="passthrough"
        ),
        LogisticRegression(),
    )
    model.fit(train[FEATURES], train["y"])
    joblib.dump(model, root / "model.joblib")
    # The reference has a timestamp column too: it must not become a feature.
    ref = _stamp(_frame(rng, 1000), FIRST_DAY - pd.Timedelta(days=30), 20 * DAY, rng)
    ref.to_csv(root / "ref.csv", index=False)
    days = [
        _stamp(
            _frame(rng, ROWS_PER_DAY, shift=3.0 if d == DRIFT_DAY else 0.0),
            FIRST_DAY + pd.Timedelta(days=d),
            DAY,
            rng,
        )
        for d in range(5)
    ]
    eval_frame = pd.concat(days, ignore_index=True)
    eval_frame.loc[[3, 600], "ts"] = ["not a time", None]
    eval_frame.to_csv(root / "eval.csv", index=False)
    config = {
        "run_name": "Fraud",
        "data_info": {
            "ref_path": str(root / "ref.csv"),
            "eval_path": str(root / "eval.csv"),
            "label_col": "y",
        },
        "model_info": {"path": str(root / "model.joblib")},
    }
    return {"root": root, "config": config, "model": model, "eval": eval_frame, "ref": ref}


@pytest.fixture(scope="module")
def daily(project: dict[str, Any]) -> dict[str, Any]:
    """One daily firewall run of the five days, with its log and progress calls."""
    lines: list[str] = []
    calls: list[tuple[int, int]] = []
    result = run_firewall(
        project["config"],
        eval_path=str(project["root"] / "eval.csv"),
        timestamp_col="ts",
        bin_size_seconds=DAY,
        log=lines.append,
        progress=lambda done, total: calls.append((done, total)),
    )
    return {"result": result, "log": lines, "progress": calls}


def _day_start(index: int) -> int:
    return int((FIRST_DAY + pd.Timedelta(days=index)).timestamp())


def _expected_bins(stamps: pd.Series, freq: str) -> pd.Series:
    parsed = pd.to_datetime(stamps, errors="coerce", utc=True, format="mixed")
    return parsed.dropna().dt.floor(freq).value_counts().sort_index()


def test_daily_bins_are_the_utc_days_with_their_rows(project, daily):
    result: FirewallRunResult = daily["result"]
    expected = _expected_bins(project["eval"]["ts"], "D")
    assert [b.summary.bin_start_secs for b in result.bins] == [
        int(t.timestamp()) for t in expected.index
    ]
    assert [b.summary.num_rows for b in result.bins] == expected.tolist()
    assert [b.summary.label for b in result.bins] == [f"2024-05-0{d}" for d in range(1, 6)]
    for time_bin in result.bins:
        assert time_bin.summary.bin_end_secs - time_bin.summary.bin_start_secs == DAY
        assert time_bin.result.num_inputs == time_bin.summary.num_rows
    assert result.bin_size_seconds == DAY
    assert daily["progress"] == [(done, 5) for done in range(6)]


def test_unparseable_timestamps_are_counted_and_logged(project, daily):
    result: FirewallRunResult = daily["result"]
    assert result.num_unparsed_rows == 2
    assert "not a time" in result.unparsed_examples
    assert result.num_rows == len(project["eval"])
    assert sum(b.summary.num_rows for b in result.bins) + 2 == len(project["eval"])
    assert any("2 of 1250 rows" in line and "'ts'" in line for line in daily["log"])


def test_planted_drift_raises_events_for_that_day_only_naming_the_feature(daily):
    result: FirewallRunResult = daily["result"]
    assert result.events, "the drifted day raised no event"
    assert {e.bin_start_secs for e in result.events} == {_day_start(DRIFT_DAY)}
    drift_events = [e for e in result.events if e.metric == NUM_DRIFTING_FEATURES]
    assert len(drift_events) == 1
    event = drift_events[0]
    assert event.features == ("x",)
    assert "'x'" in event.description
    assert "2024-05-03" in event.description
    assert event.bin_end_secs == _day_start(DRIFT_DAY) + DAY
    assert event.severity is Severity.LOW  # one drifting feature: the low threshold (1)
    severities = [b.summary.severity for b in result.bins]
    assert severities[DRIFT_DAY] is not Severity.NONE
    assert [s for i, s in enumerate(severities) if i != DRIFT_DAY] == [Severity.NONE] * 4


def test_each_bin_is_a_full_test_run_of_the_firewall_categories(daily):
    result: FirewallRunResult = daily["result"]
    for time_bin in result.bins:
        run = time_bin.result
        label = time_bin.summary.label
        assert run.run_name == f"Fraud {label}"
        assert run.metadata["bin_start_secs"] == time_bin.summary.bin_start_secs
        assert run.metadata["bin_end_secs"] == time_bin.summary.bin_end_secs
        assert run.metadata["eval_rows"] == run.num_inputs
        assert run.metadata["eval_unparsed_timestamp_rows"] == 2
        categories = {case.category for case in run.test_cases}
        assert categories <= set(FIREWALL_CATEGORIES)
        assert {"Abnormal Inputs", "Drift"} <= categories
        assert "ts" not in run.metadata["feature_types"]
        assert all("ts" not in case.features for case in run.test_cases)


def test_monitored_metrics_match_an_independent_computation(project, daily):
    result: FirewallRunResult = daily["result"]
    model: Pipeline = project["model"]
    stamps = pd.to_datetime(project["eval"]["ts"], errors="coerce", utc=True, format="mixed")
    for time_bin in result.bins:
        run, metrics = time_bin.result, time_bin.summary.metrics
        scored = [c for c in run.test_cases if c.status is not Status.SKIP]
        rank = {"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}
        assert metrics[ABNORMALITY_RATE] == pytest.approx(run.num_failing_inputs / run.num_inputs)
        assert metrics[TEST_PASS_RATE] == pytest.approx(
            sum(c.status.value == "PASS" for c in scored) / len(scored)
        )
        assert metrics[AVERAGE_SEVERITY] == pytest.approx(
            np.mean([rank[c.severity.value] for c in scored])
        )
        # A feature drifts: beyond its threshold and outside the null spread after correction.
        beyond = {
            c.features[0]
            for c in run.test_cases
            if c.test_id == "drift.feature_drift" and c.status.value in ("WARNING", "FAIL")
        }
        assert set(time_bin.summary.drifting_features) <= beyond
        assert metrics[NUM_DRIFTING_FEATURES] == len(time_bin.summary.drifting_features)
        if time_bin.summary.drifting_features:
            assert metrics["num_drifting_features.p_value_adjusted"] < 0.01
        assert 0 < metrics["abnormality_rate.p_value"] <= 1
        start = pd.Timestamp(time_bin.summary.bin_start_secs, unit="s", tz="UTC")
        rows = project["eval"][(stamps >= start) & (stamps < start + pd.Timedelta(days=1))]
        probabilities = model.predict_proba(rows[FEATURES])[:, 1]
        assert metrics["model_perf.Accuracy"] == pytest.approx(
            accuracy_score(rows["y"], probabilities >= 0.5)
        )
        assert metrics["model_perf.AUC"] == pytest.approx(roc_auc_score(rows["y"], probabilities))
    drifted = result.bins[DRIFT_DAY].summary
    assert drifted.drifting_features == ("x",)
    ref_x = project["ref"]["x"]
    day = project["eval"]["x"][stamps.dt.floor("D") == FIRST_DAY + pd.Timedelta(days=DRIFT_DAY)]
    out_of_range = float(((day < ref_x.min()) | (day > ref_x.max())).mean())
    assert out_of_range > 0.05
    assert drifted.metrics[ABNORMALITY_RATE] >= out_of_range


def test_result_round_trips_through_json(daily):
    result: FirewallRunResult = daily["result"]
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    again = FirewallRunResult.from_dict(data)
    assert again.to_dict() == data
    assert again.events == result.events
    assert [s.severity for s in again.summaries] == [s.severity for s in result.summaries]


def test_hourly_bins_and_a_day_of_flipped_labels_degrade_the_model_that_hour(project, tmp_path):
    rng = np.random.default_rng(3)
    hours = []
    for hour in range(4):
        frame = _frame(rng, 200)
        if hour == 2:
            frame["y"] = 1 - frame["y"]
        hours.append(_stamp(frame, FIRST_DAY + pd.Timedelta(hours=hour), 3600, rng))
    stamps_frame = pd.concat(hours, ignore_index=True)
    stamps_frame.to_parquet(tmp_path / "hours.parquet")
    result = run_firewall(
        project["config"],
        eval_path=str(tmp_path / "hours.parquet"),
        timestamp_col="ts",
        bin_size_seconds="hour",
        log=lambda _line: None,
    )
    expected = _expected_bins(stamps_frame["ts"], "h")
    assert [b.summary.num_rows for b in result.bins] == expected.tolist()
    assert [b.summary.label for b in result.bins] == [f"2024-05-01 0{h}:00" for h in range(4)]
    accuracy_events = [e for e in result.events if e.metric == "model_perf.Accuracy"]
    assert [e.bin_start_secs for e in accuracy_events] == [_day_start(0) + 2 * 3600]
    event = accuracy_events[0]
    flipped = hours[2]
    truth = accuracy_score(
        flipped["y"], project["model"].predict_proba(flipped[FEATURES])[:, 1] >= 0.5
    )
    assert event.value == pytest.approx(truth)
    assert event.severity is Severity.HIGH
    assert "Accuracy" in event.description


def test_missing_timestamp_column_is_an_error_naming_it(project, tmp_path):
    path = tmp_path / "no_ts.csv"
    project["eval"].drop(columns="ts").to_csv(path, index=False)
    with pytest.raises(DataError, match=r"timestamp_col.*no_ts\.csv.*'when'") as info:
        run_firewall(
            project["config"],
            eval_path=str(path),
            timestamp_col="when",
            bin_size_seconds=DAY,
            log=lambda _line: None,
        )
    assert isinstance(info.value, ValueError)


def test_unsupported_bin_size_is_a_value_error(project):
    with pytest.raises(ValueError, match="600"):
        run_firewall(
            project["config"],
            eval_path=str(project["root"] / "eval.csv"),
            timestamp_col="ts",
            bin_size_seconds=600,
            log=lambda _line: None,
        )


def test_events_disabled_keep_the_summaries(project, tmp_path):
    path = tmp_path / "two_days.csv"
    project["eval"].iloc[2 * ROWS_PER_DAY : 3 * ROWS_PER_DAY].to_csv(path, index=False)
    result = run_firewall(
        project["config"],
        eval_path=str(path),
        timestamp_col="ts",
        bin_size_seconds=DAY,
        log=lambda _line: None,
        enable_events=False,
    )
    assert result.events == []
    assert not result.events_enabled
    assert result.bins[0].summary.drifting_features == ("x",)
    assert result.bins[0].summary.severity is not Severity.NONE


def test_tests_config_of_the_reference_selects_the_bin_tests(project, tmp_path):
    path = tmp_path / "drift_day.csv"
    project["eval"].iloc[DRIFT_DAY * ROWS_PER_DAY : (DRIFT_DAY + 1) * ROWS_PER_DAY].to_csv(
        path, index=False
    )
    config = {**project["config"], "tests_config": {"drift.feature_drift": {"enabled": False}}}
    result = run_firewall(
        config,
        eval_path=str(path),
        timestamp_col="ts",
        bin_size_seconds=DAY,
        log=lambda _line: None,
    )
    (only,) = result.bins
    test_ids = {batch.test_id for batch in only.result.batches}
    assert "drift.feature_drift" not in test_ids
    assert "drift.label_drift" in test_ids
    assert only.summary.drifting_features == ()
    assert NUM_DRIFTING_FEATURES not in {e.metric for e in only.events}


def test_thresholds_of_the_reference_config_apply_unless_overridden(project, tmp_path):
    path = tmp_path / "drift_day.csv"
    project["eval"].iloc[DRIFT_DAY * ROWS_PER_DAY : (DRIFT_DAY + 1) * ROWS_PER_DAY].to_csv(
        path, index=False
    )
    lenient = {NUM_DRIFTING_FEATURES: [5, 6, 7]}
    config = {**project["config"], "monitoring_info": {"thresholds": lenient}}

    def run(**options: Any) -> FirewallRunResult:
        return run_firewall(
            config,
            eval_path=str(path),
            timestamp_col="ts",
            bin_size_seconds=DAY,
            log=lambda _line: None,
            **options,
        )

    from_config = run()
    assert from_config.thresholds[NUM_DRIFTING_FEATURES] == MetricThreshold(5, 6, 7)
    assert from_config.bins[0].summary.drifting_features == ("x",)
    assert NUM_DRIFTING_FEATURES not in {e.metric for e in from_config.events}
    overridden = run(thresholds={NUM_DRIFTING_FEATURES: [1, 2, 3]})
    assert NUM_DRIFTING_FEATURES in {e.metric for e in overridden.events}


def test_from_reference_rejects_a_bin_size_the_firewall_does_not_support(project):
    config = {**project["config"], "monitoring_info": {"timestamp_col": "ts", "bin_size": "week"}}
    with pytest.raises(ConfigError, match="hour") as info:
        run_firewall_from_reference(config, log=lambda _line: None)
    assert info.value.key == "monitoring_info.bin_size"


def test_from_reference_runs_the_stress_test_and_the_bins(project):
    config = {**project["config"], "monitoring_info": {"timestamp_col": "ts"}}
    stress_calls: list[tuple[int, int]] = []
    outcome = run_firewall_from_reference(
        config,
        log=lambda _line: None,
        stress_test_progress=lambda done, total: stress_calls.append((done, total)),
    )
    assert isinstance(outcome, FirewallFromReferenceResult)
    assert outcome.firewall.bin_size_seconds == DAY  # the default bin size
    assert len(outcome.firewall.bins) == 5
    assert {e.bin_start_secs for e in outcome.firewall.events} == {_day_start(DRIFT_DAY)}
    assert outcome.stress_test.num_inputs == len(project["eval"])
    assert "Data Cleanliness" in {c.category for c in outcome.stress_test.test_cases}
    assert all("ts" not in c.features for c in outcome.stress_test.test_cases)
    assert stress_calls and stress_calls[-1][0] == stress_calls[-1][1]
    data = json.loads(json.dumps(outcome.to_dict()))
    assert FirewallFromReferenceResult.from_dict(data).to_dict() == data


def test_from_reference_needs_a_timestamp_column(project):
    with pytest.raises(ConfigError) as info:
        run_firewall_from_reference(project["config"], log=lambda _line: None)
    assert info.value.key == "monitoring_info.timestamp_col"


def test_from_reference_checks_the_timestamp_column_before_the_stress_test(project):
    config = {**project["config"], "monitoring_info": {"timestamp_col": "when", "bin_size": "hour"}}
    stress_calls: list[tuple[int, int]] = []
    with pytest.raises(DataError, match="timestamp_col"):
        run_firewall_from_reference(
            config,
            log=lambda _line: None,
            stress_test_progress=lambda done, total: stress_calls.append((done, total)),
        )
    assert stress_calls == []


# ------------------------------------------------------------------------ monitoring units
def _run_with(model_perf: tuple[ModelPerf, ...]) -> RunResult:
    return RunResult(
        run_name="unit",
        model_task="Binary Classification",
        data_type="tabular",
        num_inputs=100,
        num_failing_inputs=0,
        duration_millis=0,
        batches=(),
        model_perf=model_perf,
    )


def _events(
    run: RunResult,
    overrides: dict[str, Any] | None = None,
    evidence: dict[str, Evidence] | None = None,
):
    return bin_events(
        run,
        measure_bin(run, evidence=evidence, significance_level=0.01),
        resolve_thresholds(overrides),
        bin_start_secs=0,
        bin_end_secs=DAY,
        label="1970-01-01",
    )


def test_model_metric_events_follow_direction_and_scale_of_each_metric():
    run = _run_with(
        (
            ModelPerf("Accuracy", 0.90, 0.68),  # absolute drop 0.22 -> MEDIUM at 0.70
            ModelPerf("Log Loss", 0.30, 0.50),  # relative rise 67% -> MEDIUM at 0.45
            ModelPerf("FPR", 0.10, 0.05),  # better: no event
            ModelPerf("AUC", 0.95, None),  # not computable: no event
        )
    )
    significant = {
        "model_perf.Accuracy": Evidence(0.001, 0.002, 1000),
        "model_perf.Log Loss": Evidence(0.001, 0.002, 1000),
    }
    events = {e.metric: e for e in _events(run, evidence=significant)}
    assert set(events) == {"model_perf.Accuracy", "model_perf.Log Loss"}
    accuracy, loss = events["model_perf.Accuracy"], events["model_perf.Log Loss"]
    assert (accuracy.severity, accuracy.value) == (Severity.MEDIUM, 0.68)
    assert accuracy.threshold == pytest.approx(0.70)
    assert (loss.severity, loss.threshold) == (Severity.MEDIUM, pytest.approx(0.45))
    assert "0.68" in accuracy.description and "0.9" in accuracy.description
    assert "adjusted p = 0.002" in accuracy.description
    quiet = _events(run, {"model_perf.Accuracy": [0.25, 0.3, 0.4]}, significant)
    assert {e.metric for e in quiet} == {"model_perf.Log Loss"}


def test_an_event_without_evidence_is_at_most_low():
    run = _run_with((ModelPerf("Accuracy", 0.90, 0.40), ModelPerf("Log Loss", 0.30, 0.90)))
    noise = {"model_perf.Accuracy": Evidence(0.2, 0.3, 1000)}
    events = {e.metric: e for e in _events(run, evidence=noise)}
    accuracy, loss = events["model_perf.Accuracy"], events["model_perf.Log Loss"]
    assert accuracy.severity is Severity.LOW  # HIGH by its effect, within the null spread
    assert "not significant at 0.01" in accuracy.description
    assert "adjusted p = 0.3" in accuracy.description
    assert loss.severity is Severity.LOW  # no null spread at all
    assert "no null spread" in loss.description


def test_only_significant_drift_counts_and_the_bin_metrics_carry_p_values():
    def drift_case(feature: str, status: Status) -> TestCaseResult:
        return TestCaseResult(
            test_id="drift.feature_drift",
            test_batch_type="Feature Drift",
            category="Drift",
            features=(feature,),
            status=status,
            severity=Severity.HIGH if status is Status.FAIL else Severity.NONE,
            importance_score=1.0,
            metrics={"statistic_name": "psi", "statistic": 0.5},
            description="",
        )

    batch = TestBatchResult(
        test_id="drift.feature_drift",
        test_batch_type="Feature Drift",
        category="Drift",
        description="",
        duration_millis=0,
        cases=(
            drift_case("a", Status.FAIL),
            drift_case("b", Status.FAIL),
            drift_case("c", Status.PASS),
        ),
    )
    run = dataclasses.replace(_run_with(()), batches=(batch,))
    evidence = {
        "drift.a": Evidence(0.0001, 0.0003, 2000),
        "drift.b": Evidence(0.04, 0.06, 2000),
        "drift.c": Evidence(0.0001, 0.0003, 2000),  # significant but below the threshold
        ABNORMALITY_RATE: Evidence(0.5, 0.6, 2000),
    }
    metrics = measure_bin(run, evidence=evidence, significance_level=0.01)
    assert metrics.drifting_features == ("a",)
    assert metrics.noisy_features == ("b",)
    values = metrics.values()
    assert values[NUM_DRIFTING_FEATURES] == 1
    assert values["num_drifting_features.p_value_adjusted"] == 0.0003
    assert values["abnormality_rate.p_value"] == 0.5
    assert "drift.a.p_value" not in values
    events = {e.metric: e for e in _events(run, evidence=evidence)}
    event = events[NUM_DRIFTING_FEATURES]
    assert event.features == ("a",)
    assert event.severity is Severity.LOW  # one feature: the low threshold
    assert events[TEST_PASS_RATE].severity is Severity.LOW  # HIGH by effect, no null spread
    assert "1 feature drifts" in event.description and "'b'" in event.description
    assert "within the spread of reference chunks" in event.description


def test_metric_threshold_levels_in_both_directions():
    worse_up = MetricThreshold(1, 2, 3)
    assert worse_up.level(0.5) == (Severity.NONE, None)
    assert worse_up.level(2) == (Severity.MEDIUM, 2)
    assert worse_up.level(7) == (Severity.HIGH, 3)
    worse_down = MetricThreshold(0.7, 0.6, 0.5, higher_is_worse=False)
    assert worse_down.level(0.65) == (Severity.LOW, 0.7)
    assert worse_down.level(0.1) == (Severity.HIGH, 0.5)
    assert worse_down.level(float("nan")) == (Severity.NONE, None)


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"bogus": [1, 2, 3]}, "thresholds.bogus", "unknown monitored metric"),
        ({TEST_PASS_RATE: [0.5, 0.6, 0.7]}, "thresholds.test_pass_rate", "descending"),
        ({ABNORMALITY_RATE: [0.3, 0.2, 0.1]}, "thresholds.abnormality_rate", "ascending"),
        ({ABNORMALITY_RATE: [0.1, 0.2]}, "thresholds.abnormality_rate", "3 numbers"),
        ({"model_perf.AUC": ["a", 1, 2]}, "thresholds.model_perf.AUC", "finite numbers"),
    ],
)
def test_bad_threshold_overrides_name_the_key(overrides, key, message):
    with pytest.raises(ConfigError, match=message) as info:
        resolve_thresholds(overrides)
    assert info.value.key == key
