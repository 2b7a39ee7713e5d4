"""Word lists shipped with the engine (see README.md beside this file)."""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def word_list(name: str) -> tuple[tuple[str, ...], ...]:
    """The entries of ``<name>.txt`` beside this module.

    One tuple of tab-separated fields per line; comments (``#``) and blank lines are left out.
    """
    text = resources.files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            entries.append(tuple(field.strip() for field in line.split("\t")))
    return tuple(entries)
