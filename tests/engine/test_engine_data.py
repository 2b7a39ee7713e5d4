"""Reading data files (local, rime://, fsspec) and inferring feature types."""

from __future__ import annotations

from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest

from pytest_rime.engine.data import (
    infer_feature_types,
    read_predictions,
    read_table,
    sample_positions,
)
from pytest_rime.engine.errors import DataError

FRAME = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [0.5, 1.5, np.nan]})


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz", "d.parquet", "d.jsonl"])
def test_reads_by_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if ".csv" in name:
        FRAME.to_csv(path, index=False)
    elif name.endswith(".parquet"):
        FRAME.to_parquet(path)
    else:
        FRAME.to_json(path, orient="records", lines=True)
    pd.testing.assert_frame_equal(read_table(str(path)), FRAME)


def test_reads_fsspec_urls() -> None:
    with fsspec.open("memory://bucket/d.csv", "w") as stream:
        FRAME.to_csv(stream, index=False)
    pd.testing.assert_frame_equal(read_table("memory://bucket/d.csv"), FRAME)


def test_reads_rime_references_through_the_resolver(tmp_path: Path) -> None:
    FRAME.to_csv(tmp_path / "d.csv", index=False)
    seen: list[str] = []

    def resolver(uri: str) -> str:
        seen.append(uri)
        return str(tmp_path / uri.rsplit("/", 1)[1])

    pd.testing.assert_frame_equal(read_table("rime://uploads/abc/d.csv", resolver), FRAME)
    assert seen == ["rime://uploads/abc/d.csv"]
    with pytest.raises(DataError, match="resolver"):
        read_table("rime://uploads/abc/d.csv")


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.csv: file not found"):
        read_table(str(tmp_path / "missing.csv"))
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(DataError, match=r"d\.xlsx: unsupported file type"):
        read_table(str(tmp_path / "d.xlsx"))
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"bad\.parquet: cannot read parquet"):
        read_table(str(tmp_path / "bad.parquet"))


def test_read_predictions_picks_the_column(tmp_path: Path) -> None:
    pd.DataFrame({"p": [0.1, 0.9], "q": [1, 2]}).to_csv(tmp_path / "p.csv", index=False)
    assert read_predictions(str(tmp_path / "p.csv"), None, "p").tolist() == [0.1, 0.9]
    assert read_predictions(str(tmp_path / "p.csv"), None, None).shape == (2, 2)
    pd.DataFrame({"only": [3, 4]}).to_csv(tmp_path / "o.csv", index=False)
    assert read_predictions(str(tmp_path / "o.csv"), None, "p").tolist() == [3, 4]


def test_sample_positions_is_seeded_and_sorted() -> None:
    assert sample_positions(10, None, 0) is None
    assert sample_positions(10, 20, 0) is None
    first = sample_positions(1000, 50, 3)
    assert first is not None and first.size == 50 and np.all(np.diff(first) > 0)
    assert np.array_equal(first, sample_positions(1000, 50, 3))  # type: ignore[arg-type]
    assert not np.array_equal(first, sample_positions(1000, 50, 4))  # type: ignore[arg-type]


def test_feature_types_are_inferred_from_the_reference() -> None:
    n = 20
    ref = pd.DataFrame(
        {
            "num": np.linspace(0, 1, n),
            "int": np.arange(n),
            "int_with_nulls": [np.nan, *range(n - 1)],
            "flag": [True, False] * (n // 2),
            "cat": ["a", "b"] * (n // 2),
            "code": [1, 2] * (n // 2),
            "text": [
                f"a long free text sentence that goes on and on, number {i}" for i in range(n)
            ],
            "when": [f"2024-01-{i + 1:02d}" for i in range(n)],
            "stamp": pd.date_range("2024-01-01", periods=n),
            "y": [0, 1] * (n // 2),
        }
    )
    infos = infer_feature_types(
        ref, exclude={"y"}, categorical_features=["code"], features_not_in_model=["num"]
    )
    types = {name: info.type for name, info in infos.items()}
    assert types == {
        "num": "numeric",
        "int": "integer",
        "int_with_nulls": "integer",
        "flag": "bool",
        "cat": "categorical",
        "code": "categorical",
        "text": "text",
        "when": "datetime",
        "stamp": "datetime",
    }
    assert infos["code"].value_kind == "int" and infos["cat"].value_kind == "str"
    assert not infos["num"].in_model and infos["int"].in_model


def test_unknown_override_column_is_an_error() -> None:
    with pytest.raises(DataError, match=r"data_info.categorical_features: .*'nope'"):
        infer_feature_types(FRAME, exclude=(), categorical_features=["nope"])
