"""Fixtures of the engine tests (helpers live in engine_helpers.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from engine_helpers import tabular_frame


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A reference and an evaluation frame from the same distribution."""
    return tabular_frame(600, 0), tabular_frame(600, 1)
