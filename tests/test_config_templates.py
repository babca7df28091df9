"""Templates hold plain fields only; anything else is refused when the config is loaded."""

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import parse_config
from bot.errors import ConfigError

SAMPLE = Path(__file__).resolve().parents[1] / "content"


@pytest.mark.parametrize("template", [
    "{title:d}", "{title:>99999999}", "{title:{excerpt}}", "{title!r}", "{title!s}",
    "{title.__class__}", "{title.__class__.__mro__}", "{title[0]}", "{link[-1]}",
])
def test_a_field_with_a_format_conversion_attribute_or_index_is_refused_at_load(template):
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        parse_config({"templates": {"announcement": {"sv": f"Hej\n{template}\n{{link}}"}}},
                     base=SAMPLE)
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert message.startswith(f"templates.announcement.sv: {template}: only the plain field {{")
    assert "\n" not in message


@pytest.mark.parametrize("template, shown", [
    ("{}", "unknown template field {}"), ("{0}", "unknown template field {0}"),
    ("{titel}", "unknown template field {titel}"),
    ("{title", "expected '}' before end of string"),
    ("50% } off", "Single '}' encountered"),
])
def test_a_template_that_is_no_template_names_its_key(template, shown):
    with pytest.raises(ConfigError) as caught:
        parse_config({"templates": {"reminder": {"en": template}}}, base=SAMPLE)
    assert str(caught.value).startswith("templates.reminder.en: ")
    assert shown in str(caught.value)


def test_plain_fields_and_doubled_braces_are_fine():
    config = parse_config({"templates": {"announcement": {
        "sv": "{{Nytt}} {title}\n{excerpt}\n{when} · {date} {time} ({relative})\n{place}\n"
              "{link}\n{hashtags}"}}}, base=SAMPLE)
    assert config.templates["announcement"]["sv"].startswith("{{Nytt}} {title}")


def test_an_empty_template_is_refused():
    with pytest.raises(ConfigError, match=r"^templates\.announcement\.en: expected a non-empty"):
        parse_config({"templates": {"announcement": {"en": "  \n"}}}, base=SAMPLE)


def test_a_refused_template_field_shows_no_control_characters():
    with pytest.raises(ConfigError) as caught:
        parse_config({"templates": {"announcement": {"en": "{\x1b[31m}"}}}, base=SAMPLE)
    assert "\x1b" not in str(caught.value)


@pytest.mark.parametrize("command", ["validate", "preview", "status"])
def test_every_command_refuses_a_format_spec_in_one_line(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = tmp_path / "herald.toml"
    path.write_text(f'[site]\npath = "{SAMPLE}"\n[templates.announcement]\n'
                    f'sv = "{{title:>99999999}}"\n', encoding="utf-8")
    result = CliRunner().invoke(main, [command, "--config", str(path)])
    assert result.exit_code == 3
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"Error: {path}: templates.announcement.sv: "
                                    "{title:>99999999}: only the plain field {title}")
