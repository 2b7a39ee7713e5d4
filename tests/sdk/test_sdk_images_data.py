"""Image classifiers through the SDK: ``data_type="images"`` stress tests and firewalls.

Data: scikit-learn's bundled 8x8 digits (``e2e/image_datasets.py``), a seeded split into train /
reference / evaluation written as PNG files beside csv tables in one folder; the model is a
logistic regression on flattened pixels pickled with joblib. The folder is uploaded as one
directory (``upload_data_directory``) and the configs point at the tables inside it
(``rime://uploads/<id>/ref.csv``): the server resolves each image relative to its table. The
evaluation images get timestamps over three days for the firewalls; on the third day every image
is darkened (pixels x 0.35), which the brightness drift of that bin must show as HIGH while the
first two days have no HIGH. Everything goes through a real server on 127.0.0.1.
"""

from __future__ import annotations

import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from e2e.image_datasets import digits, save_model, split, train, write_table
from firewall_data import wait_succeeded
from sdk_helpers import invalid_message, uploaded_config

from pytest_rime.sdk import RIMEClient, RIMEError, RIMEStressTestJob

DAYS = 3
DAY = 86400
START = pd.Timestamp("2024-05-01", tz="UTC")
DARKEN = 0.35


@dataclass(frozen=True)
class ImageFiles:
    """The local folder of the module's images and the URIs of its upload."""

    folder: Path
    data: str
    model: str
    days: pd.DataFrame

    def config(self, **extra: Any) -> dict[str, Any]:
        ref, eval_ = f"{self.data}/ref.csv", f"{self.data}/eval.csv"
        return uploaded_config(
            "digits", "Multi-class Classification", ref, eval_, self.model, **extra
        )


def _days(eval_table: Path, seed: int) -> pd.DataFrame:
    """The eval rows over :data:`DAYS` days (``ts``); images of the last day darkened."""
    rng = np.random.default_rng(seed)
    frame = pd.read_csv(eval_table)
    seconds = np.sort(rng.uniform(0, DAYS * DAY, len(frame)))
    frame["ts"] = (START + pd.to_timedelta(seconds, unit="s")).strftime("%Y-%m-%dT%H:%M:%SZ")
    folder = eval_table.parent
    (folder / "dark").mkdir()
    for row in np.flatnonzero(seconds >= (DAYS - 1) * DAY):
        source = folder / frame.loc[row, "image"]
        pixels = _read(source).astype(float)
        target = f"dark/{row}.png"
        _write(folder / target, (pixels * DARKEN).astype(np.uint8))
        frame.loc[row, "image"] = target
    frame.to_csv(folder / "days.csv", index=False)
    return frame


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


def _write(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(pixels).save(path)


@pytest.fixture(scope="module")
def image_files(module_client: RIMEClient, tmp_path_factory: pytest.TempPathFactory) -> ImageFiles:
    root = tmp_path_factory.mktemp("images-sdk")
    data = split(digits(), seed=0, max_rows=600)
    folder = root / "data"
    write_table(folder, "ref", data.ref.images, data.ref.labels)
    eval_table = write_table(folder, "eval", data.eval.images, data.eval.labels)
    days = _days(eval_table, seed=0)
    model_dir = root / "model"
    save_model(train("logreg", data.train, 0), model_dir / "model.joblib")
    return ImageFiles(
        folder=folder,
        data=module_client.upload_data_directory(folder),
        model=module_client.upload_model_directory(model_dir) + "/model.joblib",
        days=days,
    )


def test_an_images_folder_upload_is_content_addressed(
    module_client: RIMEClient, image_files: ImageFiles, tmp_path: Path
) -> None:
    copy = shutil.copytree(image_files.folder, tmp_path / "elsewhere")
    assert module_client.upload_data_directory(copy) == image_files.data
    assert module_client.upload_model_directory(copy) == image_files.data  # same store
    (copy / "eval" / "0.png").write_bytes((copy / "eval" / "1.png").read_bytes())
    assert module_client.upload_data_directory(copy) != image_files.data


@pytest.fixture(scope="module")
def clean_job(module_client: RIMEClient, image_files: ImageFiles) -> RIMEStressTestJob:
    """The module's stress test on the clean split, finished."""
    job = module_client.start_stress_test(image_files.config(), data_type="images")
    wait_succeeded(job)
    return job


def test_images_stress_test_through_the_sdk(clean_job: RIMEStressTestJob) -> None:
    job = clean_job
    summary = job.get_test_run_result().iloc[0]
    assert summary["metadata.data_type"] == "images"
    cases = job.get_test_cases_result()
    assert "ERROR" not in set(cases["status"]), job.get_logs()
    highs = cases[cases["severity"] == "HIGH"]
    assert highs.empty, highs[["test_id", "features", "description"]].to_dict("records")
    assert {"Model Performance", "Drift", "Transformations"} <= set(cases["category"])
    accuracy = cases[cases["test_id"] == "model_performance.accuracy"]
    assert len(accuracy) == 1


def test_the_test_run_page_shows_thumbnails_of_failing_examples(
    clean_job: RIMEStressTestJob,
) -> None:
    cases = clean_job.get_test_cases_result()
    assert cases["test_id"].str.startswith("transformations.image_").any()
    with urllib.request.urlopen(clean_job.get_link(), timeout=10) as response:
        page = response.read().decode()
    assert '<img src="data:image/png;base64,' in page
    assert '<img src="data:text' not in page


def _write_corrupt(folder: Path, source: Path) -> int:
    """``folder/ref.csv`` and ``folder/eval.csv`` whose eval names 5 unreadable images."""
    shutil.copytree(source, folder)
    table = pd.read_csv(folder / "eval.csv")
    (folder / "eval" / "0.png").write_bytes((folder / "eval" / "0.png").read_bytes()[:40])
    (folder / "eval" / "1.png").write_bytes(b"not an image at all")
    table.loc[2, "image"] = "eval/missing.png"
    table.loc[3, "image"] = "../ref.csv"  # leaves the uploaded folder: read as missing
    table.loc[4, "image"] = "/etc/hostname"  # absolute: read as missing on the server
    table.to_csv(folder / "eval.csv", index=False)
    return 5


def test_unreadable_images_are_counted_and_reported_not_a_failed_job(
    module_client: RIMEClient, image_files: ImageFiles, clean_job: RIMEStressTestJob, tmp_path: Path
) -> None:
    bad = _write_corrupt(tmp_path / "corrupt", image_files.folder)
    uri = module_client.upload_data_directory(tmp_path / "corrupt")
    config = image_files.config(
        data_info={"ref_path": f"{uri}/ref.csv", "eval_path": f"{uri}/eval.csv"}
    )
    job = module_client.start_stress_test(config, data_type="images")
    wait_succeeded(job)
    cases = job.get_test_cases_result()
    assert "ERROR" not in set(cases["status"]), job.get_logs()
    unreadable = cases[cases["test_id"] == "abnormal_inputs.image_unreadable"]
    assert len(unreadable) == 1, cases[cases["category"] == "Abnormal Inputs"].to_dict("records")
    case = unreadable.iloc[0]
    assert case["category"] == "Abnormal Inputs"
    assert case["status"] in ("WARNING", "FAIL"), case.to_dict()  # reported, severity by impact
    assert f"{bad} " in case["description"] and "unreadable" in case["description"]
    clean_cases = clean_job.get_test_cases_result()
    clean_case = clean_cases[clean_cases["test_id"] == "abnormal_inputs.image_unreadable"]
    assert clean_case["status"].tolist() == ["PASS"]


def test_a_text_key_in_an_images_config_is_refused_by_name(
    module_client: RIMEClient, image_files: ImageFiles
) -> None:
    config = image_files.config(data_info={"text_col": "image"})
    with pytest.raises(RIMEError) as error:
        module_client.start_stress_test(config, data_type="images")
    assert "data_info.text_col: unknown key" in invalid_message(error)
    config["monitoring_info"] = {"timestamp_col": "ts"}
    with pytest.raises(RIMEError) as error:
        module_client.start_firewall_from_reference(config, data_type="images")
    assert "data_info.text_col: unknown key" in invalid_message(error)


@pytest.mark.parametrize("data_type", ["nlp", "tabular"])
def test_image_col_in_another_data_type_is_refused_by_name(
    module_client: RIMEClient, image_files: ImageFiles, data_type: str
) -> None:
    config = image_files.config(data_info={"image_col": "image"})
    with pytest.raises(RIMEError) as error:
        module_client.start_stress_test(config, data_type=data_type)
    assert "data_info.image_col: unknown key" in invalid_message(error)


def test_image_col_names_another_column(
    module_client: RIMEClient, image_files: ImageFiles, tmp_path: Path
) -> None:
    folder = shutil.copytree(image_files.folder, tmp_path / "renamed")
    for name in ("ref", "eval"):
        table = pd.read_csv(folder / f"{name}.csv").rename(columns={"image": "picture"})
        table.to_csv(folder / f"{name}.csv", index=False)
    uri = module_client.upload_data_directory(folder)
    config = image_files.config(
        data_info={
            "ref_path": f"{uri}/ref.csv",
            "eval_path": f"{uri}/eval.csv",
            "image_col": "picture",
        }
    )
    wait_succeeded(module_client.start_stress_test(config, data_type="images"))
    missing = module_client.start_stress_test(
        image_files.config(
            data_info={"ref_path": f"{uri}/ref.csv", "eval_path": f"{uri}/eval.csv"}
        ),
        data_type="images",
    )
    status = missing.get_status(wait_until_finish=True, poll_rate_sec=0.05)
    assert status["status"] == "JOB_STATUS_FAILED"
    assert "data_info.image_col" in missing.get_logs() or "image column" in str(status)


def _bins_and_cases(client: RIMEClient, firewall: Any) -> list[pd.DataFrame]:
    bins = firewall.get_bins()
    starts = pd.to_datetime(pd.Series(bins["bin_start_secs"]), unit="s", utc=True)
    assert starts.tolist() == [START + pd.Timedelta(days=d) for d in range(DAYS)]
    return [client.get_test_run(run).get_test_cases_result() for run in bins["test_run_id"]]


def _dark_day_only(day_cases: list[pd.DataFrame]) -> None:
    for day, cases in enumerate(day_cases):
        assert "ERROR" not in set(cases["status"])
        highs = cases[cases["severity"] == "HIGH"]
        if day < DAYS - 1:
            assert highs.empty, highs[["test_id", "features", "description"]].to_dict("records")
        else:
            brightness = highs[
                (highs["category"] == "Drift")
                & highs["features"].map(lambda features: "brightness" in list(features))
            ]
            assert not brightness.empty, cases[cases["category"] == "Drift"].to_dict("records")


def test_images_firewall_from_reference_through_the_sdk(
    module_client: RIMEClient, image_files: ImageFiles
) -> None:
    project = module_client.create_project("digits firewall", "image classifier bins")
    config = image_files.config(
        data_info={"eval_path": f"{image_files.data}/days.csv"},
        monitoring_info={"timestamp_col": "ts", "bin_size": "day"},
    )
    job = module_client.start_firewall_from_reference(
        config, project_id=project.project_id, disable_firewall_events=False, data_type="images"
    )
    status = wait_succeeded(job)
    assert status["progress"].startswith(f"{DAYS} / {DAYS} bins completed")
    assert job.get_test_run_result().iloc[0]["metadata.data_type"] == "images"
    firewall = module_client.get_firewall_for_project(project.project_id)
    _dark_day_only(_bins_and_cases(module_client, firewall))


@pytest.mark.slow
def test_images_firewall_on_incremental_data_through_the_sdk(
    module_client: RIMEClient, image_files: ImageFiles
) -> None:
    project = module_client.create_project("digits incremental", "")
    reference = module_client.start_stress_test(
        image_files.config(), project_id=project.project_id, data_type="images"
    )
    wait_succeeded(reference)
    firewall = module_client.create_firewall(
        "digits", DAY, reference.get_test_run_id(), project.project_id
    )
    job = firewall.run_firewall_incremental_data(
        {"eval_path": f"{image_files.data}/days.csv", "timestamp_col": "ts"},
        disable_firewall_events=False,
    )
    wait_succeeded(job)
    _dark_day_only(_bins_and_cases(module_client, firewall))
