"""A test case's ``metrics["examples"]`` as view items and as text.

An example is a string, or a mapping of named values (e.g. a text before and after a
transformation). A value that is a ``data:image/png;base64,...`` URI (an image's thumbnail) is
an image; everything else is text. The HTML form is
:func:`pytest_rime.report.pages.examples_html` (a template, autoescaped).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pytest_rime.report.formatting import number_text

PNG_DATA_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/]+={0,2}")
"""A PNG thumbnail inlined as a data URI: the only kind of example shown as an image."""


def _item(key: str | None, value: Any) -> dict[str, str | None]:
    if isinstance(value, str) and PNG_DATA_URI.fullmatch(value):
        return {"key": key, "text": None, "image": value}
    text = number_text(value) if isinstance(value, float) else str(value)
    return {"key": key, "text": text, "image": None}


def example_rows(metrics: Mapping[str, Any]) -> list[list[dict[str, str | None]]]:
    """One row per example, each a list of ``{"key", "text", "image"}`` items.

    ``key`` is ``None`` for an example that is a bare value; exactly one of ``text`` and
    ``image`` (a PNG data URI) is set; floats are rounded to 4 significant digits. A case
    without a list of examples gives ``[]``.
    """
    examples = metrics.get("examples")
    if not isinstance(examples, list):
        return []
    rows: list[list[dict[str, str | None]]] = []
    for example in examples:
        if isinstance(example, Mapping):
            rows.append([_item(str(k), v) for k, v in example.items()])
        else:
            rows.append([_item(None, example)])
    return rows


def examples_text(metrics: Mapping[str, Any]) -> str:
    """A case's examples as text: one line per example.

    An example of named values shows as ``key: value`` pairs separated by `` | ``; a case
    without examples gives the empty string.
    """
    return "\n".join(
        " | ".join(
            f"{item['key']}: {item['text'] or item['image']}"
            if item["key"] is not None
            else str(item["text"] or item["image"])
            for item in row
        )
        for row in example_rows(metrics)
    )
