"""The polling loop stops on a final state and reports every state it fetched."""

from __future__ import annotations

import pytest

from pytest_rime.sdk.polling import poll


def test_without_waiting_fetches_once() -> None:
    states = iter([1, 2, 3])
    seen: list[int] = []
    assert (
        poll(
            lambda: next(states),
            is_done=lambda s: s == 3,
            wait_until_finish=False,
            poll_rate_sec=5.0,
            report=seen.append,
        )
        == 1
    )
    assert seen == [1]


def test_waits_until_done_and_reports_each_state() -> None:
    states = iter([1, 2, 3, 4])
    seen: list[int] = []
    final = poll(
        lambda: next(states),
        is_done=lambda s: s >= 3,
        wait_until_finish=True,
        poll_rate_sec=0.001,
        report=seen.append,
    )
    assert final == 3
    assert seen == [1, 2, 3]


@pytest.mark.parametrize("rate", [0, -1.0])
def test_non_positive_poll_rate_rejected_when_waiting(rate: float) -> None:
    with pytest.raises(ValueError, match="poll_rate_sec"):
        poll(lambda: 0, is_done=lambda s: False, wait_until_finish=True, poll_rate_sec=rate)
