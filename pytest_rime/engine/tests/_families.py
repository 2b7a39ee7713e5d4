"""Test families: registered tests that run one shared function with different arguments.

A category module lists the members of a family in a table (one corruption, metric or value
kind per row) and registers each with :func:`~pytest_rime.engine.registry.register_test`;
:func:`named_test` gives every member a function of its own, named and documented as a
hand-written test would be (``spec.func.__name__``, ``__doc__``, tracebacks). It holds no test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pytest_rime.engine.context import RunContext
from pytest_rime.engine.registry import Finding, TestFunction, TestSettings


def named_test(
    name: str, doc: str, run: Callable[[RunContext, TestSettings], Iterable[Finding]]
) -> TestFunction:
    """``run`` as a test function called ``name`` with docstring ``doc``, in ``run``'s module.

    Args:
        name: The function name (the test id without its category prefix, as a rule).
        doc: Its docstring: what is measured, then how the severity is set.
        run: The member's call of the family's shared function, e.g.
            ``lambda ctx, settings: compare(ctx, metric)``.
    """

    def test(ctx: RunContext, settings: TestSettings) -> Iterable[Finding]:
        return run(ctx, settings)

    test.__name__ = test.__qualname__ = name
    test.__doc__ = doc
    test.__module__ = run.__module__
    return test
