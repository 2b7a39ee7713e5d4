"""Model adapters: python files, directories, pickled estimators; batching and call counts."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from pytest_rime.engine.errors import ModelError
from pytest_rime.engine.model import load_model

FRAME = pd.DataFrame({"x": [-2.0, 0.0, 3.0]})


def write(path: Path, source: str) -> Path:
    path.write_text(source)
    return path


def test_predict_df_file(tmp_path: Path) -> None:
    write(tmp_path / "helper.py", "SCALE = 2.0\n")
    model = load_model(
        str(
            write(
                tmp_path / "m.py",
                "import helper\n"
                "def predict_df(df):\n"
                "    return df['x'].to_numpy() * helper.SCALE\n",
            )
        )
    )
    assert model.predict(FRAME).tolist() == [-4.0, 0.0, 6.0]
    assert model.n_calls == 1
    assert model.predict(FRAME.iloc[:0]).size == 0 and model.n_calls == 1


def test_predict_dict_is_batched_by_the_adapter(tmp_path: Path) -> None:
    source = "CALLS = []\ndef predict_dict(row):\n    CALLS.append(1)\n    return row['x'] + 1\n"
    model = load_model(str(write(tmp_path / "m.py", source)))
    assert model.predict(FRAME).tolist() == [-1.0, 1.0, 4.0]
    assert model.n_calls == 1


def test_directory_with_model_py_and_rime_reference(tmp_path: Path) -> None:
    write(tmp_path / "model.py", "def predict_df(df):\n    return df['x'].to_numpy()\n")
    assert load_model(str(tmp_path)).predict(FRAME).tolist() == [-2.0, 0.0, 3.0]
    model = load_model("rime://uploads/u1", resolver=lambda uri: str(tmp_path))
    assert model.predict(FRAME).shape == (3,)


@pytest.mark.parametrize("suffix", [".pkl", ".joblib"])
def test_pickled_estimator_uses_predict_proba(tmp_path: Path, suffix: str) -> None:
    estimator = LogisticRegression().fit(
        pd.DataFrame({"x": [-1.0, -2.0, 1.0, 2.0]}), ["n", "n", "p", "p"]
    )
    path = tmp_path / f"m{suffix}"
    if suffix == ".pkl":
        path.write_bytes(pickle.dumps(estimator))
    else:
        joblib.dump(estimator, path)
    model = load_model(str(path))
    assert model.classes is not None and model.classes.tolist() == ["n", "p"]
    np.testing.assert_allclose(model.predict(FRAME), estimator.predict_proba(FRAME))


@pytest.mark.parametrize(
    ("name", "source", "text"),
    [
        ("m.py", "x = 1\n", "neither predict_df"),
        ("m.py", "raise RuntimeError('boom')\n", "importing the model file failed"),
        ("m.txt", "", "unsupported model file"),
        ("m.pkl", "not a pickle", "cannot unpickle"),
    ],
)
def test_bad_models_raise_model_error(tmp_path: Path, name: str, source: str, text: str) -> None:
    with pytest.raises(ModelError, match=text):
        load_model(str(write(tmp_path / name, source)))


def test_missing_model_and_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model file not found"):
        load_model(str(tmp_path / "nope.py"))
    model = load_model(str(write(tmp_path / "m.py", "def predict_df(df):\n    return [1]\n")))
    with pytest.raises(ModelError, match="shape"):
        model.predict(FRAME)
