"""The engine reading ``s3://`` directly: tables through fsspec, models downloaded first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from objectstore_helpers import S3

from pytest_rime.engine.data import read_table
from pytest_rime.engine.errors import ModelError
from pytest_rime.engine.model import load_model

MODEL = b"""
from pathlib import Path

SCALE = float((Path(__file__).parent / "weights" / "scale.txt").read_text())


def predict_df(df):
    return df["x"] * SCALE
"""


def test_a_table_is_read_from_s3(s3: S3) -> None:
    s3.put("data/t.csv", b"x,label\n1,0\n2,1\n")
    frame = read_table(s3.url("data/t.csv"))
    assert frame.to_dict("list") == {"x": [1, 2], "label": [0, 1]}


def test_a_model_directory_on_s3_is_downloaded_with_its_files(s3: S3) -> None:
    s3.put("models/m/model.py", MODEL)
    s3.put("models/m/weights/scale.txt", b"0.25")
    model = load_model(s3.url("models/m"))
    frame = pd.DataFrame({"x": [4.0, 8.0]})
    assert np.allclose(model.predict(frame), [1.0, 2.0])
    # Imported from a local copy (it read its weights file there); named by the config's URL.
    assert model.source == s3.url("models/m")

    s3.put("models/single.py", b"def predict_df(df):\n    return df['x'] * 0\n")
    assert list(load_model(s3.url("models/single.py")).predict(frame)) == [0.0, 0.0]


def test_a_missing_model_or_an_object_escaping_the_directory_is_refused(s3: S3) -> None:
    with pytest.raises(ModelError, match="model file not found"):
        load_model(s3.url("models/none"))
    s3.put("models/evil/model.py", b"")
    s3.put("models/evil/../../escape.py", b"")
    assert "models/evil/../../escape.py" in s3.keys("models/evil/")  # S3 keeps ".." in keys
    with pytest.raises(ModelError, match="unsafe object name"):
        load_model(s3.url("models/evil"))
