"""The docs are checked: the README's budget and commands, every page linked and every link alive, the pages made
from the code current, the module map complete, and every quoted bench figure named by a key its bench prints."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scraper.cli import cli
from scripts.update_docs import CLI_PAGE, SCHEMA_PAGE, cli_reference, schema_page

from .conftest import ROOT
from .test_benches import BENCHES, documented_keys

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
#: A newcomer reads the README in ten minutes; detail lives in docs/.
README_LINES = 250
#: Markdown links [text](target), not images, not in code.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


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


def test_readme_is_read_in_ten_minutes() -> None:
    assert len(README.splitlines()) <= README_LINES, "move detail to a page under docs/"


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_every_command_has_help_and_is_in_the_readme(name: str, command: click.Command) -> None:
    assert command.help and len(command.help.strip()) > 20
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0
    assert f"scrape {name}" in README, f"`scrape {name}` is not in README.md"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"{name} {param.opts} has no help"


def test_the_cli_reference_is_current() -> None:
    # Every command and every option, as --help prints them: a new option without a regenerated page fails here.
    assert CLI_PAGE.read_text(encoding="utf-8") == cli_reference(), "run .venv/bin/python scripts/update_docs.py"
    for name, command in COMMANDS:
        section = CLI_PAGE.read_text(encoding="utf-8").split(f"## `scrape {name}`\n", 1)[1].split("\n## ", 1)[0]
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.opts[-1] in section, f"`scrape {name}` {param.opts[-1]} is not in docs/cli.md"


def test_the_schema_page_shows_the_real_schema() -> None:
    page = SCHEMA_PAGE.read_text(encoding="utf-8")
    assert page == schema_page(page), "run .venv/bin/python scripts/update_docs.py"
    assert "CREATE TABLE articles (" in page


def test_every_docs_page_is_in_the_index_and_linked_from_the_readme() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    listed = set(LINK.findall(index))
    for page in PAGES:
        if page.name != "README.md":
            assert page.name in listed, f"add docs/{page.name} to the table in docs/README.md"
    assert "docs/README.md" in LINK.findall(README)


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert path.exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"


def modules() -> set[str]:
    """Every module under scraper/, as a dotted name."""
    package = ROOT / "scraper"
    return {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in package.rglob("*.py")
        if "__pycache__" not in path.parts
    }


def test_the_module_map_lists_every_module_and_only_real_ones() -> None:
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    table = page.split("## Module map", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(scraper[\w.]*)` \|", table, re.MULTILINE))
    assert not modules() - listed, f"add to the module map of docs/architecture.md: {sorted(modules() - listed)}"
    assert not listed - modules(), f"no such module, in docs/architecture.md: {sorted(listed - modules())}"


@pytest.mark.parametrize("page", ["benchmarks.md", "reliability.md"])
def test_every_figure_names_a_key_its_bench_prints(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    keys = {path.name: set(documented_keys(path)) for path in BENCHES}
    rows = [line for line in text.splitlines() if line.startswith("| `bench/")]
    assert rows, f"docs/{page} quotes no bench figure"
    for row in rows:
        script = re.match(r"\| `bench/([\w]+\.py)", row)
        assert script and script.group(1) in keys, f"docs/{page}: {row[:60]} names no bench"
        named = re.findall(r"`([a-z_]\w*)`", row.rsplit("|", 2)[-2])
        assert named, f"docs/{page}: the last column of {row[:60]} names no JSON key"
        unknown = set(named) - keys[script.group(1)]
        assert not unknown, f"docs/{page}: {sorted(unknown)} are not keys bench/{script.group(1)} documents"
    if page == "benchmarks.md":
        quoted = {re.match(r"\| `bench/([\w]+\.py)", row).group(1) for row in rows}  # type: ignore[union-attr]
        assert set(keys) <= quoted, f"docs/benchmarks.md has no figure of {sorted(set(keys) - quoted)}"


def test_changelog_has_an_unreleased_section_and_no_fixes_of_unreleased_code() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog
    released = re.findall(r"^## \[\d", changelog, re.MULTILINE)
    if not released:
        # Nothing was ever released, so nothing released was fixed: a fix belongs in its feature's entry.
        assert "### Fixed" not in changelog
