from __future__ import annotations

from pathlib import Path

from pytest_rime.plugin.localfiles import LocalNames, fingerprint, upload_and_rewrite


def make(tmp_path: Path) -> dict:
    (tmp_path / "ref.csv").write_text("a\n1\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.py").write_text("W = 1\n")
    (tmp_path / "model" / "weights.json").write_text("[1, 2]\n")
    return {
        "run_name": "T",
        "data_info": {"ref_path": str(tmp_path / "ref.csv"), "eval_path": "s3://bucket/eval.csv"},
        "model_info": {"path": str(tmp_path / "model" / "model.py")},
    }


def test_fingerprint_follows_file_contents_not_paths(tmp_path: Path) -> None:
    config = make(tmp_path)
    base = fingerprint(config, {"server": "a"})
    assert fingerprint(config, {"server": "a"}) == base
    assert fingerprint(config, {"server": "b"}) != base
    (tmp_path / "model" / "__pycache__").mkdir()
    (tmp_path / "model" / "__pycache__" / "model.pyc").write_bytes(b"\0")
    assert fingerprint(config, {"server": "a"}) == base  # caches are not uploaded
    (tmp_path / "model" / "weights.json").write_text("[1, 3]\n")
    changed_model = fingerprint(config, {"server": "a"})
    assert changed_model != base
    (tmp_path / "ref.csv").write_text("a\n2\n")
    assert fingerprint(config, {"server": "a"}) not in (base, changed_model)
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "ref.csv").write_text("a\n2\n")
    moved = {**config, "data_info": {**config["data_info"], "ref_path": str(other / "ref.csv")}}
    assert fingerprint(moved, {"server": "a"}) == fingerprint(config, {"server": "a"})


def test_upload_and_rewrite(tmp_path: Path) -> None:
    config = make(tmp_path)
    uploaded: list[Path] = []

    def upload_file(path: Path) -> str:
        uploaded.append(path)
        return f"rime://uploads/f/{path.name}"

    def upload_directory(path: Path) -> str:
        uploaded.append(path)
        return "rime://uploads/d"

    rewritten = upload_and_rewrite(config, upload_file, upload_directory)
    assert uploaded == [tmp_path / "ref.csv", tmp_path / "model"]
    assert rewritten["data_info"] == {
        "ref_path": "rime://uploads/f/ref.csv",
        "eval_path": "s3://bucket/eval.csv",
    }
    assert rewritten["model_info"] == {"path": "rime://uploads/d/model.py"}
    assert config["data_info"]["ref_path"] == str(tmp_path / "ref.csv")  # input untouched


def test_local_names_replace_upload_uris_and_server_paths(tmp_path: Path) -> None:
    config = make(tmp_path)
    names = LocalNames(tmp_path)
    upload_and_rewrite(
        config,
        lambda path: f"rime://uploads/0a1b/{path.name}",
        lambda path: "rime://uploads/9f8e",
        names,
    )
    message = (
        "DataError: data_info.label_col: rime://uploads/0a1b/ref.csv has no column 'y'. "
        "ModelError: /srv/rime/uploads/9f8e/model.py: predict_df raised; "
        "(rime://uploads/9f8e/model.py) and rime://uploads/ffff/other.csv"
    )
    assert names.localize(message) == (
        "DataError: data_info.label_col: ref.csv has no column 'y'. "
        "ModelError: model/model.py: predict_df raised; "
        "(model/model.py) and rime://uploads/ffff/other.csv"  # not ours: left alone
    )
    assert names.localize_value({"error": ["rime://uploads/0a1b/ref.csv"]}) == {
        "error": ["ref.csv"]
    }
    assert LocalNames().localize(message) == message  # nothing uploaded, nothing mapped
