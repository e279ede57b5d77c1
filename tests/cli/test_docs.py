"""docs/cli.md shows every publishing command and every option (so the page cannot drift)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from modelport.cli.main import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
DOCUMENTED_HERE = ("login", "logout", "token", "keys", "runtime", "app", "case", "job")


def _commands() -> list[tuple[str, click.Command]]:
    found = []
    for name in DOCUMENTED_HERE:
        command = cli.commands[name]
        if isinstance(command, click.Group):
            found += [(f"modelport {name} {sub}", c) for sub, c in command.commands.items()]
        else:
            found.append((f"modelport {name}", command))
    return found


@pytest.mark.parametrize("usage,command", _commands(), ids=lambda v: getattr(v, "name", v))
def test_command_and_its_options_are_documented(usage: str, command: click.Command) -> None:
    text = DOC.read_text()
    assert f"`{usage}" in text, f"document {usage} in docs/cli.md"
    options = [opt for p in command.params if isinstance(p, click.Option) for opt in p.opts
               if opt.startswith("--")]
    missing = [opt for opt in options if opt not in text]
    assert not missing, f"document {usage} {missing} in docs/cli.md"
