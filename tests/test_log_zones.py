"""Every time Herald prints or logs is in the site's time zone: no line says UTC beside it."""

import re
import time

from click.testing import CliRunner

from bot.cli import main

EVENT = "varmote-2027"
TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s+([A-Z][A-Za-z+\-0-9]{1,5}))?")


def herald(platforms, *args):
    return CliRunner().invoke(main, ["--verbose", *args[:1], "--config", str(platforms.config),
                                     *args[1:]], catch_exceptions=False)


def zones_said(text: str) -> set[str]:
    """The time zones named after the times in `text`, and UTC wherever it is named at all."""
    found = {m.group(1) for m in TIME.finditer(text) if m.group(1)}
    return found | ({"UTC"} if "UTC" in text else set())


def rate_limit_everywhere(platforms) -> None:
    platforms.mastodon.rate_limit(600)
    platforms.x.daily_user.remaining, platforms.x.daily_user.reset = 0, int(time.time()) + 600
    platforms.bluesky.rate_limited = True
    platforms.bluesky.rate_limit_reset = int(time.time()) + 600


def test_a_rate_limited_announce_says_when_to_retry_in_the_sites_zone_on_every_platform(
        platforms):
    rate_limit_everywhere(platforms)
    result = herald(platforms, "announce", EVENT, "--lang", "sv")
    assert result.exit_code == 4, result.output
    failed = [line for line in result.output.splitlines() if line.startswith("failed: ")]
    assert {line.split()[1] for line in failed} == {"mastodon", "x", "bluesky"}
    for line in failed:
        assert re.search(r"; retry after \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} CES?T$", line), line
    assert zones_said(result.output) <= {"CET", "CEST"}, result.output


def test_a_rate_limited_run_logs_and_reports_times_only_in_the_sites_zone(platforms):
    rate_limit_everywhere(platforms)
    result = herald(platforms, "run", "--once", "--catch-up")
    status = herald(platforms, "status")
    history = herald(platforms, "history")
    said = result.output + status.output + history.output
    assert "rate limit" in said
    assert zones_said(said) <= {"CET", "CEST"}, said
