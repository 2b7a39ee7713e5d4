"""Examples of a failing case (texts before and after a change) as text.

The HTML form (``examples_html``) is tested with the report pages (tests/report).
"""

from __future__ import annotations

import html

from pytest_rime.report.examples import examples_text


def test_examples_are_one_line_each_with_their_fields() -> None:
    metrics = {
        "examples": [
            {"original": "good <b>film</b>", "perturbed": "godo film", "prediction_after": 0.2},
            "plain",
        ]
    }
    assert examples_text(metrics) == (
        "original: good <b>film</b> | perturbed: godo film | prediction_after: 0.2\nplain"
    )
    assert "&lt;b&gt;" in html.escape(examples_text(metrics))


def test_a_case_without_examples_shows_nothing() -> None:
    assert examples_text({}) == ""
    assert examples_text({"examples": "not a list"}) == ""
