"""The sweep's table in the terminal summary: dataset, model, seed, rows, HIGH, MEDIUM counts."""

from __future__ import annotations

import pytest

_OUTCOMES = pytest.StashKey[list[object]]()


@pytest.fixture
def sweep_outcomes(request: pytest.FixtureRequest) -> list[object]:
    """The session's list of finished sweep runs (``sweep_helpers.Outcome``), in run order."""
    return request.config.stash.setdefault(_OUTCOMES, [])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    outcomes = terminalreporter.config.stash.get(_OUTCOMES, [])
    if not outcomes:
        return
    from sweep_helpers import table

    terminalreporter.section("rime clean sweep")
    terminalreporter.write_line(table(outcomes))  # type: ignore[arg-type]
    terminalreporter.write_line(
        "Every HIGH / MEDIUM case of the whole sweep: python benchmarks/sweep_table.py"
    )
