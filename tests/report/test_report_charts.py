"""The chart of a case, for each shape of metrics the engine writes."""

from __future__ import annotations

from pytest_rime.report.charts import chart_of, points_of, statistic_name


def test_distribution_gives_reference_and_evaluation_bars() -> None:
    chart = chart_of(
        {
            "distribution": {"labels": ["a", "b"], "ref": [0.25, 0.75], "eval": [0.5, 0.5]},
            "statistic": 0.3,
            "thresholds": [0.1, 0.2, 0.3],
        }
    )
    assert chart is not None
    assert chart["labels"] == ["a", "b"]
    assert chart["datasets"] == [
        {"label": "reference", "data": [0.25, 0.75]},
        {"label": "evaluation", "data": [0.5, 0.5]},
    ]
    assert chart["lines"] == [] and points_of(chart) == 4


def test_subset_metrics_against_the_overall_value() -> None:
    chart = chart_of(
        {
            "metric": "F1",
            "overall_metric": 0.6523736600306279,
            "worst_subset": "male",
            "subsets": [
                {"subset": "male", "size": 827, "metric": 0.2242152466367713},
                {"subset": "female", "size": 258, "metric": None},  # not computable
            ],
        }
    )
    assert chart is not None
    assert chart["labels"] == ["male (n=827)", "female (n=258)"]
    assert chart["datasets"] == [{"label": "F1", "data": [0.224215, None]}]
    assert chart["lines"] == [{"label": "overall", "value": 0.652374}]
    assert chart["highlight"] == [0]  # the worst subset
    assert points_of(chart) == 1


def test_subset_degradation_gives_reference_and_evaluation_per_subset() -> None:
    chart = chart_of(
        {
            "metric": "Accuracy",
            "subsets": [
                {"subset": "male", "eval_size": 827, "ref_metric": 0.82, "eval_metric": 0.79}
            ],
        }
    )
    assert chart is not None
    assert [d["label"] for d in chart["datasets"]] == ["reference", "evaluation"]
    assert chart["labels"] == ["male (n=827)"]


def test_transformations_before_and_after() -> None:
    chart = chart_of(
        {
            "metric_changes": {
                "Accuracy": {"before": 0.792, "after": 0.67, "degradation": 0.122},
                "AUC": {"before": 0.80, "after": 0.675},
            }
        }
    )
    assert chart is not None
    assert chart["labels"] == ["Accuracy", "AUC"]
    assert chart["datasets"] == [
        {"label": "before", "data": [0.792, 0.8]},
        {"label": "after", "data": [0.67, 0.675]},
    ]


def test_model_performance_reference_and_evaluation() -> None:
    chart = chart_of(
        {"metric": "AUC", "ref_metric": 0.81, "eval_metric": 0.7, "thresholds": [1, 2, 3]}
    )
    assert chart is not None
    assert chart["labels"] == ["reference", "evaluation"]
    assert chart["datasets"] == [{"label": "AUC", "data": [0.81, 0.7]}]


def test_statistic_against_its_thresholds() -> None:
    metrics = {"duplicate_fraction": 0.2286, "statistic": 0.2286, "thresholds": [0.01, 0.05, 0.1]}
    chart = chart_of(metrics)
    assert chart is not None
    assert statistic_name(metrics) == "duplicate_fraction"
    # Two metrics equal to the statistic: neither can be told to be it.
    assert statistic_name({"loss_after": 1.0, "change_rate": 1, "statistic": 1.0}) == "statistic"
    assert statistic_name({"statistic": 0.6, "statistic_name": "PSI", "psi": 0.6}) == "PSI"
    assert statistic_name({"statistic": 0.6, "threshold": 0.6}) == "statistic"
    assert chart["labels"] == ["duplicate_fraction"]
    assert chart["datasets"] == [{"label": "duplicate_fraction", "data": [0.2286]}]
    assert [line["label"] for line in chart["lines"]] == ["low", "medium", "high"]
    assert chart["title"] == "duplicate_fraction 0.2286 against its thresholds"


def test_nothing_to_draw() -> None:
    assert chart_of({}) is None
    assert chart_of({"statistic": 0.5}) is None  # no thresholds
    assert chart_of({"statistic": None, "thresholds": [1, 2, 3]}) is None
    assert chart_of({"subsets": "not a list"}) is None
    assert chart_of({"distribution": {"labels": []}}) is None
    assert chart_of({"ref_metric": float("nan"), "eval_metric": None}) is None
    assert points_of(None) == 0
