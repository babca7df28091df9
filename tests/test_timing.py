from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.errors import ConfigError, RateLimited, Unavailable
from bot.model import Account, PlannedPost, PostKey, Stage
from bot.timing import (DEFAULT_GAP, QuietHours, Rules, arrange, backoff, backoff_base,
                        cap_reason, change_time, parse_quiet_hours, planning_grace, retry_time,
                        rules_for)

ZONE = ZoneInfo("Europe/Stockholm")
ANNOUNCEMENT = Stage("announcement", "announcement")
REMINDER = Stage("reminder-1d", "reminder", timedelta(days=1), "reminder")
GRACE = timedelta(hours=2)


def at(day: int, hour: int, minute: int = 0, month: int = 4) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=ZONE)


def account(name="masto", languages=("sv", "en"), **options) -> Account:
    return Account(name, "mastodon", languages, options)


def planned(ref="meetup", due=None, start=None, *, stage=ANNOUNCEMENT, acct="masto",
            lang="sv") -> PlannedPost:
    return PlannedPost(PostKey(ref, stage.name, acct, lang), due or at(1, 12),
                       start or at(15, 18), stage)


def times(arrangement) -> list[tuple[str, str, datetime]]:
    return [(s.post.key.ref, s.post.key.lang, s.at) for s in arrangement.slots]


def test_quiet_hours_that_span_midnight_cover_the_night_and_end_in_the_morning():
    quiet = parse_quiet_hours("22:00-08:00", "quiet_hours")
    assert quiet.covers(at(1, 23), ZONE) and quiet.covers(at(2, 7, 59), ZONE)
    assert not quiet.covers(at(2, 8), ZONE) and not quiet.covers(at(1, 21, 59), ZONE)
    assert quiet.end_after(at(1, 23), ZONE) == at(2, 8)
    assert quiet.end_after(at(2, 3), ZONE) == at(2, 8)
    assert quiet.end_after(at(2, 12), ZONE) == at(2, 12)
    assert quiet.length == timedelta(hours=10)


def test_quiet_hours_end_at_eight_on_the_wall_clock_across_the_spring_dst_change():
    quiet = parse_quiet_hours("22:00-08:00", "quiet_hours")
    night = datetime(2027, 3, 27, 23, 0, tzinfo=ZONE)   # clocks go forward at 02:00 on the 28th
    end = quiet.end_after(night, ZONE)
    assert end == datetime(2027, 3, 28, 8, 0, tzinfo=ZONE)
    utc = ZoneInfo("UTC")
    assert end.astimezone(utc) - night.astimezone(utc) == timedelta(hours=8)  # an hour shorter
    assert end.utcoffset() == timedelta(hours=2)


def test_quiet_hours_within_one_day_work_too():
    lunch = parse_quiet_hours("12:00-13:30", "quiet_hours")
    assert lunch.covers(at(1, 12, 45), ZONE)
    assert lunch.end_after(at(1, 12, 45), ZONE) == at(1, 13, 30)
    assert not lunch.covers(at(1, 23), ZONE)


@pytest.mark.parametrize("text", ["22-08", "22:00", "25:00-08:00", "08:00-08:00", 2200, ""])
def test_an_unreadable_quiet_hours_option_names_the_account_key(text):
    with pytest.raises(ConfigError, match=r"accounts\.masto\.quiet_hours"):
        rules_for(account(quiet_hours=text) if text != "" else account(quiet_hours="x"))


def test_an_account_without_options_gets_a_few_minutes_gap_and_no_quiet_hours():
    assert rules_for(account()) == Rules(None, DEFAULT_GAP, None)
    rules = rules_for(account(quiet_hours="22:00-08:00", min_gap="10m", daily_cap=5))
    assert rules == Rules(QuietHours(time(22), time(8)), timedelta(minutes=10), 5)
    with pytest.raises(ConfigError, match=r"accounts\.masto\.min_gap"):
        rules_for(account(min_gap="soon"))
    # A bad daily_cap never reaches the timing code: the config refuses it when it is loaded
    # (tests/test_config.py, test_a_bad_account_option_is_refused_at_load_naming_it).


def test_a_post_due_in_quiet_hours_goes_out_when_they_end():
    accounts = {"masto": account(quiet_hours="22:00-08:00")}
    result = arrange([planned(due=at(1, 23, 30))], accounts, now=at(1, 23, 30), zone=ZONE,
                     grace=GRACE)
    assert times(result) == [("meetup", "sv", at(2, 8))]
    assert "quiet hours 22:00-08:00" in result.slots[0].why


def test_a_post_whose_quiet_hours_end_after_the_event_started_is_skipped():
    accounts = {"masto": account(quiet_hours="22:00-08:00")}
    early = planned(due=at(1, 23), start=at(2, 7, 30), stage=REMINDER)
    result = arrange([early], accounts, now=at(1, 23), zone=ZONE, grace=GRACE)
    assert result.slots == ()
    assert "after the event started" in result.skipped[0].reason


def test_ten_events_announced_at_once_go_out_spaced_by_the_minimum_gap():
    accounts = {"masto": account(languages=("sv",), min_gap="10m")}
    posts = [planned(ref=f"event-{n}", due=at(1, 12)) for n in range(10)]
    result = arrange(posts, accounts, now=at(1, 12), zone=ZONE, grace=GRACE)
    assert [s.at for s in result.slots] == [at(1, 12) + timedelta(minutes=10 * n)
                                            for n in range(10)]
    assert [s.post.key.ref for s in result.due(at(1, 12))] == ["event-0"]
    assert result.next_after(at(1, 12)) == at(1, 12, 10)


def test_both_languages_of_a_stage_go_together_first_language_first():
    accounts = {"masto": account(languages=("sv", "en"), min_gap="10m")}
    posts = [planned(lang="en"), planned(lang="sv"), planned(ref="other", lang="sv"),
             planned(ref="other", lang="en")]
    result = arrange(posts, accounts, now=at(1, 12), zone=ZONE, grace=GRACE)
    assert times(result) == [("meetup", "sv", at(1, 12)), ("meetup", "en", at(1, 12)),
                             ("other", "sv", at(1, 12, 10)), ("other", "en", at(1, 12, 10))]


def test_the_gap_counts_from_the_accounts_previous_post_and_other_accounts_are_not_held():
    accounts = {"masto": account(languages=("sv",), min_gap="10m"),
                "bsky": account("bsky", languages=("sv",), min_gap="10m")}
    posts = [planned(), planned(acct="bsky")]
    result = arrange(posts, accounts, now=at(1, 12), zone=ZONE, grace=GRACE,
                     history={"masto": [at(1, 11, 55)]})
    assert {(s.post.key.account, s.at) for s in result.slots} == {("masto", at(1, 12, 5)),
                                                                  ("bsky", at(1, 12))}


def test_posts_over_the_daily_cap_wait_until_the_posts_before_them_are_24_hours_old():
    accounts = {"x": account("x", languages=("sv",), daily_cap=2, min_gap="1m")}
    posts = [planned(ref=f"e{n}", acct="x") for n in range(3)]
    result = arrange(posts, accounts, now=at(1, 12), zone=ZONE, grace=GRACE,
                     history={"x": [at(1, 9)]})
    # a rolling 24 hours, not a calendar day: midnight frees nothing
    assert [s.at for s in result.slots] == [at(1, 12), at(2, 9), at(2, 12)]
    assert "daily cap of 2 posts in 24 hours reached" in result.slots[1].why


def test_a_post_the_daily_cap_held_for_a_day_goes_at_its_turn_and_is_not_missed():
    accounts = {"x": account("x", languages=("sv",), daily_cap=2, min_gap="1m")}
    posts = [planned(ref=f"e{n}", acct="x") for n in range(3)]
    first = arrange(posts, accounts, now=at(1, 12), zone=ZONE, grace=GRACE)
    assert [s.at for s in first.slots] == [at(1, 12), at(1, 12, 1), at(2, 12)]
    # the day after, with the first two posted when arranged: the third goes, not "missed"
    turn = arrange(posts[2:], accounts, now=at(2, 12), zone=ZONE, grace=GRACE,
                   history={"x": [at(1, 12), at(1, 12, 1)]})
    assert [s.at for s in turn.slots] == [at(2, 12)] and turn.skipped == ()


def test_a_long_queue_spaced_by_the_gap_is_never_cut_short_by_the_grace():
    accounts = {"masto": account(languages=("sv",), min_gap="10m")}
    posts = [planned(ref=f"e{n:02}") for n in range(30)]          # 30 events at noon
    sent = [at(1, 12) + timedelta(minutes=10 * n) for n in range(20)]
    later = arrange(posts[20:], accounts, now=at(1, 15, 20), zone=ZONE, grace=GRACE,
                    history={"masto": sent})
    assert later.skipped == ()
    assert later.slots[0].at == at(1, 15, 20) and later.slots[-1].at == at(1, 16, 50)


def test_a_post_herald_was_not_running_to_send_is_missed_whatever_was_posted_since():
    accounts = {"masto": account(languages=("sv",), min_gap="10m")}
    stale = planned(ref="moved", due=at(1, 10), stage=REMINDER)
    result = arrange([stale], accounts, now=at(1, 16, 30), zone=ZONE, grace=GRACE,
                     history={"masto": [at(1, 16)]})           # posted since, but too late
    assert result.slots == () and "missed: was due 2027-04-01 10:00" in result.skipped[0].reason


def test_the_daily_cap_never_splits_a_language_pair():
    accounts = {"x": account("x", daily_cap=3, min_gap="1m")}
    pair = [planned(ref="e", acct="x", lang=lang) for lang in ("sv", "en")]
    result = arrange(pair, accounts, now=at(1, 12), zone=ZONE, grace=GRACE,
                     history={"x": [at(1, 8), at(1, 10)]})
    assert [(s.post.key.lang, s.at) for s in result.slots] == [("sv", at(2, 8)),
                                                              ("en", at(2, 8))]
    small = {"x": account("x", daily_cap=1)}               # a cap smaller than the pair
    result = arrange(pair, small, now=at(1, 12), zone=ZONE, grace=GRACE,
                     history={"x": [at(1, 10)]})
    assert [s.at for s in result.slots] == [at(2, 10), at(2, 10)]


def test_on_a_new_ledgers_first_run_the_backlog_is_skipped_and_future_stages_kept():
    accounts = {"masto": account(languages=("sv",))}
    first_run = at(1, 12)
    stale = planned(ref="old", due=at(1, 11), stage=REMINDER)
    existing = planned(ref="existing", due=first_run)        # announced when first seen
    upcoming = planned(ref="existing", due=at(14, 18), stage=REMINDER)
    result = arrange([stale, existing, upcoming], accounts, now=first_run, zone=ZONE,
                     grace=GRACE, safe_since=first_run)
    assert [(s.post.key.ref, s.post.key.stage) for s in result.slots] == [
        ("existing", "reminder-1d")]
    reasons = {s.key.ref: s.reason for s in result.skipped}
    assert "was due 2027-04-01 11:00, when or before Herald first ran" in reasons["old"]
    assert "already on the site when Herald first ran" in reasons["existing"]
    later = planned(ref="new", due=at(1, 12, 1))             # added after the first run
    assert arrange([later], accounts, now=at(1, 12, 1), zone=ZONE, grace=GRACE,
                   safe_since=first_run).slots[0].at == at(1, 12, 1)


def test_after_downtime_a_post_missed_by_less_than_the_grace_goes_out_late():
    accounts = {"masto": account(languages=("sv",))}
    posts = [planned(ref="late", due=at(1, 11)), planned(ref="lost", due=at(1, 8))]
    result = arrange(posts, accounts, now=at(1, 12, 30), zone=ZONE, grace=GRACE)
    assert [s.post.key.ref for s in result.slots] == ["late"]
    assert result.slots[0].at == at(1, 11)          # due: it goes out now
    assert result.skipped[0].key.ref == "lost" and "missed" in result.skipped[0].reason


def test_the_grace_counts_from_the_end_of_the_quiet_hours_a_post_waited_for():
    accounts = {"masto": account(languages=("sv",), quiet_hours="22:00-08:00")}
    post = planned(due=at(1, 23))
    assert planning_grace(GRACE, [rules_for(accounts["masto"])]) == timedelta(hours=12)
    result = arrange([post], accounts, now=at(2, 9, 30), zone=ZONE, grace=GRACE)
    assert [s.at for s in result.slots] == [at(2, 8)]
    result = arrange([post], accounts, now=at(2, 10, 30), zone=ZONE, grace=GRACE)
    assert result.slots == () and "missed" in result.skipped[0].reason


def test_an_account_in_back_off_waits_and_is_never_skipped_for_it():
    accounts = {"masto": account(languages=("sv",))}
    soon = planned(due=at(1, 12), start=at(1, 13))
    result = arrange([soon], accounts, now=at(1, 12), zone=ZONE, grace=GRACE,
                     blocked_until={"masto": at(1, 12, 20)})
    assert [s.at for s in result.slots] == [at(1, 12, 20)]
    assert "retrying after a failure" in result.slots[0].why
    result = arrange([soon], accounts, now=at(1, 12), zone=ZONE, grace=GRACE,
                     blocked_until={"masto": at(1, 14)})
    assert result.slots == () and result.skipped == ()


def test_backoff_doubles_up_to_its_cap_with_jitter_from_the_random_source():
    assert backoff(1, lambda: 0.0) == timedelta(seconds=15)
    assert backoff(1, lambda: 1.0) == timedelta(seconds=30)
    assert backoff(3, lambda: 1.0) == timedelta(minutes=2)
    assert backoff(30, lambda: 1.0) == timedelta(minutes=5)      # a few minutes at most
    assert backoff(30, lambda: 0.5) == timedelta(minutes=3, seconds=45)


def test_a_short_request_timeout_starts_the_backoff_there_and_caps_it_at_ten_times_that():
    now = at(1, 12)
    base = backoff_base(4.0)
    assert base == timedelta(seconds=4) and backoff_base(120.0) == timedelta(seconds=30)
    assert retry_time(Unavailable("503"), 1, now, lambda: 1.0, base=base) == now + base
    assert retry_time(Unavailable("503"), 3, now, lambda: 1.0, base=base) == now + base * 4
    assert retry_time(Unavailable("503"), 30, now, lambda: 1.0, base=base) == now + base * 10
    reset = at(1, 12, 15)                          # a rate limit's reset is still honoured
    assert retry_time(RateLimited("429", retry_after=reset), 1, now, lambda: 1.0,
                      base=base) == reset


def test_a_rate_limit_is_retried_at_its_reset_time_and_other_failures_after_a_backoff():
    now = at(1, 12)
    limited = RateLimited("429", retry_after=at(1, 12, 15))
    assert retry_time(limited, 1, now, lambda: 0.0) == at(1, 12, 15)
    assert retry_time(limited, 1, now, lambda: 1.0) == at(1, 12, 15)    # exactly the reset
    assert retry_time(RateLimited("429", retry_after=at(1, 11)), 1, now, lambda: 1.0) == now
    assert retry_time(RateLimited("429"), 2, now, lambda: 1.0) == now + timedelta(minutes=1)
    assert retry_time(Unavailable("503"), 1, now, lambda: 1.0) == now + timedelta(seconds=30)


def test_a_correction_waits_out_quiet_hours_unless_the_event_starts_first():
    rules = rules_for(account(quiet_hours="22:00-08:00"))
    assert change_time(at(1, 23), at(5, 18), rules, ZONE) == at(2, 8)
    assert change_time(at(1, 23), at(2, 7), rules, ZONE) == at(1, 23)
    assert change_time(at(1, 12), at(5, 18), rules, ZONE) == at(1, 12)
    assert change_time(at(1, 23).astimezone(timezone.utc), at(5, 18), Rules(), ZONE) \
        == at(1, 23)


def test_the_daily_cap_is_counted_in_words_that_agree_with_the_number():
    assert cap_reason(1) == "daily cap of 1 post in 24 hours reached"
    assert cap_reason(5) == "daily cap of 5 posts in 24 hours reached"
