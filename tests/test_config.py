"""Every key of the configuration is checked when it is loaded: one line naming the key, exit 3."""

import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import load_config, parse_config
from bot.errors import ConfigError, UsageError
from tests.auth_hints import hinted_auth

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "content"
EXAMPLE = ROOT / "config.example.toml"

ACCOUNTS = {
    "masto": {"platform": "mastodon", "instance": "https://social.example"},
    "birdsite": {"platform": "x"},
    "sky": {"platform": "bluesky"},
}


def config_error(data: dict) -> str:
    """Parse `data` and return the one-line message of the ConfigError it raises."""
    with pytest.raises(ConfigError) as caught:
        parse_config(data, base=SAMPLE)
    message = str(caught.value)
    assert "\n" not in message
    return message


def with_account(**options) -> dict:
    return {"accounts": {**ACCOUNTS, "masto": {**ACCOUNTS["masto"], **options}}}


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Run `herald` on a config text written to a file; stderr and stdout together."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HERALD_CONFIG", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def run(text: str, *args: str):
        path = tmp_path / "herald.toml"
        path.write_text(text + f'\n[site]\npath = "{SAMPLE}"\n', encoding="utf-8")
        return CliRunner().invoke(main, [*args, "--config", str(path)])

    return run


# --- durations --------------------------------------------------------------------------------

@pytest.mark.parametrize("grace, shown", [
    ('"9999999999d"', "9999999999d"), ("nan", "nan"), ("inf", "inf"), ("-inf", "-inf"),
    ("1e300", "1e+300"), ('"' + "9" * 5000 + 'h"', "999"),
])
def test_an_endless_or_impossible_grace_is_one_line_naming_the_key_in_every_command(
        cli, grace, shown):
    for command in ("validate", "preview", "status", "history"):
        result = cli(f"grace = {grace}\n", command)
        assert result.exit_code == 3, result.output
        line = result.output.strip()
        assert "\n" not in line and line.startswith("Error: ") and "grace" in line
        assert shown in line and "Traceback" not in line


def test_grace_says_its_maximum():
    assert "at most 30 days" in config_error({"grace": "31d"})
    assert parse_config({"grace": "30d"}, base=SAMPLE).grace == timedelta(days=30)


@pytest.mark.parametrize("grace", ['"-2h"', "-5", "-0.5"])
def test_a_negative_grace_is_refused(cli, grace):
    result = cli(f"grace = {grace}\n", "validate")
    assert result.exit_code == 3
    assert "grace" in result.output and "negative" in result.output


def test_a_stage_a_million_days_before_the_event_is_refused_in_preview(cli):
    result = cli('[[stages]]\nname = "announcement"\nbefore = "999999999d"\n', "preview")
    assert result.exit_code == 3
    assert result.output.strip().startswith("Error: ")
    assert "stages[0].before" in result.output and "at most 366 days" in result.output


@pytest.mark.parametrize("before", ['"-1d"', "-60", '"0h"', "0"])
def test_a_stage_at_or_after_the_start_is_refused(before):
    message = config_error({"stages": [{"name": "late", "kind": "reminder",
                                        "before": _toml_value(before)}]})
    assert message.startswith("stages[0].before: ")


def _toml_value(text: str):
    import tomllib

    return tomllib.loads(f"v = {text}")["v"]


@pytest.mark.parametrize("gap, ok", [("0s", True), ("1d", True), ("25h", False),
                                     ("-5m", False), (float("nan"), False)])
def test_min_gap_lies_between_nothing_and_a_day(gap, ok):
    data = with_account(min_gap=gap)
    if ok:
        parse_config(data, base=SAMPLE)
    else:
        assert config_error(data).startswith("accounts.masto.min_gap: ")


# --- account options --------------------------------------------------------------------------

def test_a_typo_in_an_account_option_suggests_the_right_key(cli):
    result = cli('[accounts.masto]\nplatform = "mastodon"\ninstance = "https://a.example"\n'
                 'quiet_hour = "22:00-08:00"\n', "validate")
    assert result.exit_code == 3
    line = result.output.strip()
    assert line.startswith("Error: ") and "herald.toml: " in line and "\n" not in line
    assert line.endswith(": accounts.masto.quiet_hour: unknown key; did you mean 'quiet_hours'?")


def test_an_option_another_platform_takes_names_that_platform():
    message = config_error(with_account(link_card=True))
    assert message == ("accounts.masto.link_card: not an option of mastodon accounts "
                       "(bluesky accounts take it)")


@pytest.mark.parametrize("key, value", [
    ("daily_cap", 0), ("daily_cap", "5"), ("daily_cap", True), ("daily_cap", 2.5),
    ("min_gap", "5 parsecs"), ("quiet_hours", "22-08"), ("quiet_hours", "25:00-08:00"),
    ("quiet_hours", 22), ("visibility", "everyone"), ("on_cancel", "erase"),
    ("instance", 5), ("instance", "ftp://social.example"), ("instance", ""),
    ("languages", []), ("languages", ["sv", "sv"]), ("languages", "sv"),
    ("request_timeout", 0), ("request_timeout", "0s"), ("request_timeout", 0.5),
    ("request_timeout", "10m"), ("request_timeout", "soon"), ("request_timeout", True),
    ("request_timeout", -5), ("request_timeout", float("nan")), ("request_timeout", 1e300),
])
def test_a_bad_account_option_is_refused_at_load_naming_it(key, value):
    assert config_error(with_account(**{key: value})).startswith(f"accounts.masto.{key}: ")


@pytest.mark.parametrize("platform, key, value", [
    ("x", "api_url", "ftp://proxy"), ("x", "api_url", "https://proxy.example/v2/x"),
    ("bluesky", "service", "bsky.social"), ("bluesky", "link_card", "yes"),
])
def test_each_platforms_own_options_are_checked_at_load(platform, key, value):
    name = {"x": "birdsite", "bluesky": "sky"}[platform]
    data = {"accounts": {**ACCOUNTS, name: {"platform": platform, key: value}}}
    assert config_error(data).startswith(f"accounts.{name}.{key}: ")


@pytest.mark.parametrize("option", ['daily_cap = 0', 'min_gap = "soon"', 'visibility = "all"',
                                    'on_cancel = "erase"', 'quiet_hours = "night"'])
@pytest.mark.parametrize("command", ["validate", "preview"])
def test_validate_and_preview_refuse_what_run_and_check_would(cli, option, command):
    result = cli(f'[accounts.masto]\nplatform = "mastodon"\ninstance = "https://a.example"\n'
                 f'{option}\n', command)
    assert result.exit_code == 3
    assert f"accounts.masto.{option.split()[0]}: " in result.output


def test_a_mastodon_account_without_an_instance_is_refused_at_load():
    data = {"accounts": {"masto": {"platform": "mastodon"}}}
    assert config_error(data).startswith("accounts.masto.instance: missing")


def test_a_misspelt_platform_gets_a_suggestion():
    data = {"accounts": {"masto": {"platform": "mastadon", "instance": "https://a.example"}}}
    assert "did you mean 'mastodon'?" in config_error(data)


@pytest.mark.parametrize("name", ["my account", "ma\nsto", "", "a" * 65, "ünïcode"])
def test_an_account_name_that_cannot_name_its_credentials_is_refused(name):
    data = {"accounts": {name: {"platform": "x"}}}
    assert "account name" in config_error(data)


def test_two_account_names_that_share_credential_variables_are_refused():
    data = {"accounts": {"my-x": {"platform": "x"}, "MY_X": {"platform": "x"}}}
    message = config_error(data)
    assert "accounts.MY_X" in message and "HERALD_MY_X_" in message


def test_a_credential_in_the_config_is_refused_saying_how_to_store_it_instead():
    data = {"accounts": {"kansli-x": {"platform": "x", "api_key": "xk-1a2b3c4d5e"}}}
    message = config_error(data)
    assert "credentials do not belong in the config file" in message
    assert "xk-1a2b3c4d5e" not in message
    assert hinted_auth(message) == ("x", "kansli-x")


def test_an_account_posts_in_the_sites_languages_by_default():
    config = parse_config({"site": {"languages": ["en"], "default_lang": "en"},
                           "accounts": {"x": {"platform": "x"}}}, base=SAMPLE)
    assert config.account("x").languages == ("en",)


def test_an_unknown_account_asked_for_on_the_command_line_is_a_usage_error():
    config = parse_config({"accounts": ACCOUNTS}, base=SAMPLE)
    with pytest.raises(UsageError, match="unknown account 'mastodon'; did you mean 'masto'?"):
        config.account("mastodon")


# --- languages --------------------------------------------------------------------------------

@pytest.mark.parametrize("site, key", [
    ({"languages": []}, "site.languages"),
    ({"languages": ["sv", "xx"]}, "site.languages"),
    ({"languages": ["sv", "SV"]}, "site.languages"),
    ({"languages": ["sv", "en"], "default_lang": "de"}, "site.default_lang"),
    ({"default_lang": "e n"}, "site.default_lang"),
])
def test_empty_or_unknown_languages_are_configuration_errors(site, key):
    assert config_error({"site": site}).startswith(f"{key}: ")


def test_an_account_language_the_site_does_not_have_is_refused():
    message = config_error(with_account(languages=["sv", "de"]))
    assert message == ("accounts.masto.languages: 'de' is not one of the site's languages "
                       "(sv, en)")


# --- files --------------------------------------------------------------------------------------

def test_a_config_with_a_utf8_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + f'grace = "3h"\n[site]\npath = "{SAMPLE}"\n'.encode())
    assert load_config(path).grace == timedelta(hours=3)


def test_a_config_error_names_the_file(tmp_path):
    path = tmp_path / "herald.toml"
    path.write_text('grace = "later"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (f"{path.resolve()}: grace: expected a duration such as "
                                 f"'2h' or '14d', got 'later'")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_config_that_is_a_fifo_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "herald.toml"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(fifo)
    assert time.monotonic() - started < 5


def test_a_huge_config_file_is_refused(tmp_path):
    path = tmp_path / "herald.toml"
    path.write_text("# " + "x" * 2_000_000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="too large"):
        load_config(path)


def test_deeply_nested_toml_is_one_line(tmp_path):
    path = tmp_path / "herald.toml"
    path.write_text("grace = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(path)


@pytest.mark.parametrize("key", ["ledger", "secrets"])
def test_a_path_with_a_nul_byte_is_refused(key):
    assert config_error({key: "led\x00ger"}).startswith(f"{key}: ")


def test_a_site_path_with_a_nul_byte_is_refused():
    assert config_error({"site": {"path": "con\x00tent"}}).startswith("site.path: ")


@pytest.mark.parametrize("zone", ["../../etc/passwd", "Europe/" + "x" * 5000, "Nowhere/Land",
                                  "Europe/Stock\x00holm"])
def test_a_time_zone_that_is_no_zone_is_refused(zone):
    assert config_error({"site": {"timezone": zone}}).startswith("site.timezone: ")


# --- unknown keys and the example ---------------------------------------------------------------

@pytest.mark.parametrize("data, key", [
    ({"grase": "2h"}, "grase: unknown key; did you mean 'grace'?"),
    ({"acounts": {}}, "acounts: unknown key; did you mean 'accounts'?"),
    ({"site": {"timezon": "UTC"}}, "site.timezon: unknown key; did you mean 'timezone'?"),
    ({"images": {"max_egde": 100}}, "images.max_egde: unknown key; did you mean 'max_edge'?"),
    ({"stages": [{"name": "a"}, {"name": "b", "befor": "1d"}]},
     "stages[1].befor: unknown key; did you mean 'before'?"),
    ({"site": {"uploads": {"/uploads/": 5}}},
     'site.uploads."/uploads/": expected a folder in the site, got 5'),
    ({"templates": {"anouncement": {"sv": "{title}"}}},
     "templates.anouncement: no stage or Herald post uses this template; did you mean "
     "'announcement'?"),
    ({"templates": {"announcement": {"de": "{title}"}}},
     "templates.announcement.de: 'de' is not one of the site's languages (sv, en)"),
    ({"accounts": {"my acc": {"platform": "x"}}}, 'accounts."my acc": '),
])
def test_unknown_keys_are_refused_with_their_full_dotted_name(data, key):
    assert config_error(data).startswith(key)


def test_a_stage_template_that_names_no_template_is_refused():
    message = config_error({"stages": [{"name": "announcement"},
                                       {"name": "r", "before": "1d", "template": "remnder"}]})
    assert message.startswith("stages[1].template: no template named 'remnder'; "
                              "did you mean 'reminder'?")


@pytest.mark.parametrize("name", ["correction", "cancellation"])
def test_a_stage_named_like_heralds_own_posts_about_changes_is_refused_at_load(name):
    message = config_error({"stages": [{"name": name}]})
    assert message.startswith(f"stages[0].name: '{name}' is the name of Herald's own posts")


def test_every_table_and_key_of_the_example_config_is_accepted_when_uncommented(tmp_path):
    lines, in_string = [], False
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if in_string:                       # the rest of a commented multi-line template
            line = re.sub(r"^# ?", "", line)
            in_string = '"""' not in line
        elif found := re.match(r"^# (\[\[?[\w.]+\]\]?\s*(?:#.*)?|[a-z_]+ = .*)$", line):
            line = found.group(1)
            in_string = line.count('"""') == 1
        lines.append(line)
    opened = "\n".join(lines) + "\n"
    path = tmp_path / "all.toml"
    path.write_text(opened.replace('path = "content"', f'path = "{SAMPLE}"'), encoding="utf-8")
    config = load_config(path)
    assert "announcement" in config.templates
    assert config.account("mastodon").options["on_cancel"] == "reply"
    assert config.account("bluesky").options["link_card"] is True
    assert config.digests[0].texts["sv"].header == "Kommande evenemang {dates}"


def test_known_keys_lists_every_key_the_example_config_shows():
    from bot.config import known_keys

    keys = known_keys()
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "accounts.<name>.quiet_hours" in keys and "stages[].before" in keys
    for key in keys:
        leaf = re.split(r"[.\]]", key)[-1]
        if leaf.startswith("<"):
            continue
        assert re.search(rf"^#? ?{re.escape(leaf)} = ", text, re.MULTILINE), key


def test_the_config_knows_the_same_choices_as_the_code_that_acts_on_them():
    from bot import changes, runner
    from bot.config_accounts import CANCEL_MODES, VISIBILITIES
    from bot.config import CHANGE_TEMPLATES, RESERVED_STAGES
    from bot.platforms import mastodon

    assert VISIBILITIES == mastodon.VISIBILITIES
    assert CANCEL_MODES == runner.CANCEL_MODES
    assert set(CHANGE_TEMPLATES) == set(changes.CHANGE_TEMPLATES)
    assert set(RESERVED_STAGES) == set(changes.CHANGE_STAGES)


def test_request_timeout_reaches_each_adapter_and_times_the_lookup_of_a_post_in_doubt(
        tmp_path, monkeypatch):
    from datetime import datetime, timezone

    from bot import app
    from bot.lifecycle import State, lookup_after
    from tests.fakes.mastodon import FakeMastodon

    with FakeMastodon() as masto:
        config = parse_config({
            "secrets": str(tmp_path / "secrets.toml"),
            "accounts": {"masto": {"platform": "mastodon", "instance": masto.url,
                                   "request_timeout": "2s"},
                         "birdsite": {"platform": "x", "request_timeout": 2.5},
                         "sky": {"platform": "bluesky"}}}, base=SAMPLE)
        monkeypatch.setenv("HERALD_MASTO_ACCESS_TOKEN", masto.token)
        built = {a.name: app.build_publisher(a, config).limits() for a in config.accounts}
    declared = {a.name: app.declared_limits(a, config) for a in config.accounts}
    expected = {"masto": 2.0, "birdsite": 2.5, "sky": 30.0}
    assert {name: limits.request_timeout for name, limits in built.items()} == expected
    assert {name: limits.request_timeout for name, limits in declared.items()} == expected
    failed = datetime(2027, 4, 1, 12, tzinfo=timezone.utc)        # X cannot tell a repeat
    assert lookup_after(State.UNCERTAIN, failed_at=failed, reserved_at=None,
                        limits=built["birdsite"]) == failed + timedelta(seconds=2.5)
