"""View dicts: failing features worst first, categories in order, readable numbers, firewalls."""

from __future__ import annotations

import json
from typing import Any

from pytest_rime.plugin.report import CaseOutcome, by_feature
from pytest_rime.report.formatting import duration_text, number_text, p_value_text
from pytest_rime.report.gating import gate_counts
from pytest_rime.report.views import (
    DATASET,
    firewall_view,
    job_view,
    project_view,
    projects_view,
    run_view,
)
from pytest_rime.vocabulary import DAILY


def case(
    test: str,
    category: str,
    features: tuple[str, ...],
    status: str,
    severity: str,
    **metrics: Any,
) -> dict[str, Any]:
    return {
        "test_id": test.lower().replace(" ", "_"),
        "test_batch_type": test,
        "category": category,
        "features": list(features),
        "status": status,
        "severity": severity,
        "importance_score": 0.123456789,
        "metrics": metrics,
        "description": f"{test} on {features}",
    }


CASES = [
    case("Nulls", "Abnormal Inputs", ("Fare",), "FAIL", "MEDIUM"),
    case("Feature Drift", "Drift", ("Age",), "FAIL", "HIGH"),
    case("Accuracy Drop", "Model Performance", (), "FAIL", "HIGH"),
    case("Subset Accuracy", "Subset Performance", ("Age",), "FAIL", "MEDIUM"),
    case("Feature Drift", "Drift", ("Fare",), "WARNING", "LOW"),
    case("Accuracy", "Model Performance", (), "PASS", "NONE"),
    case("Feature Drift", "Drift", ("Sex",), "FAIL", "MEDIUM"),
    case("Label Imbalance", "Data Cleanliness", (), "SKIP", "NONE"),
    case("Custom", "Not A Category", (), "ERROR", "NONE", error="ValueError: boom"),
]


def test_failing_features_are_ordered_like_the_plugin_summary() -> None:
    view = run_view({"run_name": "T"}, CASES, fail_on="medium")
    outcomes = [
        CaseOutcome(
            nodeid=str(i),
            gate=c["gate"],
            run_name="T",
            category=c["category"],
            test_batch_type=c["test_batch_type"],
            test_id=c["test_id"],
            features=tuple(c["features"]),
            status=c["status"],
            severity=c["severity"],
            fail_on="medium",
            importance_score=0.5,
        )
        for i, c in enumerate(view["cases"])
    ]
    assert [g["feature"] for g in view["failing_features"]] == [f for f, _ in by_feature(outcomes)]
    # Age: HIGH and 2 cases; Fare and Sex: MEDIUM, 1 case each (by name); dataset last.
    assert [(g["feature"], g["worst"], g["count"]) for g in view["failing_features"]] == [
        ("Age", "HIGH", 2),
        ("Fare", "MEDIUM", 1),
        ("Sex", "MEDIUM", 1),
        (DATASET, "HIGH", 1),
    ]
    age = view["failing_features"][0]
    assert [view["cases"][i]["name"] for i in age["cases"]] == [
        "Feature Drift[Age]",
        "Subset Accuracy[Age]",
    ]
    assert age["tests"] == "Feature Drift, Subset Accuracy"
    assert [g["feature"] for g in view["warned_features"]] == ["Fare"]
    assert [view["cases"][i]["name"] for i in view["errors"]] == ["Custom"]


def test_categories_in_report_order_and_worst_cases_first() -> None:
    view = run_view({"run_name": "T"}, CASES, fail_on="medium")
    assert [c["name"] for c in view["categories"]] == [
        "Data Cleanliness",
        "Abnormal Inputs",
        "Drift",
        "Model Performance",
        "Subset Performance",
        "Not A Category",  # unknown categories last
    ]
    drift = next(c for c in view["categories"] if c["name"] == "Drift")
    assert [view["cases"][i]["name"] for i in drift["cases"]] == [
        "Feature Drift[Age]",  # failed HIGH
        "Feature Drift[Sex]",  # failed MEDIUM
        "Feature Drift[Fare]",  # warned
    ]
    assert drift["counts"]["failed"] == 2 and drift["worst"] == "HIGH"
    assert view["filters"]["severities"] == ["HIGH", "MEDIUM", "LOW", "NONE"]
    assert view["filters"]["features"] == ["Age", "Fare", "Sex"]
    assert view["filters"]["gates"] == ["failed", "error", "warned", "passed", "skipped"]


def test_a_clean_run_passes_and_the_view_is_json() -> None:
    view = run_view({"run_name": "T", "duration_millis": 1500, "num_inputs": 10}, CASES[4:6])
    assert view["verdict"] == "passed" and view["failing_features"] == []
    assert view["duration"] == "1.5 s"
    assert json.loads(json.dumps(view)) == view


def test_numbers_are_rounded_for_people() -> None:
    metrics = {
        "psi": 0.22857142857142856,
        "statistic": 0.22857142857142856,
        "statistic_name": "PSI",
        "threshold": 0.2,
        "thresholds": [0.1, 0.2, 0.3],
        "p_value": 3.4128e-17,
        "p_value_adjusted": 0.000358634836697,
        "significance_level": 0.01,
        "p_value_method": "chi-squared",
        "class_shares": {"0": 0.7014260249554367, "1": 0.2985739750445633},
        "bounds": [-23.5631666666414, 89.8789999999999],
        "subsets": [{"subset": "male", "size": 827, "metric": 0.7908101571946796}],
    }
    view = run_view(
        {
            "run_name": "T",
            "model_perf": [{"name": "AUC", "ref_metric": 0.8148058942896699, "eval_metric": 0.8}],
            "feature_importance": {"a": 0.5, "b": 1.0},
        },
        [case("Feature Drift", "Drift", ("Age",), "FAIL", "MEDIUM", **metrics)],
    )
    c = view["cases"][0]
    rows = {r["name"]: r["value"] for r in c["metric_rows"]}
    assert rows == {
        "psi": "0.2286",
        "class_shares.0": "0.7014",
        "class_shares.1": "0.2986",
        "bounds": "-23.56, 89.88",
    }
    assert c["metric_tables"] == [
        {
            "name": "subsets",
            "columns": ["subset", "size", "metric"],
            "rows": [["male", "827", "0.7908"]],
            "truncated": 0,
        }
    ]
    assert c["headline"] == "PSI 0.2286 (threshold 0.2)"
    assert c["importance"] == "0.1235"
    assert c["thresholds"]["levels"] == [
        {"level": "low", "value": "0.1", "reached": True},
        {"level": "medium", "value": "0.2", "reached": True},
        {"level": "high", "value": "0.3", "reached": False},
    ]
    assert c["evidence"] == {
        "p_value": "3.4e-17",
        "p_value_adjusted": "0.00036",
        "significance_level": "0.01",
        "method": "chi-squared",
        "significant": True,
    }
    assert view["model_perf"] == [
        {"name": "AUC", "ref": "0.8148", "eval": "0.8", "change": "-0.01481"}
    ]
    assert [(f["feature"], f["share"]) for f in view["feature_importance"]] == [
        ("b", 1.0),
        ("a", 0.5),
    ]
    assert "0.22857142857142856" not in json.dumps(view)  # no 16-digit float anywhere


def test_number_text() -> None:
    assert number_text(0.22857142857142856) == "0.2286"
    assert number_text(1085.5) == "1086"
    assert number_text(123456789.0) == "1.23e+08"
    assert number_text(3.4e-17) == "3.4e-17"
    assert number_text(12) == "12"
    assert number_text(-0.0381311527) == "-0.03813"
    assert number_text(float("nan")) == "n/a" and number_text(None) == "n/a"
    assert number_text(True) == "yes" and number_text("male") == "male"
    assert p_value_text(0.30499643943095844) == "0.3"
    assert duration_text(0.85) == "850 ms" and duration_text(245) == "4 min 05 s"


def test_descending_thresholds_are_reached_from_above() -> None:
    metrics = {"statistic": 0.65, "thresholds": [0.75, 0.7, 0.6]}
    view = run_view(
        {"run_name": "T"}, [case("AUC", "Model Performance", (), "FAIL", "MEDIUM", **metrics)]
    )
    thresholds = view["cases"][0]["thresholds"]
    assert not thresholds["higher_is_worse"]
    assert [lvl["reached"] for lvl in thresholds["levels"]] == [True, True, False]


def test_firewall_view() -> None:
    start = 1714521600
    bins = [
        {
            "bin_start": start + i * DAILY,
            "bin_end": start + (i + 1) * DAILY,
            "num_rows": 100,
            "severity": "HIGH" if i == 2 else "NONE",
            "metrics": {
                "num_drifting_features": float(i),
                "model_perf.AUC": None if i == 1 else 0.8,
                # evidence of a metric, not a metric: no timeline of its own
                "num_drifting_features.p_value": 0.5,
                "num_drifting_features.p_value_adjusted": 1.0,
            },
            "test_run_id": f"run{i}",
        }
        for i in (2, 0, 1)  # any order: the view sorts by time
    ]
    events = [
        {
            "bin_start": start + 2 * DAILY,
            "metric": "num_drifting_features",
            "value": 2.0,
            "threshold": 2.0,
            "severity": "HIGH",
            "description": "2 features drift",
            "test_run_id": "run2",
        }
    ]
    firewall = {
        "name": "fw",
        "firewall_id": "f1",
        "bin_size_seconds": DAILY,
        "stress_test_run_id": "ref",
        "thresholds": {"num_drifting_features": [1, 2, 3]},
    }
    view = firewall_view(firewall, bins, events, run_link=lambda r: f"/runs/{r}")
    assert view["bin_size"] == "1 day"
    assert view["reference"] == {"test_run_id": "ref", "link": "/runs/ref"}
    assert [b["start"] for b in view["bins"]] == ["2024-05-01", "2024-05-02", "2024-05-03"]
    assert [b["link"] for b in view["bins"]] == ["/runs/run0", "/runs/run1", "/runs/run2"]
    drift, auc = view["timeline"]
    assert drift["metric"] == "num_drifting_features"
    assert drift["x"][0] == "2024-05-01T00:00:00Z" and drift["y"] == [0.0, 1.0, 2.0]
    assert drift["thresholds"]["high"] == 3.0 and drift["thresholds"]["text"] == "≥ 1 / 2 / 3"
    assert drift["events"] == [
        {"index": 2, "value": 2.0, "severity": "HIGH", "label": "2 features drift"}
    ]
    assert drift["chart"]["lines"][0] == {"label": "low", "value": 1.0}
    assert drift["chart"]["links"] == ["/runs/run0", "/runs/run1", "/runs/run2"]  # on a click
    assert auc["y"] == [0.8, None, 0.8] and auc["points"] == 2 and auc["thresholds"] is None
    assert view["counts"] == {
        "bins": 3,
        "events": 1,
        "LOW": 0,
        "MEDIUM": 0,
        "HIGH": 1,
        "bad_bins": 1,
    }
    assert view["events"][0]["link"] == "/runs/run2" and view["worst"] == "HIGH"
    assert firewall_view(firewall, [], [])["timeline"] == []


def test_projects_project_and_job_views() -> None:
    projects = projects_view(
        [
            {"id": "p1", "name": "a", "create_time": 1.0},
            {"id": "p2", "name": "b", "create_time": 2.0},
        ]
    )
    assert [p["link"] for p in projects["projects"]] == ["/projects/p2", "/projects/p1"]
    jobs = [
        {
            "id": "j1",
            "type": "MODEL_STRESS_TEST",
            "status": "RUNNING",
            "create_time": 5.0,
            "progress": "3 / 12 test batches completed",
            "project_id": "p1",
        },
        {
            "id": "j0",
            "type": "FIREWALL_BATCH_TEST",
            "status": "SUCCEEDED",
            "create_time": 1.0,
            "start_time": 1.0,
            "end_time": 3.5,
            "firewall_id": "f1",
            "project_id": "p1",
            "termination_reason": "COMPLETED",
        },
    ]
    runs = [
        {
            "id": "r1",
            "run_name": "T",
            "start_time": 1.0,
            "gate_counts": gate_counts([("FAIL", "MEDIUM", 2), ("PASS", "NONE", 3)]),
            "severity_counts": {"medium": 2},  # keys in either case
        },
        {"id": "r2", "run_name": "bin", "start_time": 2.0, "firewall_id": "f1"},
    ]
    firewalls = [{"id": "f1", "name": "fw", "bin_size_seconds": DAILY, "stress_test_run_id": "r1"}]
    view = project_view({"id": "p1", "name": "a"}, runs, firewalls, jobs, root="/rime")
    assert [r["id"] for r in view["runs"]] == ["r1"]  # bin runs are counted per firewall
    assert view["runs"][0]["link"] == "/rime/projects/p1/test-runs/r1"
    assert view["runs"][0]["worst"] == "MEDIUM"
    # counted as pytest counts them: a MEDIUM case below the default gate passes with a warning
    assert view["runs"][0]["gates"] == {
        "failed": 0,
        "error": 0,
        "warned": 2,
        "passed": 3,
        "skipped": 0,
    }
    assert view["runs"][0]["verdict"] == "passed" and view["runs"][0]["severity"]["MEDIUM"] == 2
    assert view["firewalls"][0]["num_bins"] == 1
    assert view["firewalls"][0]["reference_link"] == "/rime/projects/p1/test-runs/r1"
    assert [(j["id"], j["fraction"], j["finished"]) for j in view["jobs"]] == [
        ("j1", 0.25, False),
        ("j0", 1.0, True),
    ]
    assert view["active_jobs"] == 1
    job = job_view(jobs[1], log="done\n", log_offset=5)
    assert job["log_url"] == "/jobs/j0/log" and job["duration"] == "2.5 s"
    assert job["firewall_link"] == "/firewalls/f1" and job["type_text"] == "Firewall batch"
    assert job["termination_reason"] == "COMPLETED"
