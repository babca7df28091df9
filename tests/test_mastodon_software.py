"""A Mastodon account's `software` option: preview, which asks no server, counts the way the
account's server enforces, and posting warns when the server runs something else."""

from __future__ import annotations

import json
import logging
import re

import pytest
from click.testing import CliRunner

from bot import config_accounts
from bot.app import declared_limits
from bot.cli import main
from bot.config import load_config
from bot.counting import length
from bot.errors import ConfigError
from bot.model import Account
from bot.platforms.mastodon import SERVER_RULES, MastodonPublisher
from tests.conftest import site_copy, write_config
from tests.fakes.mastodon import FakeMastodon

EVENT = "varmote-2027"
# A long link: GoToSocial counts it in full, Mastodon as 23 characters.
PERMALINK = ("https://civictech.se/evenemang/2027/varmote-civic-tech-stockholm-projektvisningar-"
             "oppna-data-och-planering-av-varens-hackdagar-for-alla/")
EXCERPT = ("Vi träffas för att visa projekt, prata öppna data och planera vårens hackdagar. "
           "Alla är välkomna, oavsett om du kodar, designar eller bara är nyfiken på hur teknik "
           "kan göra samhället bättre. Vi börjar med korta presentationer av projekt som pågår "
           "i Stockholm, Göteborg och Malmö, fortsätter med en öppen diskussion om vilka data "
           "kommuner och myndigheter borde släppa fritt, och avslutar med att bilda grupper "
           "inför hackdagarna i maj. Ta med en idé, en dator eller bara din nyfikenhet; fika "
           "finns, och lokalen är tillgänglig för rullstol.")


@pytest.fixture
def gotosocial():
    with FakeMastodon(software="gotosocial") as server:
        yield server


def herald_config(tmp_path, monkeypatch, server: FakeMastodon, software: str | None):
    """A config whose only posting account is on `server`, for a site with a long post."""
    site, _ = site_copy(tmp_path / "site")
    (site / "_events" / "2027-04-15-spring-meetup-civic-tech-en.md").unlink()
    for path in (site / "_events").glob("2027-04-15-varmote*.md"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^excerpt: .*$", f'excerpt: "{EXCERPT}"', text, flags=re.M)
        path.write_text(text.replace("ref: varmote-2027\n",
                                     f"ref: varmote-2027\npermalink: \"{PERMALINK}\"\n"),
                        encoding="utf-8")
    state = tmp_path / "state"
    state.mkdir()
    config = write_config(tmp_path / "herald.toml", mastodon=server.url, x="http://127.0.0.1:9",
                          bluesky="http://127.0.0.1:9", site=site, state=state)
    if software is not None:
        config.write_text(config.read_text(encoding="utf-8").replace(
            f'instance = "{server.url}"\n', f'instance = "{server.url}"\nsoftware = "{software}"\n'),
            encoding="utf-8")
    monkeypatch.setenv("HERALD_MASTODON_ACCESS_TOKEN", server.token)
    return config


def preview(config) -> list[dict]:
    result = CliRunner().invoke(main, ["preview", "--config", str(config), "--event", EVENT,
                                       "--account", "mastodon", "--json"])
    assert result.exit_code == 0, result.output
    posts = json.loads(result.output)["posts"]
    assert {p["lang"] for p in posts} == {"sv"}
    return posts


def test_preview_counts_a_gotosocial_accounts_text_in_code_points_with_links_in_full(
        tmp_path, monkeypatch, gotosocial):
    config = herald_config(tmp_path, monkeypatch, gotosocial, "gotosocial")

    posts = preview(config)

    for post in posts:
        assert post["length"] == len(post["text"]) <= post["limit"] == 500
        assert PERMALINK in post["text"]
    result = CliRunner().invoke(main, ["announce", EVENT, "--config", str(config),
                                       "--account", "mastodon"])
    assert result.exit_code == 0, result.output
    announcement = next(p for p in posts if p["stage"] == "announcement")
    assert [s["text"] for s in gotosocial.status_list()] == [announcement["text"]]


def test_without_the_option_preview_counts_the_mastodon_way_which_gotosocial_would_refuse(
        tmp_path, monkeypatch, gotosocial):
    config = herald_config(tmp_path, monkeypatch, gotosocial, None)

    [announcement, *_] = preview(config)

    assert announcement["length"] <= 500 < len(announcement["text"])


def test_posting_counts_the_servers_way_and_warns_once_when_software_names_another(
        tmp_path, monkeypatch, gotosocial, caplog):
    config = herald_config(tmp_path, monkeypatch, gotosocial, None)
    caplog.set_level(logging.WARNING, logger="bot")

    result = CliRunner().invoke(main, ["announce", EVENT, "--config", str(config),
                                       "--account", "mastodon"])

    assert result.exit_code == 0, result.output
    [status] = gotosocial.status_list()
    assert len(status["text"]) <= 500 and PERMALINK in status["text"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    host = gotosocial.url.split("://")[1]
    assert warnings == [f"mastodon: {host} is GoToSocial, not Mastodon as "
                        f"accounts.mastodon.software assumes when it is not set; posting counts "
                        f"the way the server does, and preview will too once "
                        f"software = \"gotosocial\""]


@pytest.mark.parametrize("software, server, warned", [
    ("gotosocial", "gotosocial", False),
    ("mastodon", "gotosocial", True),
    ("gotosocial", "mastodon", True),
    ("other", "mastodon", True),
])
def test_the_instances_answer_decides_how_posting_counts(software, server, warned, caplog):
    caplog.set_level(logging.WARNING, logger="bot")
    with FakeMastodon(software=server) as fake:
        account = Account("masto", "mastodon", ("sv",),
                          {"instance": fake.url, "software": software})
        publisher = MastodonPublisher(account, {"access_token": fake.token}, timeout=5)
        limits = publisher.limits()
        publisher.limits()

    assert limits.counting == SERVER_RULES[server][0]
    assert limits.idempotent is (server == "mastodon")
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == (1 if warned else 0)
    assert all(m.startswith("masto: ") and "accounts.masto.software says" in m for m in said)


@pytest.mark.parametrize("software, counting, idempotent", [
    ("mastodon", "mastodon", True),
    ("gotosocial", "codepoints", False),
    ("other", "strictest", False),
])
def test_declared_limits_follow_the_software_option(tmp_path, software, counting, idempotent):
    path = tmp_path / "herald.toml"
    path.write_text(f'[site]\npath = "{tmp_path}"\nurl = "https://civictech.se"\n'
                    f'[accounts.masto]\nplatform = "mastodon"\ninstance = "social.example"\n'
                    f'software = "{software}"\n', encoding="utf-8")
    config = load_config(path)
    limits = declared_limits(config.account("masto"), config)

    assert (limits.counting, limits.idempotent, limits.max_chars) == (counting, idempotent, 500)
    text = "Hej " + PERMALINK
    assert length(text, limits) == {"mastodon": 4 + 23, "codepoints": len(text),
                                   "strictest": len(text)}[counting]


def test_an_unknown_software_is_refused_at_load_naming_the_option(tmp_path):
    path = tmp_path / "herald.toml"
    path.write_text(f'[site]\npath = "{tmp_path}"\nurl = "https://civictech.se"\n'
                    f'[accounts.masto]\nplatform = "mastodon"\ninstance = "social.example"\n'
                    f'software = "pleroma"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (f"{path}: accounts.masto.software: expected one of mastodon, "
                                 f"gotosocial, other, got 'pleroma'")


def test_software_is_a_mastodon_option_only(tmp_path):
    path = tmp_path / "herald.toml"
    path.write_text(f'[site]\npath = "{tmp_path}"\nurl = "https://civictech.se"\n'
                    f'[accounts.x]\nplatform = "x"\nsoftware = "gotosocial"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"accounts\.x\.software: not an option of x accounts"):
        load_config(path)


def test_the_options_values_are_the_server_kinds_the_adapter_knows():
    assert set(config_accounts.SOFTWARE) == set(SERVER_RULES)
