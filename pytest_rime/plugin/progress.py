"""Progress of runs on the terminal (test batches or bins done / total, elapsed time).

Lines go through pytest's terminal reporter: on a terminal the progress line is rewritten in
place; in a log (CI) a line is written each time the progress changes. Nothing is printed
under ``-q`` or on xdist workers (their output is not shown).
"""

from __future__ import annotations

import re

import pytest

from pytest_rime.plugin.runner import JobProgress

_FRACTION = re.compile(r"(\d+)\s*/\s*(\d+)")


def describe(progress: JobProgress) -> str:
    """``12/40 test batches done, 8s elapsed`` (``bins`` for a firewall job).

    Without a count in the job's progress text, its text or state.
    """
    match = _FRACTION.search(progress.progress)
    unit = "bins" if "bin" in progress.progress else "test batches"
    what = (
        f"{match[1]}/{match[2]} {unit} done"
        if match
        else (progress.progress or progress.state.lower() or "waiting")
    )
    return f"{what}, {progress.elapsed:.0f}s elapsed"


class ProgressPrinter:
    """Writes run progress to the terminal reporter of ``config``."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._last = ""
        self._last_logged: tuple[str, str, str] | None = None

    @property
    def _reporter(self) -> pytest.TerminalReporter | None:
        """The terminal reporter, or ``None`` when progress is not shown."""
        config = self._config
        if config.get_verbosity() < 0 or hasattr(config, "workerinput"):
            return None
        reporter: pytest.TerminalReporter | None = config.pluginmanager.get_plugin(
            "terminalreporter"
        )
        return reporter

    def _line(self, text: str, *, final: bool = False) -> None:
        reporter = self._reporter
        if reporter is None:
            return
        if reporter.isatty():
            reporter.rewrite(text, erase=True)
            if final:
                reporter.write("\n")
        elif final or text != self._last:
            reporter.write_line(text)
        self._last = text

    def _announce(self, text: str) -> None:
        """``text`` on a line of its own (after a progress line being rewritten)."""
        reporter = self._reporter
        if reporter is not None:
            reporter.ensure_newline()
        self._line(text, final=True)

    def started(self, name: str, address: str, what: str = "stress test") -> None:
        """A run (``what``: stress test or firewall) of ``name`` is starting on ``address``."""
        self._announce(f"rime: {name}: starting {what} on {address}")

    def update(self, name: str, progress: JobProgress) -> None:
        """The job of ``name`` reported ``progress``."""
        reporter = self._reporter
        if reporter is not None and reporter.isatty():
            self._line(f"rime: {name}: {describe(progress)}")
        else:  # a log line per change of the progress text, not per poll
            key = (name, progress.state, progress.progress)
            if key != self._last_logged:
                self._last_logged = key
                self._line(f"rime: {name}: {describe(progress)}", final=True)

    def finished(self, text: str) -> None:
        """A run finished; ``text`` says with what."""
        self._line(text, final=True)

    def cached(self, text: str) -> None:
        """A record is reused from the cache; ``text`` says which."""
        self._announce(text)
