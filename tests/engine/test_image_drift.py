"""Drift tests of images (``pytest_rime.engine.tests.image_drift``, ``image_embedding``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from engine_helpers import distribution_frame
from image_data import blob_images, digit_images, write_image_run
from image_models import Images, assert_at_most_low, category_cases, image_cases, random_split
from scipy import stats
from sklearn.decomposition import PCA as SkPCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import roc_auc_score

from pytest_rime.engine.image_embedding import (
    auc,
    domain_auc,
    domain_auc_test,
    fit_pca,
    represent,
)
from pytest_rime.engine.results import Severity, Status, TestCaseResult
from pytest_rime.engine.stats import psi

MINE = ("drift.image_property_drift", "drift.image_embedding_drift")


def _run(folder: Path, ref: Images, cur: Images) -> list[TestCaseResult]:
    cases = category_cases(folder, ref, cur, "Drift")
    return [case for case in cases if case.test_id in MINE]


def _case(cases: list[TestCaseResult], feature: str) -> TestCaseResult:
    return next(c for c in cases if feature in c.features)


# ------------------------------------------------------------------- the representation
def test_representation_is_the_area_average() -> None:
    image = np.arange(256, dtype=np.uint8).reshape(16, 16)
    vector = represent([image], colour=False)[0]
    expected = image.astype(float).reshape(8, 2, 8, 2).mean(axis=(1, 3)).ravel() / 255
    np.testing.assert_allclose(vector, expected, atol=1e-6)
    colour = represent([np.stack([image] * 3, axis=2), image], colour=True)
    assert colour.shape == (2, 64 + 48)
    np.testing.assert_allclose(colour[0], colour[1], atol=1e-6)  # grey repeats in every channel
    assert represent([], colour=False).shape == (0, 64)


def test_pca_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    sample = rng.normal(size=(200, 12)) @ rng.normal(size=(12, 12))
    mine = fit_pca(sample, explained=0.9, max_components=5)
    reference = SkPCA(n_components=mine.components.shape[0]).fit(sample)
    np.testing.assert_allclose(mine.explained, reference.explained_variance_ratio_, rtol=1e-8)
    projected, theirs = mine.project(sample), reference.transform(sample)
    signs = np.sign(np.sum(projected * theirs, axis=0))
    np.testing.assert_allclose(projected * signs, theirs, atol=1e-8)
    residual = sample - reference.mean_ - theirs @ reference.components_
    np.testing.assert_allclose(mine.residual(sample), np.linalg.norm(residual, axis=1), atol=1e-8)
    assert fit_pca(np.ones((5, 3))).components.shape == (1, 3)


def test_domain_auc_matches_sklearn_lda() -> None:
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(size=(80, 4)), rng.normal(0.4, 1, size=(80, 4))])
    is_eval = np.r_[np.zeros(80, bool), np.ones(80, bool)]
    folds = np.r_[rng.permutation(80) % 2, rng.permutation(80) % 2]  # balanced, as the test
    scores = np.empty(160)
    for fold in (0, 1):
        lda = LinearDiscriminantAnalysis(solver="lsqr", priors=[0.5, 0.5])
        lda.fit(x[folds != fold], is_eval[folds != fold])
        scores[folds == fold] = lda.decision_function(x[folds == fold])
    expected = roc_auc_score(is_eval, scores)
    assert domain_auc(x, is_eval, folds, ridge=0.0) == pytest.approx(expected, abs=1e-12)
    assert domain_auc(x, is_eval, folds) == pytest.approx(expected, abs=0.01)  # small ridge
    assert auc(np.array([1.0, 1.0, 2.0, 0.0]), np.array([True, False, True, False])) == 0.875


def test_domain_test_is_calibrated_and_powerful() -> None:
    rng = np.random.default_rng(2)
    p_values = [
        domain_auc_test(rng.normal(size=(60, 6)), rng.normal(size=(60, 6)), rng, 100).p_value  # type: ignore[union-attr]
        for _ in range(40)
    ]
    # uniform under the null: a KS test does not reject, and no tiny p-values
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    assert min(p_values) > 1e-3
    shifted = domain_auc_test(rng.normal(size=(60, 6)), rng.normal(1, 1, size=(60, 6)), rng)
    assert shifted is not None and shifted.auc > 0.8 and shifted.p_value < 1e-4
    assert domain_auc_test(np.zeros((3, 6)), np.zeros((10, 6)), rng) is None


# --------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_blob_splits_are_at_most_low(tmp_path: Path, seed: int) -> None:
    cases = _run(tmp_path, blob_images(200, seed), blob_images(200, seed + 100))
    assert {c.test_id for c in cases} == set(MINE)
    assert_at_most_low(cases)


@pytest.mark.parametrize("seed", [0, 1])
def test_clean_digit_splits_are_at_most_low(tmp_path: Path, seed: int) -> None:
    cases = _run(tmp_path, *random_split(digit_images(), seed))
    assert_at_most_low(cases)


def test_darkened_eval_images_are_high_brightness_drift(tmp_path: Path) -> None:
    ref = blob_images(200, 0)
    images, labels = blob_images(200, 1)
    dark = [(image * 0.6).astype(np.uint8) for image in images]
    cases = _run(tmp_path, ref, (dark, labels))
    brightness = _case(cases, "brightness")
    assert brightness.severity == Severity.HIGH and brightness.importance_score == 1.0
    assert brightness.metrics["eval_median"] < brightness.metrics["ref_median"]  # type: ignore[operator]
    # the statistic is the tabular PSI over reference-decile bins
    ref_values = np.array([image.mean() for image in ref[0]])
    eval_values = np.array([image.mean() for image in dark])
    edges = np.quantile(ref_values, np.linspace(0, 1, 11))[1:-1]
    ref_counts = np.bincount(np.searchsorted(edges, ref_values, side="right"), minlength=10)
    eval_counts = np.bincount(np.searchsorted(edges, eval_values, side="right"), minlength=10)
    assert brightness.metrics["psi"] == pytest.approx(psi(ref_counts, eval_counts), rel=0.05)
    shares = distribution_frame(brightness)  # the chart: the same bins' shares
    assert shares["ref"].to_numpy() == pytest.approx(ref_counts / ref_counts.sum(), abs=0.01)
    assert shares["eval"].to_numpy() == pytest.approx(eval_counts / eval_counts.sum(), abs=0.01)
    embedding = _case(cases, "image")
    assert embedding.test_id == "drift.image_embedding_drift"
    assert embedding.severity == Severity.HIGH and embedding.metrics["auc"] > 0.9  # type: ignore[operator]
    assert _case(cases, "height").severity == Severity.NONE


def test_new_image_size_is_size_drift(tmp_path: Path) -> None:
    images, labels = digit_images()
    ref, cur = random_split((images, labels), 0)
    grown = [np.kron(image, np.ones((2, 2), dtype=np.uint8)) for image in cur[0]]
    run = write_image_run(tmp_path, ref, (grown, cur[1]))
    model = tmp_path / "model.py"
    model.write_text(
        "import joblib\nimport numpy as np\n"
        f"MODEL = joblib.load({str(run.model_path)!r})\n"
        "def predict_batch(images):\n"
        "    return MODEL.predict_proba(np.stack([i[::i.shape[0] // 8, ::i.shape[1] // 8]"
        ".astype(float).ravel() for i in images]))\n"
    )
    cases = image_cases(run, lambda spec: spec.test_id in MINE, model_info={"path": str(model)})
    for name in ("height", "width"):
        assert _case(cases, name).severity == Severity.HIGH
    assert _case(cases, "aspect_ratio").severity == Severity.NONE


def test_colour_properties_and_edges(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)

    def colour(rows: int, red: float) -> Images:
        pictures = [
            np.clip(rng.normal([red, 80, 80], 20, (12, 12, 3)), 0, 255).astype(np.uint8)
            for _ in range(rows)
        ]
        return pictures, rng.integers(0, 2, rows)

    cases = _run(tmp_path, colour(120, 80), colour(120, 160))
    assert _case(cases, "mean_red").severity == Severity.HIGH
    assert _case(cases, "mean_green").severity in (Severity.NONE, Severity.LOW)
    assert _case(cases, "colourfulness").status != Status.SKIP
    grey = _run(tmp_path / "grey", blob_images(40, 0), blob_images(40, 1))
    assert _case(grey, "mean_red").status == Status.SKIP
