"""Digests posted by the service on the three fake platforms, with real civictech.se events and
an injected clock: once per period across restarts, threaded when too long, as preview said."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot import app
from bot.cli import main
from bot.config import load_config
from bot.content import load_site
from bot.ledger import Ledger
from bot.localize import format_short_when
from bot.runner import Runner
from bot.status import build_status
from tests.conftest import FIXTURES, write_config

ZONE = ZoneInfo("Europe/Stockholm")

DIGESTS = """
[[stages]]
name = "announcement"
kind = "announcement"

[[digests]]
name = "weekly"
every = "monday 09:00"
window = "7d"

[[digests]]
name = "monthly"
every = "day 1 09:00"
"""


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2020, month, day, hour, minute, tzinfo=ZONE)


class Service:
    """`herald run` over the fake platforms with a clock the test moves; restartable."""

    def __init__(self, platforms, tmp_path: Path, extra: str = DIGESTS):
        self.platforms = platforms
        self.config_path = write_config(
            tmp_path / "digests.toml", mastodon=platforms.mastodon.url, x=platforms.x.url,
            bluesky=platforms.bluesky.url, site=FIXTURES, state=tmp_path / "state",
            extra=extra)
        (tmp_path / "state").mkdir(exist_ok=True)
        self.config = load_config(self.config_path)
        self.site = load_site(self.config.site)
        self.now = at(9, 30, 12)
        self.ledger: Ledger | None = None
        self.runner: Runner | None = None
        self.restart()

    def restart(self, should_stop=lambda: False) -> None:
        """Stop and start again: a new runner, new publishers, the same ledger file."""
        if self.ledger is not None:
            self.ledger.close()
        self.ledger = Ledger.open(app.ledger_path(self.config))
        publishers = {a.name: app.build_publisher(a, self.config) for a in self.config.accounts}
        self.runner = Runner(self.config, self.ledger, publishers, random=lambda: 0.5,
                             clock=lambda: self.now, parallel=False, should_stop=should_stop)

    def run_until(self, end: datetime) -> None:
        for _ in range(500):
            report = self.runner.tick(self.site, self.now)
            assert not report.failed, report.failed
            if report.interrupted:
                return
            if report.next_wake is None or report.next_wake > end:
                self.now = end
                return
            self.now = max(report.next_wake, self.now)
        raise AssertionError("the runner kept asking to be woken")

    def herald(self, *args: str) -> str:
        result = CliRunner().invoke(main, [args[0], "--config", str(self.config_path),
                                           *args[1:]], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    def preview(self, now: datetime) -> list[dict]:
        posts = json.loads(self.herald("preview", "--now", now.isoformat(), "--json"))["posts"]
        return [p for p in posts if p["ref"].startswith("digest:")]

    def posted(self) -> dict[tuple[str, str, str, str], tuple[str, str | None, datetime]]:
        """Each digest post in the ledger: (ref, stage, account, lang) -> text, reply, when."""
        return {(e.key.ref, e.key.stage, e.key.account, e.key.lang):
                (e.text, e.reply_to, e.posted_at)
                for e in self.ledger.history() if e.key.ref.startswith("digest:")
                and e.state == "posted"}

    def platform_texts(self) -> dict[str, list[str]]:
        return {"mastodon": [s["text"] for s in self.platforms.mastodon.status_list()],
                "x": [p.text for p in self.platforms.x.posts],
                "bluesky": [r.value["text"] for r in self.platforms.bluesky.records.values()]}


@pytest.fixture
def service(platforms, tmp_path):
    made = Service(platforms, tmp_path)
    yield made
    made.ledger.close()


def test_a_weekly_digest_goes_out_in_sv_and_en_on_every_platform_once_a_week_across_restarts(
        service):
    service.run_until(at(10, 12, 9, 30))
    service.restart()                       # right after the Monday digest went out
    service.run_until(at(10, 13, 12))
    service.restart()
    service.run_until(at(10, 19, 8, 59))
    service.restart()
    service.run_until(at(10, 27, 12))

    weekly = {k: v for k, v in service.posted().items() if k[0] == "digest:weekly"}
    assert sorted({k[1] for k in weekly}) == ["2020-W42", "2020-W43"]   # W41 and W44 are empty
    for week in ("2020-W42", "2020-W43"):
        assert {(k[2], k[3]) for k in weekly if k[1] == week} == {
            (account, lang) for account in ("mastodon", "x", "bluesky") for lang in ("sv", "en")}
    assert {when for k, (_, _, when) in weekly.items() if k[1] == "2020-W43"} == {at(10, 19, 9)}

    w43_sv = weekly[("digest:weekly", "2020-W43", "mastodon", "sv")][0]
    assert w43_sv == (
        "Kommande evenemang 19–25 okt.\n\n"
        "• tis 20 okt. 14:00 – How can data help fight climate change? "
        "https://civictech.se/hur-kan-data-hjalpa-oss-att-radda-klimatet/\n"
        "• fre 23 okt. 17:00 – CryptoParty Online https://civictech.se/cryptoparty-online/\n\n"
        "#civictech")
    assert weekly[("digest:weekly", "2020-W42", "bluesky", "en")][0] == (
        "Upcoming events 12\u2009–\u200918 Oct\n\n"
        "• Tue 13 Oct 10:00 – Utfrågning kring Öppna data-utredningen "
        "https://civictech.se/utfragning-kring-oppna-data-utredningen/\n\n#civictech")
    texts = service.platform_texts()
    for (_, _, account, _), (text, _, _) in weekly.items():
        assert texts[account].count(text) == 1, (account, text)
    assert len(texts["mastodon"]) == len(set(texts["mastodon"]))


def test_a_digest_too_long_for_x_and_bluesky_goes_out_as_a_numbered_thread(service):
    service.run_until(at(10, 1, 10))
    october = {k: v for k, v in service.posted().items()
               if k[:2] in (("digest:monthly", "2020-10"), ("digest:monthly", "2020-10#2"))}
    assert {k[2:] for k in october if k[1] == "2020-10#2"} == {
        ("x", "sv"), ("x", "en"), ("bluesky", "sv"), ("bluesky", "en")}
    assert ("digest:monthly", "2020-10", "mastodon", "sv") in october
    for account in ("x", "bluesky"):
        first, _, _ = october[("digest:monthly", "2020-10", account, "sv")]
        second, reply_to, _ = october[("digest:monthly", "2020-10#2", account, "sv")]
        assert first.startswith("Kommande evenemang 1–31 okt.\n\n") and first.endswith("\n\n1/2")
        assert second.endswith("\n\n#civictech\n\n2/2")
        entry = service.ledger.current(
            next(e.key for e in service.ledger.history()
                 if (e.key.stage, e.key.account, e.key.lang) == ("2020-10", account, "sv")))
        assert reply_to == entry.platform_id
    (tweet_2,) = [p for p in service.platforms.x.posts if p.text.endswith("2/2")
                  and "fre 23 okt." in p.text]
    (tweet_1,) = [p for p in service.platforms.x.posts if p.id == tweet_2.reply_to]
    assert tweet_1.text.startswith("Kommande evenemang")
    lines = [line for p in (tweet_1, tweet_2) for line in p.text.splitlines()
             if line.startswith("• ")]
    assert len(lines) == 4                   # every event once, none split or dropped


def test_preview_shows_each_digest_at_the_time_and_with_the_text_it_goes_out(service):
    def going(shown, until):
        return [p for p in shown if p["goes"] and datetime.fromisoformat(p["at"]) <= until]

    before = going(service.preview(at(9, 30, 12)), at(10, 18, 12))
    service.run_until(at(10, 18, 12))
    later = going(service.preview(at(10, 18, 12)), at(10, 20, 12))
    service.run_until(at(10, 20, 12))
    posted = service.posted()
    shown = before + later
    assert {p["stage"] for p in shown} >= {"2020-10", "2020-10#2", "2020-W43"}
    for post in shown:
        text, _, when = posted[(post["ref"], post["stage"], post["account"], post["lang"])]
        assert text == post["text"]
        assert when == datetime.fromisoformat(post["at"])
    x_parts = [p for p in shown if p["platform"] == "x"]
    assert all(p["cost"] > 0 and p["fits"] for p in x_parts)


def test_the_preview_page_shows_each_part_of_a_digest(service, tmp_path):
    service.herald("preview", "--now", at(9, 30, 12).isoformat(), "--digest", "monthly",
                   "--html", str(tmp_path / "page"))
    page = (tmp_path / "page" / "index.html").read_text(encoding="utf-8")
    assert page.count("Kommande evenemang 1–31 okt.") == 3      # Mastodon whole, X and Bluesky
    assert "2020-10#2" in page and "2/2" in page


def test_a_thread_cut_short_by_a_stop_goes_on_from_its_next_part_after_a_restart(service):
    x = service.platforms.x
    service.run_until(at(10, 1, 8))
    service.restart(should_stop=lambda: len(x.posts) >= 1)
    service.run_until(at(10, 1, 10))
    assert [p.text.rsplit("\n", 1)[-1] for p in x.posts] == ["1/2"]
    service.restart()
    service.now = at(10, 1, 9, 1)
    service.run_until(at(10, 1, 10))
    parts = {k[1]: v for k, v in service.posted().items()
             if k[0] == "digest:monthly" and k[2:] == ("x", "sv")}
    assert set(parts) == {"2020-10", "2020-10#2"}
    first = next(p for p in x.posts if p.text == parts["2020-10"][0])
    second = next(p for p in x.posts if p.text == parts["2020-10#2"][0])
    assert second.reply_to == first.id
    assert sum(p.text.endswith("1/2") for p in x.posts) == 2     # sv and en, once each


def test_status_and_history_show_digests(service):
    service.run_until(at(10, 12, 10))
    service.herald("status")          # exits 0: nothing failed
    report = build_status(service.config, service.site, service.ledger, now=service.now)
    nexts = [(s.key.ref, s.key.stage) for a in report.accounts for s in a.upcoming]
    assert ("digest:weekly", "2020-W43") in nexts
    text = report.format()
    assert "digest:weekly 2020-W43 (sv, en)" in text
    history = service.herald("history", "--digest", "weekly")
    assert "posted   mastodon sv 2020-W42 digest:weekly" in history
    assert "skipped" in history and "2020-W40" in history   # missed before the first run


SOON = '\n[[digests]]\nname = "soon"\nevery = "daily 00:00"\nwindow = "90d"\n'


def announce(platforms, *args: str):
    platforms.config.write_text(platforms.config.read_text(encoding="utf-8") + SOON,
                                encoding="utf-8")
    return CliRunner().invoke(main, ["announce", "--config", str(platforms.config), *args])


def test_announce_digest_posts_the_current_period_now_once_on_every_platform(platforms):
    result = announce(platforms, "--digest", "soon")
    assert result.exit_code == 0, result.output
    assert result.output.count("posted: ") == 6
    statuses = platforms.mastodon.status_list()
    sv = next(s["text"] for s in statuses if s["language"] == "sv")
    assert sv.startswith("Kommande evenemang ")
    assert (f"\n• {format_short_when(platforms.start, 'sv')} – Vårmöte: Civic Tech Stockholm #1 "
            f"https://civictech.se/varmote-civic-tech/\n") in sv
    assert len(platforms.x.posts) == 2 and len(platforms.bluesky.records) == 2
    again = CliRunner().invoke(main, ["announce", "--config", str(platforms.config),
                                      "--digest", "soon"])
    assert again.exit_code == 0 and again.output.count("already posted: ") == 6
    assert len(statuses) == len(platforms.mastodon.status_list()) == 2
    history = CliRunner().invoke(main, ["history", "--config", str(platforms.config),
                                        "--digest", "soon", "--json"])
    assert {(e["ref"], e["state"]) for e in json.loads(history.output)["entries"]} == {
        ("digest:soon", "posted")}


def test_announce_digest_dry_run_shows_the_digest_and_sends_and_records_nothing(platforms):
    result = announce(platforms, "--digest", "soon", "--dry-run", "--account", "x")
    assert result.exit_code == 0, result.output
    assert "would post: x sv " in result.output and "would post: x en " in result.output
    assert "    Kommande evenemang " in result.output
    assert platforms.x.posts == [] and not platforms.ledger.exists()


def test_announce_names_an_unknown_digest_and_wants_a_ref_or_a_digest(platforms):
    result = announce(platforms, "--digest", "son")
    assert result.exit_code == 2
    assert result.output.strip() == "Error: unknown digest 'son'; did you mean 'soon'?"
    neither = CliRunner().invoke(main, ["announce", "--config", str(platforms.config)])
    assert neither.exit_code == 2 and "give an event's REF or --digest NAME" in neither.output
