"""The docs are checked: every command has help and appears in the README; the README's schema is the real one."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scraper.cli import cli
from scraper.store import Archive

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def all_commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []

    def walk(prefix: str, command: click.Command) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found.append((prefix, command))

    walk("", cli)
    return found


COMMANDS = all_commands()


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```bash", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block and "make test" in first_block
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().endswith("make test")


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_every_command_has_help_and_is_in_the_readme(name: str, command: click.Command) -> None:
    assert command.help and len(command.help.strip()) > 20
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0
    assert f"scrape {name}" in README, f"`scrape {name}` is not in README.md"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"{name} {param.opts} has no help"


def test_readme_schema_is_the_real_schema(tmp_path: Path) -> None:
    block = re.search(r"```sql\n(.*?)\n```", README, re.DOTALL)
    assert block is not None
    with Archive(tmp_path / "archive.db") as archive:
        assert block.group(1) == archive.db.schema


def test_changelog_has_an_unreleased_section() -> None:
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
