"""The ``images`` data type: image tables read, files decoded, models of every kind called."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from image_data import blob_images, digit_images, write_image_run, write_images
from PIL import Image

from pytest_rime.engine.errors import ConfigError, DataError, ModelError
from pytest_rime.engine.image_io import blank_like, pixels_of, read_image
from pytest_rime.engine.run import run_stress_test
from pytest_rime.engine.validation import validate_config
from pytest_rime.vocabulary import BINARY, MULTICLASS


def _quiet(_line: str) -> None:
    pass


def test_png_jpeg_and_npy_files_decode_grey_or_colour(tmp_path: Path) -> None:
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    colour = np.stack([grey, 255 - grey, grey // 2], axis=2)
    Image.fromarray(grey).save(tmp_path / "g.png")
    Image.fromarray(colour).save(tmp_path / "c.jpg", quality=95)
    Image.fromarray(colour).convert("RGBA").save(tmp_path / "a.png")
    np.save(tmp_path / "f.npy", grey.astype(float) / 255.0)
    assert np.array_equal(read_image(str(tmp_path / "g.png")).pixels, grey)
    jpeg = read_image(str(tmp_path / "c.jpg")).pixels
    assert jpeg is not None and jpeg.shape == (8, 8, 3)
    assert np.abs(jpeg.astype(int) - colour.astype(int)).mean() < 8  # lossy, close
    assert np.array_equal(read_image(str(tmp_path / "a.png")).pixels, colour)
    npy = read_image(str(tmp_path / "f.npy")).pixels
    assert npy is not None and np.abs(npy.astype(int) - grey.astype(int)).max() <= 1


def test_unreadable_files_are_reported_not_raised(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "ok.png")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes((tmp_path / "ok.png").read_bytes()[:40])
    (tmp_path / "text.png").write_text("not an image")
    for name in ("cut.png", "text.png", "missing.png"):
        found = read_image(str(tmp_path / name))
        assert found.pixels is None and found.error
    assert read_image("").error == "no image path"
    assert pixels_of(np.ones((2, 2), bool)).pixels is not None
    assert blank_like([None, np.ones((3, 4), np.uint8)]).shape == (3, 4)
    assert blank_like([None]).shape == (1, 1)


def test_a_healthy_image_classifier_runs_the_image_tests(tmp_path: Path) -> None:
    run = write_image_run(tmp_path, blob_images(200, 0), blob_images(200, 1))
    result = run_stress_test(run.config(model_task="Image Classification"), log=_quiet)
    assert result.data_type == "images"
    assert result.model_task == BINARY
    accuracy = next(p for p in result.model_perf if p.name == "Accuracy")
    assert accuracy.eval_metric is not None and accuracy.eval_metric > 0.9
    assert {b.category for b in result.batches} >= {"Model Performance", "Drift"}


def test_digits_are_multi_class_and_npy_files_work(tmp_path: Path) -> None:
    images, labels = digit_images()
    half = len(images) // 2
    folder = tmp_path / "digits"
    run = write_image_run(folder, (images[:half], labels[:half]), (images[half:], labels[half:]))
    write_images(folder, "eval", images[half:], labels[half:], suffix=".npy")
    result = run_stress_test(run.config(), log=_quiet)
    assert result.model_task == MULTICLASS
    accuracy = next(p for p in result.model_perf if p.name == "Accuracy")
    assert accuracy.eval_metric is not None and accuracy.eval_metric > 0.9


@pytest.mark.parametrize(
    "source",
    [
        "def predict_batch(images):\n"
        "    return MODEL.predict_proba(np.stack([i.ravel() for i in images]).astype(float))\n",
        "def predict_df(df):\n"
        "    pixels = np.stack([i.ravel() for i in df['image']])\n"
        "    return MODEL.predict_proba(pixels.astype(float))\n",
        "def predict_dict(x):\n"
        "    return MODEL.predict_proba(x['image'].astype(float).reshape(1, -1))[0]\n",
    ],
)
def test_model_files_of_every_interface(tmp_path: Path, source: str) -> None:
    run = write_image_run(tmp_path, blob_images(120, 0), blob_images(120, 1))
    model = tmp_path / "model.py"
    model.write_text(
        f"import joblib\nimport numpy as np\nMODEL = joblib.load({str(run.model_path)!r})\n"
        + source,
        encoding="utf-8",
    )
    result = run_stress_test(run.config(model_info={"path": str(model)}), log=_quiet)
    accuracy = next(p for p in result.model_perf if p.name == "Accuracy")
    assert accuracy.eval_metric is not None and accuracy.eval_metric > 0.9


def test_a_broken_image_is_scored_as_black_and_the_run_goes_on(tmp_path: Path) -> None:
    run = write_image_run(tmp_path, blob_images(100, 0), blob_images(100, 1))
    (tmp_path / "eval" / "3.png").write_bytes(b"\x89PNG broken")
    table = pd.read_csv(run.eval_path)
    table.loc[5, "image"] = "eval/no_such_file.png"
    table.to_csv(run.eval_path, index=False)
    result = run_stress_test(run.config(), log=_quiet)
    assert result.num_inputs == 100


def test_paths_of_an_uploaded_table_stay_in_its_folder(tmp_path: Path) -> None:
    from pytest_rime.engine.datatypes.images import _resolved

    folder = tmp_path / "upload"
    assert _resolved("a/b.png", folder, confined=True) == str(folder / "a/b.png")
    assert _resolved("../secret.png", folder, confined=True) == ""
    assert _resolved("/etc/passwd", folder, confined=True) == ""
    assert _resolved("/data/x.png", folder, confined=False) == "/data/x.png"
    assert _resolved(float("nan"), folder, confined=False) == ""


def test_image_configs_take_their_own_keys(tmp_path: Path) -> None:
    run = write_image_run(tmp_path, blob_images(40, 0), blob_images(40, 1))
    config = run.config()
    config["data_info"]["text_col"] = "caption"
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert info.value.key == "data_info.text_col"
    config = run.config()
    config["data_info"]["image_col"] = "picture"
    with pytest.raises(DataError, match=re.escape("has no image column 'picture'")):
        run_stress_test(config, log=_quiet)


def test_a_pickled_estimator_needs_one_image_size(tmp_path: Path) -> None:
    ref = blob_images(60, 0)
    cur_images, cur_labels = blob_images(60, 1)
    cur_images[0] = np.zeros((20, 20), np.uint8)
    run = write_image_run(tmp_path, ref, (cur_images, cur_labels))
    with pytest.raises(ModelError, match="one image size"):
        run_stress_test(run.config(), log=_quiet)
