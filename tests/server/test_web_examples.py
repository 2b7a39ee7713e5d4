"""Examples of a failing case (texts before and after a change) on the test run page."""

from __future__ import annotations

import html

from pytest_rime.server.web import examples_html, examples_text


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


def test_examples_html_makes_only_png_data_uris_images() -> None:
    png = "data:image/png;base64,iVBORw0KGgo="
    metrics = {
        "examples": [
            {"row": 3, "original": png, "note": "<script>x</script>"},
            {"perturbed": "data:image/png;base64,AAAA' onerror='alert(1)"},
            {"svg": "data:image/svg+xml;base64,PHN2Zz4="},
            "<b>plain</b>",
        ]
    }
    lines = examples_html(metrics).split("\n")
    assert lines[0] == (
        f"row: 3 | original: <img src='{png}' alt='' width='64' "
        "style='image-rendering:pixelated'> | note: &lt;script&gt;x&lt;/script&gt;"
    )
    assert "<img" not in lines[1] and html.escape("' onerror='") in lines[1]
    assert "<img" not in lines[2]
    assert lines[3] == "&lt;b&gt;plain&lt;/b&gt;"
    assert examples_html({}) == "" and examples_html({"examples": "x"}) == ""
