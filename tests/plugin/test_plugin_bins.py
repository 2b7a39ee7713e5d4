from __future__ import annotations

import pandas as pd
import pytest

from pytest_rime.plugin.bins import (
    MONITORING_CATEGORY,
    BinRecord,
    FirewallRecord,
    bin_label,
    iso_time,
)
from pytest_rime.plugin.cases import CaseRecord
from pytest_rime.plugin.gate import Verdict, verdict


@pytest.mark.parametrize(
    ("freq", "fmt"), [("1D", "%Y-%m-%d"), ("1h", "%Y-%m-%d %H:%M")], ids=["day", "hour"]
)
def test_bin_labels_are_the_utc_bin_starts(freq: str, fmt: str) -> None:
    start = pd.Timestamp("2024-05-03 14:37:12", tz="UTC").floor(freq)
    end = start + pd.Timedelta(freq)
    assert bin_label(int(start.timestamp()), int(end.timestamp())) == start.strftime(fmt)
    assert pd.Timestamp(iso_time(int(start.timestamp()))) == start


def _bin(events: tuple[dict[str, object], ...]) -> BinRecord:
    case = CaseRecord(
        "x", "drift.feature_drift", "Feature Drift", "Drift", ("age",), "FAIL", "HIGH", 0.9
    )
    start = int(pd.Timestamp("2024-05-02", tz="UTC").timestamp())
    return BinRecord(
        start_secs=start,
        end_secs=start + 86400,
        test_run_id="run-2",
        link="http://web/run-2",
        num_rows=150,
        severity="HIGH",
        metrics={"num_drifting_features": 1},
        events=events,
        cases=(case,),
    )


def _event(metric: str, severity: str) -> dict[str, object]:
    return {
        "metric": metric,
        "value": 1.0,
        "threshold": 1.0,
        "severity": severity,
        "description": f"{metric} crossed.",
    }


def test_monitoring_case_is_as_severe_as_the_worst_event() -> None:
    record = FirewallRecord("FW", "fw-1", "http://web/fw-1", "job-1", "1 / 1 bins", ())
    time_bin = _bin((_event("abnormality_rate", "LOW"), _event("num_drifting_features", "HIGH")))
    run = time_bin.run_record(record)
    assert run.name == "FW::2024-05-02"
    monitoring = run.cases[-1]
    assert (monitoring.category, monitoring.status, monitoring.severity) == (
        MONITORING_CATEGORY,
        "FAIL",
        "HIGH",
    )
    assert monitoring.full_name == "FW::2024-05-02::Monitoring::Monitored Metrics"
    assert [e["metric"] for e in monitoring.metrics["events"]] == [
        "num_drifting_features",
        "abnormality_rate",
    ]
    assert verdict(monitoring, "high") is Verdict.FAIL
    quiet = _bin(()).monitoring_case("FW::2024-05-02")
    assert (quiet.status, quiet.severity) == ("PASS", "NONE")
    assert verdict(quiet, "low") is Verdict.PASS


def test_firewall_record_round_trip() -> None:
    record = FirewallRecord(
        "FW",
        "fw-1",
        "http://web/fw-1",
        "job-1",
        "1 / 1 bins completed",
        (_bin((_event("a", "LOW"),)),),
        "s",
    )
    assert FirewallRecord.from_dict(record.to_dict()) == record
