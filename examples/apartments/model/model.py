"""Apartment price model (price per square metre): ``predict_dict(row)``, one row at a time.

A linear model stored in model.json, centred on the training means::

    district_base[district] + sum(weights[c] * (clip(row[c], low[c], high[c]) - mean[c]))

Numbers are clipped to the range seen in training, and a missing or unparsable one counts as
the training mean. District names are compared trimmed and lower-cased; an unknown district
gets the mean of the district intercepts.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any


@functools.cache
def _artefact() -> dict[str, Any]:
    artefact: dict[str, Any] = json.loads(
        Path(__file__).with_name("model.json").read_text(encoding="utf-8")
    )
    return artefact


def _number(value: Any, mean: float, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return mean
    return min(max(number, low), high) if math.isfinite(number) else mean


def predict_dict(row: dict[str, Any]) -> float:
    """Predicted price per square metre of one apartment."""
    artefact = _artefact()
    bases: dict[str, float] = artefact["district_base"]
    district = str(row.get("district", "")).strip().lower()
    price = bases.get(district, sum(bases.values()) / len(bases))
    for column, (weight, mean, low, high) in artefact["numeric"].items():
        price += weight * (_number(row.get(column), mean, low, high) - mean)
    return price
