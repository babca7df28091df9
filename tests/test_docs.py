"""The README documents every command, option and exit code; the configuration reference
(docs/configuration.md, linked from the README) every key with its default and an example.

The lists come from Herald itself: the click command tree, walked with its groups, and
`bot.config.known_keys()`. A command, option or key added without its documentation, or
documentation left behind for one that is gone, fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import EXIT_CODES, main
from bot.templates import FIELDS
from bot.config import known_keys, parse_config
from bot.config_accounts import PLATFORM_OPTIONS
from bot.content.control import KEYS as HERALD_BLOCK_KEYS
from bot.digest import HEADER_FIELDS, LINE_FIELDS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
REFERENCE_PATH = "docs/configuration.md"
REFERENCE = (ROOT / REFERENCE_PATH).read_text(encoding="utf-8")
EXAMPLE_CONFIG = (ROOT / "config.example.toml").read_text(encoding="utf-8")

KEY_ROW = re.compile(r"^\| `([^`]+)` \| (.*?) \| (.*?) \| (.*?) \|$", re.MULTILINE)
"""A row of the reference's key tables: key, default, example, what it does."""
OPTION_ROW = re.compile(r"^\| `(-[^` ]+)[ `]", re.MULTILINE)
"""A row of an options table: the option first, in backticks (`--now TIME`)."""
PLACEHOLDERS = {"<name>": "announcement", "<lang>": "sv"}
"""What a name of your choice stands for when an example is tried (a template, a language)."""


def command_tree(group: click.Group, path: tuple[str, ...] = ()):
    """Yield (path, command) for every command under `group`, groups and subcommands alike."""
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from command_tree(command, (*path, name))


COMMANDS = dict(command_tree(main))


def options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def names(option: click.Option) -> list[str]:
    return [*option.opts, *option.secondary_opts]


def help_names(command: click.Command) -> set[str]:
    return set(command.get_help_option_names(click.Context(command)))


def every_option_name(command: click.Command) -> set[str]:
    return {n for o in options(command) for n in names(o)} | help_names(command)


COMMON = set.intersection(*(every_option_name(c) for c in COMMANDS.values()))
"""Options every command takes (--config, --site, --verbose, --help): documented once."""
TOP_LEVEL = every_option_name(main)


def section(text: str, heading: str) -> str:
    """The part of `text` under the heading line starting with `heading`, up to the next
    heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines)
              if line.startswith(heading) and line[len(heading):][:1] in ("", " ", "`")]
    assert len(starts) == 1, f"expected one heading starting {heading!r}, found {len(starts)}"
    out = [lines[starts[0]]]
    for line in lines[starts[0] + 1:]:
        hashes = len(line) - len(line.lstrip("#"))
        if 0 < hashes <= level and line[hashes:hashes + 1] == " ":
            break
        out.append(line)
    return "\n".join(out)


def outside_code(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


COMMANDS_SECTION = outside_code(section(README, "## Commands"))
COMMANDS_INTRO = COMMANDS_SECTION.split("\n### ", 1)[0]


def command_section(path: tuple[str, ...]) -> str:
    return outside_code(section(README, f"### `herald {' '.join(path)}"))


# --- commands and options -------------------------------------------------------------------

def test_the_command_tree_is_walked_whole():
    assert {"preview", "validate", "run", "status", "history", "announce", "post", "auth",
            "check"} <= {" ".join(path) for path in COMMANDS}


def test_the_walk_reaches_the_subcommands_of_a_group():
    root = click.Group("root")
    group = click.Group("ledger")
    group.add_command(click.Command("vacuum"))
    root.add_command(group)
    root.add_command(click.Command("run"))
    assert list(command_tree(root)) == [(("ledger",), group),
                                        (("ledger", "vacuum"), group.commands["vacuum"]),
                                        (("run",), root.commands["run"])]


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_is_in_the_readme_command_table(path):
    assert f"| `herald {' '.join(path)}" in COMMANDS_INTRO


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_a_section_in_the_readme_naming_its_arguments(path):
    heading = command_section(path).splitlines()[0]
    for param in COMMANDS[path].params:
        if isinstance(param, click.Argument):
            assert param.human_readable_name in heading, (heading, param.human_readable_name)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_option_of_a_command_has_a_row_in_its_readme_section(path):
    documented = set(OPTION_ROW.findall(command_section(path)))
    for option in options(COMMANDS[path]):
        for name in names(option):
            if name not in COMMON:
                assert name in documented, f"herald {' '.join(path)} {name} is not documented"


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_option_a_command_section_documents_exists(path):
    for name in OPTION_ROW.findall(command_section(path)):
        assert name in every_option_name(COMMANDS[path]), f"herald {' '.join(path)} has no {name}"


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_choice_a_command_takes_is_named_in_its_section(path):
    text = command_section(path)
    for param in COMMANDS[path].params:
        if isinstance(param.type, click.Choice):
            for choice in param.type.choices:
                assert f"`{choice}`" in text, (param.name, choice)


def test_the_options_every_command_takes_and_herald_s_own_are_documented_once():
    documented = set(OPTION_ROW.findall(COMMANDS_INTRO))
    assert {"--config", "--site", "--verbose", "--help"} <= COMMON
    assert COMMON | TOP_LEVEL <= documented


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_help_with_a_summary(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert COMMANDS[path].get_short_help_str().strip()


def test_the_readme_and_help_list_the_same_exit_codes():
    in_help = set(re.findall(r"^\s+(\d+)\s", EXIT_CODES, re.MULTILINE))
    in_readme = set(re.findall(r"^\| (\d+) \|", README, re.MULTILINE))
    assert in_help == in_readme == {*(str(n) for n in range(7)), "141"}
    assert "Exit codes:" in CliRunner().invoke(main, ["--help"]).output


# --- configuration keys ---------------------------------------------------------------------

ROWS = {key: (default, example, meaning) for key, default, example, meaning
        in KEY_ROW.findall(REFERENCE)}


def test_the_readme_links_the_configuration_reference():
    assert f"]({REFERENCE_PATH})" in README


@pytest.mark.parametrize("key", known_keys())
def test_every_config_key_has_a_row_with_its_default_an_example_and_what_it_does(key):
    assert key in ROWS, f"{key} is not documented in {REFERENCE_PATH}"
    default, example, meaning = (cell.strip() for cell in ROWS[key])
    assert default and example.startswith("`") and example.endswith("`") and meaning


def test_the_reference_documents_no_key_herald_does_not_take():
    assert set(ROWS) <= set(known_keys())


def example_data(key: str, example: str) -> dict:
    """The configuration that sets `key` as its row's example does (`name = value`)."""
    setting = tomllib.loads(example.strip().strip("`"))
    parts = key.split(".")
    leaf = parts[-1]
    if not leaf.startswith("<"):
        assert list(setting) == [leaf.removeprefix("[]")], (key, example)
    if parts[0] == "stages[]":
        return {"stages": [{"name": "extra", **setting}]}
    if parts[0] == "digests[]":
        return {"digests": [{"name": "weekly", "every": "monday 09:00", **setting}]}
    if parts[0] == "accounts":
        platform = next((p for p, taken in PLATFORM_OPTIONS.items() if leaf in taken),
                        "mastodon")
        account = {"platform": platform}
        if platform == "mastodon":
            account["instance"] = "https://mastodon.social"
        return {"accounts": {"example": {**account, **setting}}}
    data: dict = setting
    for part in reversed([PLACEHOLDERS.get(p, p) for p in parts[:-1]]):
        data = {part: data}
    return data


@pytest.mark.parametrize("key", sorted(ROWS))
def test_every_example_in_the_reference_is_a_valid_setting_of_its_key(key, tmp_path):
    parse_config(example_data(key, ROWS[key][1]), base=tmp_path)


@pytest.mark.parametrize("where, text", [("README.md", README), (REFERENCE_PATH, REFERENCE)])
def test_every_toml_example_in_the_docs_is_a_valid_configuration(where, text, tmp_path):
    blocks = re.findall(r"^ *```toml\n(.*?)^ *```", text, re.MULTILINE | re.DOTALL)
    assert blocks, where
    for block in blocks:
        parse_config(tomllib.loads(re.sub(r"^ +", "", block, flags=re.MULTILINE)),
                     base=tmp_path)


@pytest.mark.parametrize("key", known_keys())
def test_config_example_toml_shows_every_key(key):
    # a part that is a name of your choice (<name>) is shown by the table holding it
    leaf = [p for p in key.split(".") if not p.startswith("<")][-1].removesuffix("[]")
    word = re.escape(leaf)
    assert re.search(rf"^[#\s]*({word}\s*=|\[+[^\]]*\b{word}\b[^\]]*\]+)", EXAMPLE_CONFIG,
                     re.MULTILINE), key


@pytest.mark.parametrize("field", FIELDS)
def test_every_template_field_is_documented(field):
    assert f"| `{{{field}}}` |" in REFERENCE


@pytest.mark.parametrize("key, fields", [("header", HEADER_FIELDS), ("line", LINE_FIELDS)])
def test_every_digest_text_field_is_documented(key, fields):
    meaning = ROWS[f"templates.digest.<lang>.{key}"][2]
    for field in fields:
        assert f"`{{{field}}}`" in meaning


@pytest.mark.parametrize("key", HERALD_BLOCK_KEYS)
def test_every_key_of_an_events_herald_block_is_documented(key):
    text = section(README, "### `herald:`:")
    assert re.search(rf"(^|\s){key}:|`{key}`", text, re.MULTILINE), key


# --- what the docs say about the docs -------------------------------------------------------

def test_the_docs_describe_herald_not_how_it_was_made():
    for text in (README, REFERENCE):
        for word in ("issue", "session of", "helper", "assistant"):
            assert word not in text.lower(), word
