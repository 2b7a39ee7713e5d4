"""Untestable inputs fail the run before any test runs, with one line naming the user's file.

A model that raises, recurses forever, returns the wrong number of predictions, strings for a
regression or non-finite values, and degenerate data (no rows, a label that is all missing or
does not fit the model task, a listed feature missing from the data) each end the run with a
:class:`ModelError` / :class:`DataError` whose message is checked here word for word.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from engine_helpers import tabular_frame, x_model

from pytest_rime.engine.catalog import all_tests
from pytest_rime.engine.context import prediction_problem
from pytest_rime.engine.data import display_name
from pytest_rime.engine.errors import DataError, ModelError
from pytest_rime.engine.model import error_text
from pytest_rime.engine.run import run_stress_test
from pytest_rime.vocabulary import TABULAR

ROWS = 300
REF_ROWS = 400
GOOD_MODEL = """import numpy as np
def predict_df(df):
    return 1.0 / (1.0 + np.exp(-4.0 * df["x"].to_numpy()))
"""
NO_TESTS = {spec.test_id: {"enabled": False} for spec in all_tests(TABULAR)}
"""Every test disabled: the checks run before any test, so the runs stay fast."""


def write_project(
    folder: Path,
    model: str = GOOD_MODEL,
    *,
    ref: pd.DataFrame | None = None,
    cur: pd.DataFrame | None = None,
) -> None:
    (tabular_frame(REF_ROWS, 0) if ref is None else ref).to_csv(folder / "ref.csv", index=False)
    (tabular_frame(ROWS, 1) if cur is None else cur).to_csv(folder / "eval.csv", index=False)
    (folder / "model.py").write_text(model)


def uploaded_config(folder: Path, **data_info: Any) -> tuple[dict[str, Any], Any]:
    """A config naming the files by ``rime://`` references (as the server sees them)."""
    uris = {
        "rime://uploads/a1/ref.csv": folder / "ref.csv",
        "rime://uploads/b2/eval.csv": folder / "eval.csv",
        "rime://uploads/c3/model.py": folder / "model.py",
        "rime://uploads/d4/eval_pred.csv": folder / "eval_pred.csv",
    }
    config: dict[str, Any] = {
        "run_name": "untestable",
        "data_info": {
            "label_col": "y",
            "ref_path": "rime://uploads/a1/ref.csv",
            "eval_path": "rime://uploads/b2/eval.csv",
            **data_info,
        },
        "model_info": {"path": "rime://uploads/c3/model.py"},
        "tests_config": NO_TESTS,
    }
    return config, lambda uri: str(uris[uri])


def run(folder: Path, *, model_task: str | None = None, **data_info: Any) -> None:
    config, resolver = uploaded_config(folder, **data_info)
    if model_task is not None:
        config["model_task"] = model_task
    run_stress_test(config, resolver=resolver, log=lambda _line: None)


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def assert_run_fails(folder: Path, error: type[Exception], message: str, **options: Any) -> None:
    """Running the project in ``folder`` raises ``error`` with exactly ``message``."""
    with pytest.raises(error, match=exactly(message)):
        run(folder, **options)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "    return 1 / 0\n",
            "model.py: predict_df raised ZeroDivisionError: division by zero "
            f"(predicting the {REF_ROWS} rows of ref.csv)",
        ),
        (
            "    return predict_df(df)\n",
            "model.py: predict_df raised RecursionError: maximum recursion depth exceeded "
            f"(predicting the {REF_ROWS} rows of ref.csv)",
        ),
        (
            "    return np.full(len(df) - 3, 0.5)\n",
            f"model.py: predict_df returned shape ({REF_ROWS - 3},) for {REF_ROWS} rows "
            "(on ref.csv)",
        ),
        (
            "    return np.full(len(df), np.nan)\n",
            f"model.py: predict_df returned {REF_ROWS} missing or non-finite values (nan) among "
            f"{REF_ROWS} values (on ref.csv)",
        ),
        (
            "    return np.where(df['x'] > 0, 'yes', 'no')\n",
            "model.py: predict_df returned values ('yes', 'no') that are neither probabilities "
            "in 0..1 nor classes of the label (0, 1) (on ref.csv)",
        ),
        (
            "    return np.column_stack([np.full(len(df), 0.2)] * 3)\n",
            f"model.py: predict_df returned shape ({REF_ROWS}, 3) for 2 classes: 0, 1 (on ref.csv)",
        ),
    ],
    ids=["raises", "recursion", "wrong-length", "nan", "strings", "three-columns"],
)
def test_a_model_that_cannot_predict_the_data_fails_the_run(
    tmp_path: Path, body: str, message: str
) -> None:
    write_project(tmp_path, f"import numpy as np\ndef predict_df(df):\n{body}")
    assert_run_fails(tmp_path, ModelError, message)


def test_strings_for_a_regression_name_the_task(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        "def predict_df(df):\n    return [['a', 'b', 'c'][i % 3] for i in range(len(df))]\n",
    )
    assert_run_fails(
        tmp_path,
        ModelError,
        "model.py: predict_df returned strings ('a', 'b', 'c') for Regression, which needs "
        "numbers (on ref.csv)",
        model_task="Regression",
    )


def test_predict_dict_errors_and_eval_only_failures_name_their_function_and_file(
    tmp_path: Path,
) -> None:
    write_project(tmp_path, "def predict_dict(row):\n    return row['nope']\n")
    assert_run_fails(
        tmp_path,
        ModelError,
        f"model.py: predict_dict raised KeyError: 'nope' (predicting the {REF_ROWS} rows of "
        "ref.csv)",
    )
    # The model serves ref but not eval (eval has x values it refuses).
    cur = tabular_frame(ROWS, 1).assign(x=lambda f: f["x"] + 100)
    refuses = "def predict_df(df):\n    assert (df['x'] < 50).all(), 'x too large'\n"
    refuses += "    return (df['x'] > 0).astype(float)\n"
    write_project(tmp_path, refuses, cur=cur)
    assert_run_fails(
        tmp_path,
        ModelError,
        f"model.py: predict_df raised AssertionError: x too large (predicting the {ROWS} rows "
        "of eval.csv)",
    )


def test_a_joblib_estimator_quotes_scikit_learn_on_one_line(tmp_path: Path) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression

    columns = ["x", "z", "y"]
    ref, cur = tabular_frame(REF_ROWS, 0)[columns], tabular_frame(ROWS, 1)[columns]
    cur.loc[:9, "x"] = np.nan
    write_project(tmp_path, ref=ref, cur=cur)
    joblib.dump(LogisticRegression().fit(ref[["x", "z"]], ref["y"]), tmp_path / "model.joblib")
    config, resolver = uploaded_config(tmp_path)
    config["model_info"]["path"] = "rime://uploads/e5/model.joblib"
    with pytest.raises(ModelError) as raised:
        run_stress_test(
            config,
            resolver=lambda uri: str(tmp_path / "model.joblib") if "e5" in uri else resolver(uri),
            log=lambda _line: None,
        )
    message = str(raised.value)
    assert message.startswith("model.joblib: predict_proba raised ValueError: Input X contains NaN")
    assert message.endswith(f"(predicting the {ROWS} rows of eval.csv)")
    assert "\n" not in message and "/tmp" not in message


def test_precomputed_predictions_are_checked_too(tmp_path: Path) -> None:
    write_project(tmp_path)
    predictions = x_model(tabular_frame(ROWS, 1))
    predictions[[4, 7]] = [np.nan, np.inf]
    pd.DataFrame({"p": predictions}).to_csv(tmp_path / "eval_pred.csv", index=False)
    assert_run_fails(
        tmp_path,
        ModelError,
        "eval_pred.csv: the eval predictions hold 2 missing or non-finite values (nan, inf) "
        f"among {ROWS} values (on eval.csv)",
        eval_pred_path="rime://uploads/d4/eval_pred.csv",
    )
    pd.DataFrame({"p": predictions[3:]}).to_csv(tmp_path / "eval_pred.csv", index=False)
    assert_run_fails(
        tmp_path,
        DataError,
        f"data_info.eval_pred_path: eval_pred.csv has {ROWS - 3} predictions for the "
        f"{ROWS} rows of eval.csv",
        eval_pred_path="rime://uploads/d4/eval_pred.csv",
    )


def test_a_model_directory_upload_is_named_by_its_model_file(tmp_path: Path) -> None:
    write_project(tmp_path, "def predict_df(df):\n    raise RuntimeError('not trained')\n")
    config, resolver = uploaded_config(tmp_path)
    config["model_info"]["path"] = "rime://uploads/f6"
    with pytest.raises(ModelError, match=r"^model\.py: predict_df raised RuntimeError: not tr"):
        run_stress_test(
            config,
            resolver=lambda uri: str(tmp_path) if uri.endswith("f6") else resolver(uri),
            log=lambda _line: None,
        )


def test_local_paths_are_named_as_given(tmp_path: Path) -> None:
    write_project(tmp_path, "def predict_df(df):\n    raise RuntimeError('not trained')\n")
    config = {
        "run_name": "local",
        "data_info": {
            "label_col": "y",
            "ref_path": str(tmp_path / "ref.csv"),
            "eval_path": str(tmp_path / "eval.csv"),
        },
        "model_info": {"path": str(tmp_path / "model.py")},
        "tests_config": NO_TESTS,
    }
    with pytest.raises(ModelError) as raised:
        run_stress_test(config, log=lambda _line: None)
    assert str(raised.value) == (
        f"{tmp_path / 'model.py'}: predict_df raised RuntimeError: not trained (predicting the "
        f"{REF_ROWS} rows of {tmp_path / 'ref.csv'})"
    )


def test_the_healthy_project_runs(tmp_path: Path) -> None:
    write_project(tmp_path)
    config, resolver = uploaded_config(tmp_path)
    result = run_stress_test(config, resolver=resolver, log=lambda _line: None)
    assert result.num_inputs == ROWS


# ----------------------------------------------------------------------------- degenerate data


def header_only(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[:0]


@pytest.mark.parametrize("which", ["ref", "eval"])
def test_a_file_with_a_header_and_no_rows_fails_the_run(tmp_path: Path, which: str) -> None:
    frames = {"ref": tabular_frame(REF_ROWS, 0), "cur": tabular_frame(ROWS, 1)}
    key = "ref" if which == "ref" else "cur"
    frames[key] = header_only(frames[key])
    write_project(tmp_path, **frames)
    assert_run_fails(
        tmp_path,
        DataError,
        f"data_info.{which}_path: {which}.csv has a header (6 columns) and no rows: there is "
        "nothing to test",
    )


def test_a_label_that_is_all_missing_fails_the_run(tmp_path: Path) -> None:
    write_project(tmp_path, cur=tabular_frame(ROWS, 1).assign(y=np.nan))
    assert_run_fails(
        tmp_path,
        DataError,
        "data_info.label_col: every value of 'y' in eval.csv is missing: there is no label "
        "to test the model against",
    )


def test_three_classes_under_binary_classification_fail_the_run(tmp_path: Path) -> None:
    three = tabular_frame(ROWS, 1)
    three.loc[:9, "y"] = 2
    write_project(tmp_path, cur=three)
    assert_run_fails(
        tmp_path,
        DataError,
        "data_info.label_col: 'y' in eval.csv has 3 classes (0, 1, 2) but model_task is "
        "Binary Classification (two classes at most)",
        model_task="Binary Classification",
    )
    # Two classes in each file, three together.
    write_project(tmp_path, cur=tabular_frame(ROWS, 1).assign(y=lambda f: f["y"] + 1))
    assert_run_fails(
        tmp_path,
        DataError,
        "data_info.label_col: 'y' has 3 classes (0, 1, 2) over ref.csv and eval.csv but "
        "model_task is Binary Classification (two classes at most)",
        model_task="Binary Classification",
    )


def test_a_non_numeric_label_under_regression_fails_the_run(tmp_path: Path) -> None:
    ref = tabular_frame(REF_ROWS, 0)
    ref["y"] = ref["y"].map({0: "low", 1: "high"})
    write_project(tmp_path, ref=ref)
    assert_run_fails(
        tmp_path,
        DataError,
        "data_info.label_col: 'y' in ref.csv holds values that are not numbers ('high', "
        "'low') but model_task is Regression",
        model_task="Regression",
    )


@pytest.mark.parametrize(
    ("key", "names", "drop_from_eval", "message"),
    [
        ("categorical_features", ["c", "colour"], None, "ref.csv has no column 'colour'"),
        ("protected_features", ["gender", "age"], None, "ref.csv has no columns 'gender', 'age'"),
        ("protected_features", ["k"], "k", "eval.csv has no column 'k'"),
    ],
)
def test_a_listed_feature_missing_from_the_data_fails_the_run(
    tmp_path: Path, key: str, names: list[str], drop_from_eval: str | None, message: str
) -> None:
    cur = tabular_frame(ROWS, 1)
    write_project(tmp_path, cur=cur.drop(columns=drop_from_eval) if drop_from_eval else cur)
    assert_run_fails(tmp_path, DataError, f"data_info.{key}: {message}", **{key: names})


# ------------------------------------------------------------------------------- the pieces


def test_error_text_is_one_line_and_bounded() -> None:
    error = ValueError("Input X contains NaN.\nLogisticRegression does not accept  NaN.")
    assert error_text(error) == (
        "ValueError: Input X contains NaN. LogisticRegression does not accept NaN."
    )
    long = error_text(RuntimeError("x" * 1000))
    assert len(long) < 320 and long.endswith("...")
    assert error_text(KeyError()) == "KeyError"


def test_display_name_shows_the_uploaded_file_name() -> None:
    assert display_name("rime://uploads/0123abcd/eval.csv") == "eval.csv"
    assert display_name("rime://uploads/0123abcd/sub/model.py") == "sub/model.py"
    assert display_name("rime://uploads/0123abcd") == ""
    assert display_name("/home/me/eval.csv") == "/home/me/eval.csv"
    assert display_name("s3://bucket/eval.csv") == "s3://bucket/eval.csv"


B, M, R = "Binary Classification", "Multi-class Classification", "Regression"
YES_NO = np.array(["no", "yes"])
ABC = np.array(["a", "b", "c"])


@pytest.mark.parametrize(
    ("raw", "task", "classes"),
    [
        (np.array([0.1, 0.9, 0.5]), B, np.array([0, 1])),
        (np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]), B, np.array([0, 1])),
        (np.array(["yes", "no", "yes"]), B, YES_NO),
        (np.array([True, False, True]), B, np.array([False, True])),
        (np.array([1, 2, 2]), B, np.array([1, 2])),
        (np.array([[0.2, 0.3, 0.5]] * 3), M, ABC),
        (np.array(["a", "c", "c"]), M, ABC),
        (np.array(["a", "d", "c"]), M, ABC),  # a class the labels lack: still labels
        (np.array([1.5, -2.0, 1e6]), R, np.empty(0)),
        (np.array([[1.5], [-2.0], [3.0]]), R, np.empty(0)),
        (np.array([1, 2, 3], dtype=object), R, np.empty(0)),
    ],
)
def test_predictions_of_every_supported_form_are_accepted(
    raw: np.ndarray, task: str, classes: np.ndarray
) -> None:
    assert prediction_problem(raw, 3, task, classes) is None
