"""The shared vocabulary: one copy of each list, and the one threshold-list parser."""

from __future__ import annotations

import ast
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pytest_rime
from pytest_rime import vocabulary
from pytest_rime.vocabulary import VocabularyError, parse_thresholds

PACKAGE = Path(pytest_rime.__file__).parent
VOCABULARY_FILE = PACKAGE / "vocabulary.py"

LISTS: dict[str, frozenset[Any]] = {
    name: frozenset(getattr(vocabulary, name))
    for name in (
        "CATEGORIES",
        "REPORT_CATEGORIES",
        "FIREWALL_CATEGORIES",
        "KNOWN_DATA_TYPES",
        "MODEL_TASKS",
        "FAIL_ON_LEVELS",
        "SEVERITIES",
        "BIN_SIZES_SECONDS",
    )
}
"""Every vocabulary list, as a set: a copy in another order is still a copy."""
LISTS["BIN_SIZES"] = frozenset(vocabulary.BIN_SIZES)  # a dict literal keyed like it
BIN_SIZE_CONSTANTS = frozenset(vocabulary.BIN_SIZES_SECONDS)


def _modules() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if path != VOCABULARY_FILE and "proto" not in path.relative_to(PACKAGE).parts
    )


def _literal(node: ast.expr) -> frozenset[Any] | None:
    """The elements of a tuple/list/set literal (keys of a dict literal) of constants."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        elements: list[ast.expr | None] = list(node.elts)
    elif isinstance(node, ast.Dict):
        elements = list(node.keys)
    else:
        return None
    if not elements or not all(isinstance(e, ast.Constant) for e in elements):
        return None
    return frozenset(e.value for e in elements if isinstance(e, ast.Constant))


def _assigned_values(tree: ast.AST) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            yield node.value


def _copies(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for value in _assigned_values(tree):
        where = f"{path.relative_to(PACKAGE.parent)}:{value.lineno}"
        literal = _literal(value)
        if literal is not None:
            found += [f"{where}: a copy of {n}" for n, items in LISTS.items() if literal == items]
        if (
            isinstance(value, ast.Constant)
            and type(value.value) is int
            and value.value in BIN_SIZE_CONSTANTS
        ):
            found.append(f"{where}: bin size {value.value} (use vocabulary.HOURLY / DAILY)")
    return found


def test_the_package_has_modules_to_check() -> None:
    names = {path.name for path in _modules()}
    assert {"config.py", "schema.py", "arguments.py", "firewalls.py"} <= names


def test_no_module_but_the_vocabulary_defines_a_vocabulary_list() -> None:
    copies = [copy for path in _modules() for copy in _copies(path)]
    assert not copies, "define these in pytest_rime/vocabulary.py and import them:\n" + "\n".join(
        copies
    )


def test_the_copy_check_finds_a_copy(tmp_path: Path) -> None:
    module = PACKAGE / "engine" / "config.py"
    source = tmp_path / "copy.py"
    source.write_text(
        'LEVELS = ("high", "medium", "low")\nHOUR = 3600\nTIMEOUT = 3600.0\n', encoding="utf-8"
    )
    tree = ast.parse(source.read_text(encoding="utf-8"))
    values = list(_assigned_values(tree))
    assert _literal(values[0]) == LISTS["FAIL_ON_LEVELS"]
    assert isinstance(values[1], ast.Constant) and values[1].value in BIN_SIZE_CONSTANTS
    assert isinstance(values[2], ast.Constant) and type(values[2].value) is float
    assert module.is_file()


def test_vocabulary_is_stdlib_only() -> None:
    tree = ast.parse(VOCABULARY_FILE.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= {"__future__", "collections", "math", "typing"}


def test_layers_share_the_vocabulary() -> None:
    from pytest_rime.engine import binning, catalog, errors, firewall, results
    from pytest_rime.plugin import cases, gate, schema
    from pytest_rime.sdk import arguments

    assert results.CATEGORIES is vocabulary.CATEGORIES
    assert cases.CATEGORIES is vocabulary.REPORT_CATEGORIES
    assert cases.CATEGORIES[: len(vocabulary.CATEGORIES)] == vocabulary.CATEGORIES
    assert schema.DATA_TYPES is vocabulary.KNOWN_DATA_TYPES
    assert binning.BIN_SIZES is vocabulary.BIN_SIZES is schema.BIN_SIZES
    assert arguments.FIREWALL_BIN_SIZES_SECONDS is vocabulary.BIN_SIZES_SECONDS
    assert gate.FAIL_ON_LEVELS is vocabulary.FAIL_ON_LEVELS
    assert firewall.FIREWALL_CATEGORIES is vocabulary.FIREWALL_CATEGORIES
    assert set(vocabulary.FIREWALL_CATEGORIES) <= set(vocabulary.CATEGORIES)
    assert vocabulary.MODEL_TASKS == (
        vocabulary.BINARY,
        vocabulary.MULTICLASS,
        vocabulary.REGRESSION,
        vocabulary.TEXT_CLASSIFICATION,
        vocabulary.IMAGE_CLASSIFICATION,
    )
    assert catalog.supported_data_types() == vocabulary.KNOWN_DATA_TYPES
    assert set(catalog.supported_data_types()) <= set(vocabulary.KNOWN_DATA_TYPES)
    assert issubclass(errors.ConfigError, VocabularyError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([0.1, 0.2, 0.3], (0.1, 0.2, 0.3)),
        ((1, 1, 2), (1.0, 1.0, 2.0)),
        ([0, 0, 0], (0.0, 0.0, 0.0)),
    ],
)
def test_parse_thresholds_accepts_three_ascending_finite_numbers(
    value: Any, expected: tuple[float, float, float]
) -> None:
    parsed = parse_thresholds(value, "a.b")
    assert parsed == expected
    assert all(type(n) is float for n in parsed)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([0.3, 0.2, 0.1], "ascending"),
        ([0.1, 0.3, 0.2], "ascending"),
        ([0.1, math.nan, 0.3], "finite"),
        ([0.1, 0.2, math.inf], "finite"),
        ([-math.inf, 0.2, 0.3], "finite"),
        ([0.1, 0.2], "3 numbers"),
        ([0.1, 0.2, 0.3, 0.4], "3 numbers"),
        ([], "3 numbers"),
        ("0.1,0.2,0.3", "3 numbers"),
        (None, "3 numbers"),
        ({"low": 0.1}, "3 numbers"),
        ([True, 0.2, 0.3], "finite numbers"),
        (["0.1", 0.2, 0.3], "finite numbers"),
    ],
)
def test_parse_thresholds_rejects_and_names_the_key(value: Any, words: str) -> None:
    with pytest.raises(VocabularyError) as info:
        parse_thresholds(value, "tests_config.drift.thresholds")
    assert isinstance(info.value, ValueError)
    assert info.value.key == "tests_config.drift.thresholds"
    assert str(info.value).startswith("tests_config.drift.thresholds: ")
    assert words in info.value.detail


def test_parse_thresholds_orders() -> None:
    assert parse_thresholds([0.9, 0.8, 0.7], "k", order="descending") == (0.9, 0.8, 0.7)
    assert parse_thresholds([0.9, 0.8, 0.7], "k", order="monotonic") == (0.9, 0.8, 0.7)
    assert parse_thresholds([0.7, 0.8, 0.9], "k", order="monotonic") == (0.7, 0.8, 0.9)
    with pytest.raises(VocabularyError, match="descending"):
        parse_thresholds([0.7, 0.8, 0.9], "k", order="descending")
    with pytest.raises(VocabularyError, match="ascending or descending"):
        parse_thresholds([0.7, 0.9, 0.8], "k", order="monotonic")
    with pytest.raises(VocabularyError, match="finite"):
        parse_thresholds([0.9, math.nan, 0.7], "k", order="descending")


def test_engine_and_plugin_threshold_errors_name_the_key() -> None:
    from pytest_rime.engine.errors import ConfigError
    from pytest_rime.engine.validation import _thresholds
    from pytest_rime.plugin.schema import RimeConfigError, _Where
    from pytest_rime.plugin.schema import _thresholds as plugin_thresholds

    with pytest.raises(ConfigError) as engine_error:
        _thresholds([0.1, math.inf, 0.3], "tests_config.x.thresholds")
    assert engine_error.value.key == "tests_config.x.thresholds"

    where = _Where("rime.yaml", "firewalls[0].thresholds")
    for bad in ([0.1, math.nan, 0.3], [0.1, 0.3, 0.2], [0.1, 0.2]):
        with pytest.raises(RimeConfigError) as plugin_error:
            plugin_thresholds({"null_rate": bad}, where)
        assert plugin_error.value.key == "firewalls[0].thresholds.null_rate"
    assert plugin_thresholds({"m": [0.3, 0.2, 0.1], "n": [1, 2, 3]}, where) == {
        "m": (0.3, 0.2, 0.1),
        "n": (1.0, 2.0, 3.0),
    }


def test_bin_sizes() -> None:
    assert vocabulary.BIN_SIZES == {"hour": 3600, "day": 86400}
    assert vocabulary.BIN_SIZES[vocabulary.DEFAULT_BIN_SIZE] == vocabulary.DAILY


def test_join_key() -> None:
    assert vocabulary.join_key("", "a") == "a"
    assert vocabulary.join_key("a", "b") == "a.b"
    assert vocabulary.join_key("a", 0) == "a[0]"
