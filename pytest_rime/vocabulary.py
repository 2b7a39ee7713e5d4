"""The shared vocabulary of pytest-rime: names and constants every layer agrees on.

This module is stdlib-only and imports nothing from the package, so the engine, the plugin, the
SDK and the server may all import it without cost or cycles. Every list of categories, bin sizes,
data types, model tasks and fail-on levels lives here, as does the one parser of
``[low, medium, high]`` threshold lists; a test (``tests/test_vocabulary.py``) fails if another
module defines its own copy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final, Literal

__all__ = [
    "BINARY",
    "BIN_SIZES",
    "BIN_SIZES_SECONDS",
    "CATEGORIES",
    "DAILY",
    "DEFAULT_BIN_SIZE",
    "DEFAULT_FAIL_ON",
    "FAIL_ON_LEVELS",
    "FIREWALL_CATEGORIES",
    "HOURLY",
    "IMAGES",
    "IMAGE_CLASSIFICATION",
    "KNOWN_DATA_TYPES",
    "MODEL_TASKS",
    "MONITORING_CATEGORY",
    "MULTICLASS",
    "NLP",
    "REGRESSION",
    "REPORT_CATEGORIES",
    "SEVERITIES",
    "TABULAR",
    "TEXT_CLASSIFICATION",
    "ThresholdOrder",
    "VocabularyError",
    "join_key",
    "parse_thresholds",
]

CATEGORIES: Final = (
    "Data Cleanliness",
    "Abnormal Inputs",
    "Drift",
    "Model Performance",
    "Subset Performance",
    "Transformations",
    "Attacks",
    "Bias and Fairness",
)
"""Display names of the stress-test categories, in report order."""

MONITORING_CATEGORY: Final = "Monitoring"
"""Category of the monitored metrics and events of a firewall bin."""

REPORT_CATEGORIES: Final = (*CATEGORIES, MONITORING_CATEGORY)
"""Every category a report may show, in report order (stress-test categories, then
``Monitoring``)."""

FIREWALL_CATEGORIES: Final = ("Abnormal Inputs", "Drift", "Model Performance", "Subset Performance")
"""The stress-test categories a firewall runs on each bin."""

HOURLY: Final = 3600
"""Seconds in an hourly bin."""

DAILY: Final = 86400
"""Seconds in a daily bin."""

BIN_SIZES: Final[Mapping[str, int]] = {"hour": HOURLY, "day": DAILY}
"""Bin size names accepted in ``monitoring_info.bin_size``, in seconds."""

BIN_SIZES_SECONDS: Final = (HOURLY, DAILY)
"""Bin sizes accepted as seconds (``bin_size_seconds``)."""

DEFAULT_BIN_SIZE: Final = "day"
"""Bin size of a firewall when none is given."""

TABULAR: Final = "tabular"
"""The ``data_type`` of tables of features (the default)."""

NLP: Final = "nlp"
"""The ``data_type`` of texts."""

IMAGES: Final = "images"
"""The ``data_type`` of images."""

KNOWN_DATA_TYPES: Final = (TABULAR, NLP, IMAGES)
"""Values of ``data_type`` named by the reference SDK. Which of them a server runs is up to the
engine's registered data types (``pytest_rime.engine.catalog.supported_data_types``); the
server answers INVALID_ARGUMENT naming them for the others."""

BINARY: Final = "Binary Classification"
"""``model_task`` of a two-class classifier."""

MULTICLASS: Final = "Multi-class Classification"
"""``model_task`` of a classifier over more than two classes."""

REGRESSION: Final = "Regression"
"""``model_task`` of a model predicting a number."""

TEXT_CLASSIFICATION: Final = "Text Classification"
"""``model_task`` of a text classifier (``data_type="nlp"``): binary or multi-class, as its
labels say."""

IMAGE_CLASSIFICATION: Final = "Image Classification"
"""``model_task`` of an image classifier (``data_type="images"``): binary or multi-class, as
its labels say."""

MODEL_TASKS: Final = (BINARY, MULTICLASS, REGRESSION, TEXT_CLASSIFICATION, IMAGE_CLASSIFICATION)
"""Values of ``model_task`` (each data type accepts some of them)."""

FAIL_ON_LEVELS: Final = ("low", "medium", "high")
"""Values accepted for ``fail_on``, lowest first."""

DEFAULT_FAIL_ON: Final = "high"
"""``fail_on`` when none is given."""

SEVERITIES: Final = ("NONE", "LOW", "MEDIUM", "HIGH")
"""Severities of a test case, lowest first (a ``fail_on`` level names one of the last three)."""


class VocabularyError(ValueError):
    """A value is not in the vocabulary or is malformed.

    Attributes:
        key: Dotted path of the offending key, e.g. ``tests_config.drift.thresholds``
            (empty when unknown).
        detail: The message without the key prefix.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.detail = message


def join_key(parent: str, child: str | int) -> str:
    """Return the dotted key of ``child`` under ``parent`` (``a.b``, or ``a[0]`` for an index)."""
    if isinstance(child, int):
        return f"{parent}[{child}]"
    return f"{parent}.{child}" if parent else child


ThresholdOrder = Literal["ascending", "descending", "monotonic"]
"""How the three thresholds must be ordered: ascending (higher values are worse), descending
(lower values are worse), or either of the two (the direction is not known yet)."""

_ORDER_WORDS: Final[Mapping[str, str]] = {
    "ascending": "ascending",
    "descending": "descending (lower values are worse)",
    "monotonic": "ascending or descending",
}


def parse_thresholds(
    value: Any, key: str = "", *, order: ThresholdOrder = "ascending"
) -> tuple[float, float, float]:
    """Parse a ``[low, medium, high]`` threshold list.

    Args:
        value: A list or tuple of exactly three finite numbers (``bool`` is not a number here).
        key: Dotted path of the value, named in the error (and kept as ``.key``).
        order: ``"ascending"`` (the default: higher values are worse), ``"descending"`` (lower
            values are worse) or ``"monotonic"`` (either; for when the direction is unknown).
            Equal neighbours are allowed.

    Returns:
        The three thresholds as floats, in the order given.

    Raises:
        VocabularyError: ``value`` is not a list of three finite numbers in ``order``.
    """
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise VocabularyError(
            key, f"expected a list [low, medium, high] of 3 numbers, got {value!r}"
        )
    numbers: list[float] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise VocabularyError(key, f"expected finite numbers, got {item!r}")
        numbers.append(float(item))
    low, medium, high = numbers
    ascending = low <= medium <= high
    descending = low >= medium >= high
    ordered = {
        "ascending": ascending,
        "descending": descending,
        "monotonic": ascending or descending,
    }[order]
    if not ordered:
        raise VocabularyError(
            key,
            f"thresholds must be {_ORDER_WORDS[order]} [low, medium, high], got {list(value)!r}",
        )
    return low, medium, high
