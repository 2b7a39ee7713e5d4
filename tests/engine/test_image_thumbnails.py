from __future__ import annotations

import json

import numpy as np
import pytest
from image_models import decode_thumbnail

from pytest_rime.engine.image_thumbnails import MAX_SIDE, thumbnail


def test_small_grey_image_round_trips_exactly():
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    uri = thumbnail(pixels)
    assert uri is not None and uri.startswith("data:image/png;base64,")
    json.dumps({"original": uri})  # plain JSON
    np.testing.assert_array_equal(decode_thumbnail(uri), pixels)


def test_colour_image_is_shrunk_keeping_aspect_ratio():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(100, 50, 3), dtype=np.uint8)
    decoded = decode_thumbnail(thumbnail(pixels) or "")
    assert decoded.shape == (MAX_SIDE, 16, 3)


def test_constant_image_stays_constant_after_resize():
    decoded = decode_thumbnail(thumbnail(np.full((64, 64), 200, dtype=np.uint8)) or "")
    assert decoded.shape == (32, 32)
    assert np.all(decoded == 200)


def test_floats_and_single_channel_and_alpha():
    as_float = decode_thumbnail(thumbnail(np.full((4, 4), 0.5)) or "")
    assert np.all(as_float == 128)
    single = decode_thumbnail(thumbnail(np.zeros((4, 4, 1), dtype=np.uint8)) or "")
    assert single.shape == (4, 4)
    rgba = decode_thumbnail(thumbnail(np.zeros((4, 4, 4), dtype=np.uint8)) or "")
    assert rgba.shape == (4, 4, 3)


def test_edges():
    assert thumbnail(None) is None
    assert decode_thumbnail(thumbnail(np.zeros((1, 300), dtype=np.uint8)) or "").shape == (1, 32)
    with pytest.raises(ValueError):
        thumbnail(np.zeros((0, 4), dtype=np.uint8))
    with pytest.raises(ValueError):
        thumbnail(np.zeros((4, 4, 2), dtype=np.uint8))
    with pytest.raises(ValueError):
        decode_thumbnail("data:text/plain,hello")
