"""Polling a backend object until it is done, without busy-waiting."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

StateT = TypeVar("StateT")


def poll(
    fetch: Callable[[], StateT],
    *,
    is_done: Callable[[StateT], bool],
    wait_until_finish: bool,
    poll_rate_sec: float,
    report: Callable[[StateT], None] | None = None,
) -> StateT:
    """Fetch a state, and with ``wait_until_finish`` keep fetching until ``is_done``.

    Between fetches the calling thread blocks for ``poll_rate_sec`` seconds.

    Args:
        fetch: Gets the current state from the backend.
        is_done: Whether a state is final.
        wait_until_finish: Keep polling until the state is final.
        poll_rate_sec: Seconds between fetches.
        report: Called with every state fetched (e.g. to print a status line).

    Returns:
        The last state fetched.

    Raises:
        ValueError: ``wait_until_finish`` with a ``poll_rate_sec`` that is not positive.
    """
    if wait_until_finish and not poll_rate_sec > 0:
        raise ValueError(
            f"poll_rate_sec must be a positive number of seconds, got {poll_rate_sec!r}"
        )
    pause = threading.Event()  # never set: wait() is an interruptible pause
    state = fetch()
    if report is not None:
        report(state)
    while wait_until_finish and not is_done(state):
        pause.wait(poll_rate_sec)
        state = fetch()
        if report is not None:
            report(state)
    return state
