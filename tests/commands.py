"""Helpers for command tests: run `scrape` in-process with click's CliRunner, read its one error line."""

from __future__ import annotations

from click.testing import CliRunner, Result

from scraper.cli import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]
