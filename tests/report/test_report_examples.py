"""A case's examples: one line each, PNG thumbnails as images, everything else escaped text."""

from __future__ import annotations

from pytest_rime.report.examples import example_rows, examples_text
from pytest_rime.report.pages import examples_html

XSS = "<script>alert(1)</script>"


def test_examples_text_one_line_each_with_rounded_numbers() -> None:
    metrics = {
        "examples": [
            {"original": "good <b>film</b>", "perturbed": "godo film", "after": 0.912345678},
            "plain",
            7,
        ]
    }
    assert examples_text(metrics) == (
        "original: good <b>film</b> | perturbed: godo film | after: 0.9123\nplain\n7"
    )
    assert example_rows(metrics)[1] == [{"key": None, "text": "plain", "image": None}]
    assert examples_text({}) == "" and examples_text({"examples": "not a list"}) == ""


def test_examples_html_makes_only_png_data_uris_images() -> None:
    png = "data:image/png;base64,iVBORw0KGgo="
    metrics = {
        "examples": [
            {"row": 3, "original": png, "note": XSS},
            {"perturbed": "data:image/png;base64,AAAA' onerror='alert(1)"},
            {"svg": "data:image/svg+xml;base64,PHN2Zz4="},
            "<b>plain</b>",
        ]
    }
    lines = examples_html(metrics).split("\n")
    assert lines[0] == (
        f'row: 3 | original: <img src="{png}" alt="" width="64" class="thumb"> | '
        "note: &lt;script&gt;alert(1)&lt;/script&gt;"
    )
    assert "<img" not in lines[1] and "&#39; onerror=&#39;" in lines[1]
    assert "<img" not in lines[2]
    assert lines[3] == "&lt;b&gt;plain&lt;/b&gt;"
    assert examples_html({}) == "" and examples_html({"examples": "x"}) == ""
