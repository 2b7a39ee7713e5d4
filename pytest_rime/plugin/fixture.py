"""The ``rime`` fixture and ``@pytest.mark.rime``: stress tests from ordinary Python tests.

``rime.stress_test(config_or_path, **options)`` runs (or reuses from the cache) one stress
test and returns a :class:`StressTestResult`; ``@pytest.mark.rime(config=..., fail_on=...)``
runs one before the marked test, which reads it as ``rime.result``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_rime.plugin.cases import CaseRecord, RunRecord, severity_rank
from pytest_rime.plugin.gate import (
    FAIL_ON_LEVELS,
    FailOnPolicy,
    IgnoreRules,
    Verdict,
    counted_skips,
    percent,
    skipped_over_limit,
    verdict,
)
from pytest_rime.plugin.kinds import STRESS_TESTS
from pytest_rime.plugin.runner import RunFailed
from pytest_rime.plugin.schema import STRESS_TEST_KEYS, RimeConfigError, stress_test_from_call
from pytest_rime.plugin.session import RimeSession

if TYPE_CHECKING:
    import pandas as pd

    from pytest_rime.sdk import RIMEClient

MARKER_KWARGS = ("config", *(k for k in STRESS_TEST_KEYS if k not in ("config", "config_path")))
"""Keyword arguments ``@pytest.mark.rime`` accepts."""

RESULT_KEY = pytest.StashKey["StressTestResult"]()


class StressTestResult:
    """The results of one stress test run.

    Attributes:
        record: The run as plain data (run id, link, test cases).
    """

    def __init__(
        self,
        record: RunRecord,
        fail_on: FailOnPolicy,
        default_fail_on: str,
        ignore: IgnoreRules | None = None,
        max_skipped: float | None = None,
    ) -> None:
        self.record = record
        self._policy = fail_on
        self._default = default_fail_on
        self._ignore = ignore or IgnoreRules()
        self._max_skipped = max_skipped

    @property
    def test_run_id(self) -> str:
        """Id of the run on the server."""
        return self.record.test_run_id

    @property
    def link(self) -> str:
        """Web app URL of the run."""
        return self.record.link

    @property
    def test_cases(self) -> pd.DataFrame:
        """All test cases, one row each (the columns of ``get_test_cases_result()``)."""
        import pandas as pd

        rows = [case.to_dict() for case in self.record.cases]
        columns = list(rows[0]) if rows else ["test_batch_type", "category", "features"]
        return pd.DataFrame(rows, columns=columns)

    @property
    def summary(self) -> dict[str, Any]:
        """The run's summary (``get_test_run_result()`` row) as a dict."""
        return dict(self.record.summary)

    def _failing(self, fail_on: str | None) -> list[tuple[CaseRecord, str]]:
        """Cases (not ignored) that reach their gate or are engine errors, with the level."""
        if fail_on is not None and fail_on not in FAIL_ON_LEVELS:
            levels = ", ".join(FAIL_ON_LEVELS)
            raise ValueError(f"fail_on: expected one of {levels}, got {fail_on!r}")
        policy = self._policy if fail_on is None else FailOnPolicy(default=fail_on)
        failing = []
        for case in self.record.cases:
            level = policy.level_for(case, self._default)
            if self._ignore.reason(case) is None and verdict(case, level) in (
                Verdict.FAIL,
                Verdict.ERROR,
            ):
                failing.append((case, level))
        return failing

    def failures(self, fail_on: str | None = None) -> pd.DataFrame:
        """Test cases whose severity reaches the gate (``fail_on`` overrides the run's gate).

        Engine errors (status ``ERROR``) are failures whatever the gate; cases matching the
        stress test's ``ignore`` rules are left out.
        """
        failing = {id(case) for case, _ in self._failing(fail_on)}
        cases = self.test_cases
        return cases[[id(case) in failing for case in self.record.cases]]

    def by_feature(self, fail_on: str | None = None) -> pd.DataFrame:
        """Per feature: its cases, those failing at the gate, and the worst severity.

        Sorted by failing cases, then cases (most first).
        """
        import pandas as pd

        failing = {id(case) for case, _ in self._failing(fail_on)}
        rows: dict[str, dict[str, Any]] = {}
        for case in self.record.cases:
            for feature in case.features:
                row = rows.setdefault(feature, {"cases": 0, "failing": 0, "worst_severity": "NONE"})
                row["cases"] += 1
                row["failing"] += int(id(case) in failing)
                if severity_rank(case.severity) > severity_rank(row["worst_severity"]):
                    row["worst_severity"] = case.severity
        columns = ["cases", "failing", "worst_severity"]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
        frame.index.name = "feature"
        return frame.sort_values(["failing", "cases"], ascending=False, kind="stable")

    @property
    def skipped(self) -> list[CaseRecord]:
        """Cases the stress test skipped (not those of the ``ignore`` rules)."""
        return counted_skips(self.record.cases, self._ignore)

    def assert_passing(self, fail_on: str | None = None) -> None:
        """Fail with a readable message listing every case that reaches its gate.

        Engine errors fail too, and so does a share of skipped cases above ``max_skipped``.
        """
        failing = self._failing(fail_on)
        lines = []
        if failing:
            lines.append(
                f"{len(failing)} of {len(self.record.cases)} test cases of {self.record.name!r} "
                f"reached their fail_on gate or are engine errors "
                f"(run {self.test_run_id}, {self.link}):"
            )
            lines += [
                f"  {case.full_name}: engine error: {case.description}"
                if case.status == "ERROR"
                else f"  {case.full_name}: {case.severity} >= fail_on={level}: {case.description}"
                for case, level in sorted(failing, key=lambda f: -severity_rank(f[0].severity))
            ]
        skipped, total = len(self.skipped), len(self.record.cases)
        if skipped_over_limit(skipped, total, self._max_skipped):
            lines.append(
                f"{skipped} of {total} test cases of {self.record.name!r} were skipped "
                f"({percent(skipped / total)}), above max_skipped="
                f"{percent(self._max_skipped or 0.0)}"
            )
        if lines:
            raise AssertionError("\n".join(lines))


class RimeFixture:
    """What the ``rime`` fixture hands out (one per session)."""

    def __init__(self, session: RimeSession) -> None:
        self._session = session
        self._current: pytest.Item | None = None

    @property
    def client(self) -> RIMEClient:
        """The SDK client of the session's backend (the embedded server unless configured)."""
        return self._session.client(self._session.default_backend().server)

    def stress_test(
        self, config_or_path: Mapping[str, Any] | str | os.PathLike[str], **options: Any
    ) -> StressTestResult:
        """Run (or reuse) a stress test.

        Args:
            config_or_path: A test run config dict, or a JSON/YAML file holding one; relative
                paths are resolved against the file's directory (the rootdir for a dict).
            **options: Other keys of a ``stress_tests`` entry: ``name``, ``fail_on``,
                ``ignore``, ``data_type``, ``rime_managed_image``, ``custom_image``,
                ``ram_request_megabytes``, ``cpu_request_millicores``.

        Raises:
            RimeConfigError: An option or the config is wrong.
            RunFailed: The backend could not produce the results.
        """
        return self._run(config_or_path, options, "rime.stress_test()")

    def _run(
        self, config_or_path: Any, options: Mapping[str, Any], source: str
    ) -> StressTestResult:
        session = self._session
        spec = stress_test_from_call(config_or_path, options, source, session.config.rootpath)
        backend = session.default_backend()
        record = session.result_for(STRESS_TESTS, spec, backend)
        return StressTestResult(
            record,
            spec.fail_on,
            session.default_fail_on(backend),
            spec.ignore,
            session.max_skipped(spec.max_skipped, backend),
        )

    def run_marker(self, item: pytest.Item) -> None:
        """Run the stress test of ``item``'s ``@pytest.mark.rime(config=...)``.

        A ``config`` path is relative to the test file's directory. A marker without
        arguments (as on the rime items) runs nothing.
        """
        marker = item.get_closest_marker("rime")
        self._current = item
        if marker is None or not (marker.kwargs or marker.args):
            return
        unknown = sorted(set(marker.kwargs) - set(MARKER_KWARGS))
        if unknown or marker.args or "config" not in marker.kwargs:
            problem = (
                f"unknown keyword(s) {', '.join(unknown)}" if unknown else "config= is required"
            )
            pytest.fail(
                f"{item.nodeid}: @pytest.mark.rime: {problem} "
                f"(accepted: {', '.join(MARKER_KWARGS)})",
                pytrace=False,
            )
        options = {k: v for k, v in marker.kwargs.items() if k != "config"}
        base = Path(str(item.path)).parent
        config = marker.kwargs["config"]
        if not isinstance(config, Mapping):
            config = base / os.fspath(config)
        try:
            item.stash[RESULT_KEY] = self._run(config, options, f"{item.nodeid}: @pytest.mark.rime")
        except (RimeConfigError, RunFailed) as exc:
            pytest.fail(str(exc), pytrace=False)

    @property
    def result(self) -> StressTestResult:
        """The result of the current test's ``@pytest.mark.rime(config=...)``."""
        item = self._current
        if item is None or RESULT_KEY not in item.stash:
            raise LookupError("rime.result needs @pytest.mark.rime(config=...) on the test")
        return item.stash[RESULT_KEY]
