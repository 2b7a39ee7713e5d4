"""What the server knows of its own package without importing ``pytest_rime`` itself."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from pytest_rime.server import distribution

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_the_installed_distributions() -> None:
    name = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    assert name == distribution.DISTRIBUTION
    assert metadata.version(name) == distribution.VERSION


def test_the_package_parent_holds_the_package() -> None:
    assert Path(distribution.PACKAGE_PARENT) == ROOT
    assert (ROOT / "pytest_rime" / "server" / "distribution.py").is_file()


def test_a_missing_distribution_reports_the_unknown_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(distribution, "DISTRIBUTION", "pytest-rime-not-installed-anywhere")
    assert distribution.installed_version() == distribution.UNKNOWN_VERSION
