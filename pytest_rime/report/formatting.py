"""Numbers and times as people read them: 4 significant digits, UTC dates, durations."""

from __future__ import annotations

import math
import time
from typing import Any

from pytest_rime.vocabulary import DAILY, HOURLY


def number_text(value: Any) -> str:
    """A metric value as text: integers as they are, floats to 4 significant digits.

    ``0.22857142857142856`` -> ``0.2286``, ``1085.5`` -> ``1086``, ``3.4e-17`` -> ``3.4e-17``;
    ``None`` and NaN -> ``n/a``; booleans -> ``yes`` / ``no``; anything else -> ``str()``.
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.3g}"
    decimals = max(0, 3 - math.floor(math.log10(magnitude)))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def p_value_text(value: Any) -> str:
    """A p-value to 2 significant digits (``0.0003586`` -> ``0.00036``, ``1e-30`` -> ``1e-30``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return number_text(value)
    if math.isnan(value):
        return "n/a"
    return f"{value:.2g}"


def rounded(value: float, digits: int = 6) -> float | None:
    """``value`` rounded to ``digits`` significant digits for JSON (NaN, inf -> ``None``)."""
    if not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def finite(value: Any) -> float | None:
    """A number (not a bool) as a float rounded for JSON, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return rounded(float(value))


def utc_text(epoch_secs: float | None, *, minutes: bool = True) -> str:
    """``2024-05-03 14:00 UTC`` (``2024-05-03`` when not ``minutes``); empty for no time."""
    if not epoch_secs:
        return ""
    fmt = "%Y-%m-%d %H:%M UTC" if minutes else "%Y-%m-%d"
    return time.strftime(fmt, time.gmtime(epoch_secs))


def iso_text(epoch_secs: float) -> str:
    """``2024-05-03T14:00:00Z``: the x value of a timeline point."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_secs))


def duration_text(seconds: float | None) -> str:
    """``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``; empty for no duration."""
    if seconds is None or seconds < 0 or math.isnan(seconds):
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def bin_size_text(seconds: int) -> str:
    """An hourly bin -> ``1 hour``, a daily bin -> ``1 day``, other sizes in seconds."""
    if seconds and seconds % DAILY == 0:
        days = seconds // DAILY
        return f"{days} day" + ("s" if days > 1 else "")
    if seconds and seconds % HOURLY == 0:
        hours = seconds // HOURLY
        return f"{hours} hour" + ("s" if hours > 1 else "")
    return f"{seconds} s"
