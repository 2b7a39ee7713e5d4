"""Firewalls of image classifiers: timestamped image tables in daily bins, tested per bin.

Data: scikit-learn's bundled 8x8 digits (``e2e/image_datasets.py``), a seeded split; a logistic
regression on flattened pixels, pickled. The evaluation images are spread over three UTC days
(``ts``): day 0 is clean, day 1 is darkened (pixels x 0.35, a brightness drift), and on day 2 a
fifth of the images are black and two files are unreadable (one truncated, one missing). Each bin
runs the firewall categories (Abnormal Inputs, Drift, Model Performance, Subset Performance) on
its own rows against the reference; what each bin must show is computed here from the planted
rows, independently of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from e2e.image_datasets import digits, image_config, save_model, split, train, write_table

from pytest_rime.engine.firewall import (
    FIREWALL_CATEGORIES,
    FirewallRunResult,
    run_firewall,
    run_firewall_from_reference,
)
from pytest_rime.engine.results import Severity, Status, TestCaseResult

DAY = 86400
START = pd.Timestamp("2024-05-01", tz="UTC")
DARK_DAY, BLANK_DAY = 1, 2
BLANK_SHARE = 0.2


@dataclass(frozen=True)
class Days:
    """The written files and the planted rows."""

    ref: Path
    eval: Path
    days: Path
    model: Path
    frame: pd.DataFrame
    blank_rows: int
    unreadable_rows: int


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> Days:
    folder = tmp_path_factory.mktemp("image-firewall")
    data = split(digits(), seed=4, max_rows=900)
    ref = write_table(folder, "ref", data.ref.images, data.ref.labels)
    eval_table = write_table(folder, "eval", data.eval.images, data.eval.labels)
    model = save_model(train("logreg", data.train, 4), folder / "model.joblib")
    rng = np.random.default_rng(4)
    day = np.sort(rng.integers(0, 3, len(data.eval.images)))
    images = list(data.eval.images)
    for row in np.flatnonzero(day == DARK_DAY):
        images[row] = (images[row].astype(float) * 0.35).astype(np.uint8)
    blank_day = np.flatnonzero(day == BLANK_DAY)
    blank = rng.choice(blank_day, int(BLANK_SHARE * len(blank_day)), replace=False)
    for row in blank:
        images[row] = np.zeros_like(images[row])
    seconds = day * DAY + rng.integers(0, DAY, len(day))
    stamps = (START + pd.to_timedelta(seconds, unit="s")).strftime("%Y-%m-%d %H:%M:%S")
    days_table = write_table(folder, "days", images, data.eval.labels, {"ts": stamps})
    frame = pd.read_csv(days_table)
    unreadable = [r for r in blank_day if r not in set(blank)][:2]
    (folder / frame.loc[unreadable[0], "image"]).write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    frame.loc[unreadable[1], "image"] = "days/missing.png"
    frame.to_csv(days_table, index=False)
    return Days(ref, eval_table, days_table, model, frame, len(blank), len(unreadable))


def _config(days: Days, **extra: object) -> dict[str, object]:
    return image_config(days.ref, days.eval, days.model, 0, **extra)


def _bin_cases(run: FirewallRunResult) -> list[list[TestCaseResult]]:
    return [[c for b in fw_bin.result.batches for c in b.cases] for fw_bin in run.bins]


@pytest.fixture(scope="module")
def firewall_run(days: Days) -> FirewallRunResult:
    return run_firewall(
        _config(days),
        eval_path=str(days.days),
        timestamp_col="ts",
        bin_size_seconds="day",
        log=lambda _line: None,
    )


def test_bins_follow_the_timestamps(firewall_run: FirewallRunResult, days: Days) -> None:
    stamps = pd.to_datetime(days.frame["ts"], utc=True).dt.floor("D")
    counts = stamps.value_counts().sort_index()
    assert [b.summary.bin_start_secs for b in firewall_run.bins] == [
        int(t.timestamp()) for t in counts.index
    ]
    assert [b.summary.num_rows for b in firewall_run.bins] == counts.tolist()
    assert firewall_run.num_unparsed_rows == 0


def test_each_bin_runs_the_firewall_categories_for_images(
    firewall_run: FirewallRunResult,
) -> None:
    for cases in _bin_cases(firewall_run):
        assert {c.category for c in cases} == set(FIREWALL_CATEGORIES)
        assert not [c.description for c in cases if c.status == Status.ERROR]
        assert any(c.test_id == "drift.image_property_drift" for c in cases)
        assert not any(
            c.test_id.startswith(("drift.feature", "abnormal_inputs.numeric")) for c in cases
        )


def test_the_clean_day_has_no_high(firewall_run: FirewallRunResult) -> None:
    highs = [c for c in _bin_cases(firewall_run)[0] if c.severity == Severity.HIGH]
    assert not highs, [(c.test_id, c.features, c.description) for c in highs]


def test_the_dark_day_shows_brightness_drift(firewall_run: FirewallRunResult) -> None:
    cases = _bin_cases(firewall_run)[DARK_DAY]
    brightness = [
        c for c in cases if c.test_id == "drift.image_property_drift" and "brightness" in c.features
    ]
    assert len(brightness) == 1 and brightness[0].severity == Severity.HIGH
    assert brightness[0].metrics["p_value_adjusted"] < 0.01
    dark = firewall_run.bins[DARK_DAY].summary
    assert "brightness" in dark.drifting_features
    assert dark.metrics["num_drifting_features"] == len(dark.drifting_features)
    assert firewall_run.bins[0].summary.drifting_features == ()


def test_the_blank_day_counts_blank_and_unreadable_images(
    firewall_run: FirewallRunResult, days: Days
) -> None:
    by_id = {c.test_id: c for c in _bin_cases(firewall_run)[BLANK_DAY]}
    blank = by_id["abnormal_inputs.image_blank"]
    day_rows = firewall_run.bins[BLANK_DAY].summary.num_rows
    # An unreadable file is scored as a black image but counted as unreadable, not blank.
    assert blank.metrics["statistic"] == pytest.approx(days.blank_rows / day_rows)
    assert blank.severity == Severity.HIGH
    unreadable = by_id["abnormal_inputs.image_unreadable"]
    assert unreadable.status != Status.PASS
    assert f"{days.unreadable_rows} " in unreadable.description
    for earlier in _bin_cases(firewall_run)[:BLANK_DAY]:
        earlier_ids = {c.test_id: c for c in earlier}
        assert earlier_ids["abnormal_inputs.image_unreadable"].status == Status.PASS


def test_firewall_from_reference_on_image_tables(days: Days) -> None:
    config = _config(
        days,
        data_info={"eval_path": str(days.days)},
        monitoring_info={"timestamp_col": "ts", "bin_size": "day"},
    )
    result = run_firewall_from_reference(config, log=lambda _line: None)
    categories = {c.category for b in result.stress_test.batches for c in b.cases}
    assert "Transformations" in categories  # the stress test runs every category
    assert len(result.firewall.bins) == 3
    dark = _bin_cases(result.firewall)[DARK_DAY]
    assert any(
        c.severity == Severity.HIGH and "brightness" in c.features and c.category == "Drift"
        for c in dark
    )
