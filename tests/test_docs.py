"""The README documents every command and option a user can type, and the exit codes."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import EXIT_CODES, main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_is_in_the_readme_command_table(name):
    assert f"| `herald {name}" in README


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help_with_a_summary(name):
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    assert main.commands[name].get_short_help_str().strip()


def test_the_readme_and_help_list_the_same_exit_codes():
    in_help = set(re.findall(r"^\s+(\d)\s", EXIT_CODES, re.MULTILINE))
    in_readme = set(re.findall(r"^\| (\d) \|", README, re.MULTILINE))
    assert in_help == in_readme == {str(n) for n in range(7)}
    assert "Exit codes:" in CliRunner().invoke(main, ["--help"]).output
