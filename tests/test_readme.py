"""The README's newcomer commands stay true: CI runs exactly the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_readme_starts_with_two_commands() -> None:
    commands = _readme_commands()
    assert len(commands) >= 2
    main, tests = commands[0], commands[1]
    assert "--rime-config" in main
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _readme_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_main_command_points_at_an_existing_config() -> None:
    main = _readme_commands()[0]
    match = re.search(r"cd (\S+) && pytest --rime-config (\S+)", main)
    assert match, main
    assert (ROOT / match.group(1) / match.group(2)).is_file()
