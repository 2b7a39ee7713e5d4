"""The engine's tests, one module per category; importing this package registers them all.

Keep one import per line (several modules are added independently).
"""

from __future__ import annotations

from pytest_rime.engine.tests import abnormal_inputs as abnormal_inputs
from pytest_rime.engine.tests import attacks as attacks
from pytest_rime.engine.tests import data_cleanliness as data_cleanliness
from pytest_rime.engine.tests import drift as drift
from pytest_rime.engine.tests import fairness as fairness
from pytest_rime.engine.tests import model_performance as model_performance
from pytest_rime.engine.tests import subset as subset
from pytest_rime.engine.tests import transformations as transformations
