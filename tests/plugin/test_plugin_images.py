"""Image classifier gates: ``data_type: images`` in rime.yaml, real pytest subprocesses, a server.

Data: scikit-learn's bundled 8x8 digits (``e2e/image_datasets.py``), a seeded split written as
PNG files beside csv tables in ``data/`` (``image`` relative to the table), and a logistic
regression on flattened pixels pickled with joblib in ``model/``. ``eval_dark.csv`` names the
evaluation images darkened (pixels x 0.35) in ``data/dark/``: a brightness drift the gate must
fail on. The plugin uploads the folder holding each table (with its images) as one directory and
points the config at the table inside it. The expected outcome of each gate is computed
independently through the SDK.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from e2e.image_datasets import digits, save_model, split, train, write_table
from PIL import Image
from plugin_helpers import example_gate_summary, failing, run_gate, write_gate

from pytest_rime.plugin.localfiles import fingerprint, upload_and_rewrite
from pytest_rime.sdk import RIMEClient
from pytest_rime.sdk.embedded import EmbeddedServer

DARKEN = 0.35


@pytest.fixture(scope="module")
def image_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("image_data")
    data = split(digits(), seed=2, max_rows=600)
    folder = root / "data"
    write_table(folder, "ref", data.ref.images, data.ref.labels)
    write_table(folder, "eval", data.eval.images, data.eval.labels)
    dark = [(image.astype(float) * DARKEN).astype(np.uint8) for image in data.eval.images]
    write_table(folder, "dark", dark, data.eval.labels)
    (folder / "dark.csv").rename(folder / "eval_dark.csv")
    # Two days of eval images (ts): the first clean, the second darkened.
    rows = len(data.eval.images)
    day = np.arange(rows) % 2
    stamps = pd.Timestamp("2024-05-01", tz="UTC") + pd.to_timedelta(
        day * 86400 + np.arange(rows) * 60, unit="s"
    )
    paths = [f"{'dark' if d else 'eval'}/{i}.png" for i, d in enumerate(day)]
    days = pd.DataFrame(
        {"image": paths, "label": data.eval.labels, "ts": stamps.strftime("%Y-%m-%d %H:%M:%S")}
    )
    days.to_csv(folder / "days.csv", index=False)
    save_model(train("logreg", data.train, 2), root / "model" / "model.joblib")
    return root


def _config(root: Path, eval_file: str, **data_info: str) -> dict[str, object]:
    return {
        "run_name": "Digits",
        "data_info": {
            "label_col": "label",
            "ref_path": str(root / "data" / "ref.csv"),
            "eval_path": str(root / "data" / eval_file),
            **data_info,
        },
        "model_info": {"path": str(root / "model" / "model.joblib")},
        "model_task": "Multi-class Classification",
        "random_seed": 0,
    }


def _sdk_cases(client: RIMEClient, root: Path, eval_file: str) -> pd.DataFrame:
    """The cases of the gate's config, run with the SDK alone (the independent expectation)."""
    config = _config(root, eval_file)
    data = client.upload_model_directory(root / "data")
    config["data_info"] = {
        **config["data_info"],  # type: ignore[dict-item]
        "ref_path": f"{data}/ref.csv",
        "eval_path": f"{data}/{eval_file}",
    }
    config["model_info"] = {"path": client.upload_model_directory(root / "model") + "/model.joblib"}
    job = client.start_stress_test(config, data_type="images")
    status = job.get_status(wait_until_finish=True, poll_rate_sec=0.2)
    assert status["status"] == "JOB_STATUS_SUCCEEDED", job.get_logs()
    return job.get_test_cases_result()


def _entry(root: Path, eval_file: str, *, data_type: str = "images", extra: str = "") -> str:
    data_type_line = f"  data_type: {data_type}\n" if data_type else ""
    return (
        f"- name: Digits\n"
        f"{data_type_line}"
        f"  config:\n"
        f"    data_info:\n"
        f"      label_col: label\n"
        f"      ref_path: {root / 'data' / 'ref.csv'}\n"
        f"      eval_path: {root / 'data' / eval_file}\n"
        f"{extra}"
        f"    model_info: {{path: {root / 'model' / 'model.joblib'}}}\n"
        f"    model_task: Multi-class Classification\n"
        f"    random_seed: 0\n"
    )


def _run(pytester: pytest.Pytester, cache: Path, *args: str) -> pytest.RunResult:
    return run_gate(pytester, cache, *args, timeout=240)


def test_images_gate_fails_on_darkened_images_as_the_sdk_says(
    pytester: pytest.Pytester,
    embedded_server: EmbeddedServer,
    shared_cache: Path,
    sdk_client: RIMEClient,
    image_data: Path,
) -> None:
    expected = _sdk_cases(sdk_client, image_data, "eval_dark.csv")
    expected_failures = failing(expected)
    brightness = expected_failures[
        (expected_failures["category"] == "Drift")
        & expected_failures["features"].map(lambda features: "brightness" in list(features))
    ]
    assert not brightness.empty, expected[expected["category"] == "Drift"].to_dict("records")
    write_gate(pytester, embedded_server, _entry(image_data, "eval_dark.csv"))
    result = _run(pytester, shared_cache, "-rf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert f"collected {len(expected)} items" in result.stdout.str()
    assert result.parseoutcomes()["failed"] == len(expected_failures)
    assert "FAILED rime.yaml::Digits::Drift::" in result.stdout.str()


def test_images_gate_passes_on_the_clean_split(
    pytester: pytest.Pytester, embedded_server: EmbeddedServer, shared_cache: Path, image_data: Path
) -> None:
    write_gate(pytester, embedded_server, _entry(image_data, "eval.csv"))
    result = _run(pytester, shared_cache)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] > 20 and "failed" not in outcomes


def test_images_firewall_gate_names_the_dark_day(
    pytester: pytest.Pytester, embedded_server: EmbeddedServer, shared_cache: Path, image_data: Path
) -> None:
    firewall = (
        "firewalls:\n"
        "  - name: Production\n"
        "    reference: Digits\n"
        f"    eval_path: {image_data / 'data' / 'days.csv'}\n"
        "    timestamp_col: ts\n"
        "    bin_size: day\n"
    )
    write_gate(pytester, embedded_server, _entry(image_data, "eval.csv"))
    rime_yaml = pytester.path / "rime.yaml"
    rime_yaml.write_text("project: {name: digits-firewall}\n" + rime_yaml.read_text() + firewall)
    result = _run(pytester, shared_cache)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()[-3000:]
    summary = result.stdout.str().split("= rime firewalls =", 1)[1]
    assert re.findall(r"^    (\d{4}-\d\d-\d\d): worst", summary, re.MULTILINE) == ["2024-05-02"]
    assert "brightness" in summary


@pytest.mark.parametrize(
    ("data_type", "line", "message"),
    [
        ("tabular", "      image_col: image\n", "data_info.image_col: unknown key"),
        ("nlp", "      image_col: image\n", "data_info.image_col: unknown key"),
        ("images", "      text_col: image\n", "data_info.text_col: unknown key"),
        ("images", "      categorical_features: [image]\n", "categorical_features: unknown key"),
    ],
    ids=["image_col-in-tabular", "image_col-in-nlp", "text_col-in-images", "tabular-key-in-images"],
)
def test_a_key_of_another_data_type_is_a_clear_error(
    pytester: pytest.Pytester,
    embedded_server: EmbeddedServer,
    shared_cache: Path,
    image_data: Path,
    data_type: str,
    line: str,
    message: str,
) -> None:
    write_gate(
        pytester, embedded_server, _entry(image_data, "eval.csv", data_type=data_type, extra=line)
    )
    result = _run(pytester, shared_cache)
    assert result.ret != pytest.ExitCode.OK
    output = result.stdout.str() + result.stderr.str()
    assert message in output
    assert "Traceback" not in output


def test_an_images_table_is_uploaded_with_its_folder_once(image_data: Path) -> None:
    uploaded: list[Path] = []

    def upload_file(path: Path) -> str:
        uploaded.append(path)
        return f"rime://uploads/f/{path.name}"

    def upload_directory(path: Path) -> str:
        uploaded.append(path)
        return f"rime://uploads/{path.name}-id"

    config = _config(image_data, "eval.csv", ref_pred_path=str(image_data / "data" / "ref.csv"))
    rewritten = upload_and_rewrite(config, upload_file, upload_directory, data_type="images")
    assert uploaded == [image_data / "data", image_data / "data" / "ref.csv", image_data / "model"]
    assert rewritten["data_info"]["ref_path"] == "rime://uploads/data-id/ref.csv"
    assert rewritten["data_info"]["eval_path"] == "rime://uploads/data-id/eval.csv"
    assert rewritten["data_info"]["ref_pred_path"] == "rime://uploads/f/ref.csv"  # a plain table
    assert rewritten["model_info"]["path"] == "rime://uploads/model-id/model.joblib"
    uploaded.clear()
    tabular = upload_and_rewrite(config, upload_file, upload_directory)
    assert tabular["data_info"]["ref_path"] == "rime://uploads/f/ref.csv"
    assert uploaded[0] == image_data / "data" / "ref.csv"


def test_the_cache_key_of_an_images_run_follows_its_images(
    image_data: Path, tmp_path: Path
) -> None:
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(image_data, root)
    config = _config(root, "eval.csv")
    images, tabular = fingerprint(config, {}, "images"), fingerprint(config, {})
    assert fingerprint(_config(image_data, "eval.csv"), {}, "images") == images  # by contents
    image = root / "data" / "eval" / "0.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(image)
    assert fingerprint(config, {}, "images") != images
    assert fingerprint(config, {}) == tabular  # a tabular table is the file alone


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "images"


def test_the_example_model_needs_numpy_and_pillow_only() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "images_example_model", EXAMPLE / "model" / "model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    source = (EXAMPLE / "model" / "model.py").read_text()
    imports = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imports == {"__future__", "functools", "json", "pathlib", "typing", "numpy", "PIL"}
    table = pd.read_csv(EXAMPLE / "data" / "eval.csv")
    images = [np.asarray(Image.open(EXAMPLE / "data" / path)) for path in table["image"]]
    probabilities = module.predict_batch(images)
    assert probabilities.shape == (len(images), 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert np.mean(probabilities.argmax(axis=1) == table["label"]) > 0.9
    colour = np.repeat(images[0][:, :, None], 3, axis=2)
    bigger = np.asarray(Image.fromarray(images[0]).resize((32, 32)))
    odd = module.predict_batch([colour, bigger, np.zeros((5, 9), dtype=np.uint8)])
    assert odd.shape == (3, 10) and np.isfinite(odd).all()
    assert odd[0].argmax() == probabilities[0].argmax()


@pytest.mark.slow
def test_images_example_gate_passes(pytester: pytest.Pytester) -> None:
    summary = example_gate_summary(pytester, EXAMPLE, min_passed=30)
    assert "Transformations:" in summary and "Abnormal Inputs:" in summary
