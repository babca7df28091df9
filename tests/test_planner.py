from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.model import Account, Event, PostKey, Stage
from bot.planner import plan, stage_time

STHLM = ZoneInfo("Europe/Stockholm")
STAGES = (
    Stage("announcement", "announcement"),
    Stage("reminder-1d", "reminder", timedelta(days=1)),
    Stage("reminder-2h", "reminder", timedelta(hours=2)),
)
MASTODON = Account("masto", "mastodon", ("sv", "en"))
X_SV = Account("x", "x", ("sv",))


def event(ref="meetup", start=datetime(2027, 3, 10, 18, 0, tzinfo=STHLM), langs=("sv", "en")):
    return {lang: Event(ref, lang, f"Title {lang}", start, "https://example.org/e/", "_events/e.md")
            for lang in langs}


def run(events, now, accounts=(MASTODON,), grace=timedelta(hours=2), **kw):
    return plan(events, STAGES, accounts, now=now, grace=grace, zone=STHLM, **kw)


def test_a_new_event_is_announced_now_and_reminded_a_day_and_two_hours_before():
    now = datetime(2027, 3, 1, 12, 0, tzinfo=STHLM)
    result = run([event()], now, accounts=(X_SV,))
    assert [(p.key.stage, p.due) for p in result.posts] == [
        ("announcement", now),
        ("reminder-1d", datetime(2027, 3, 9, 18, 0, tzinfo=STHLM)),
        ("reminder-2h", datetime(2027, 3, 10, 16, 0, tzinfo=STHLM)),
    ]


def test_a_bilingual_account_gets_one_post_per_language_of_the_event():
    now = datetime(2027, 3, 1, 12, 0, tzinfo=STHLM)
    result = run([event()], now)
    assert {(p.key.stage, p.key.lang) for p in result.posts} == {
        (s.name, lang) for s in STAGES for lang in ("sv", "en")}


def test_an_event_with_only_one_language_is_posted_once_on_a_bilingual_account():
    now = datetime(2027, 3, 1, 12, 0, tzinfo=STHLM)
    result = run([event(langs=("sv",))], now)
    assert {p.key.lang for p in result.posts} == {"sv"}


def test_the_day_before_reminder_keeps_the_wall_clock_time_across_daylight_saving():
    # Sweden moves to summer time on 28 March 2027.
    start = datetime(2027, 3, 28, 18, 0, tzinfo=STHLM)
    assert stage_time(start, timedelta(days=1), STHLM) == datetime(2027, 3, 27, 18, 0, tzinfo=STHLM)
    assert stage_time(start, timedelta(hours=2), STHLM) == datetime(2027, 3, 28, 16, 0, tzinfo=STHLM)
    # A 26-hour offset counts its whole day on the wall clock and lands in winter time.
    assert stage_time(start, timedelta(hours=26), STHLM).utcoffset() == timedelta(hours=1)


def test_posts_already_made_are_not_planned_again():
    now = datetime(2027, 3, 1, 12, 0, tzinfo=STHLM)
    done = {PostKey("meetup", "announcement", "x", "sv")}
    result = run([event()], now, accounts=(X_SV,), done=done)
    assert [p.key.stage for p in result.posts] == ["reminder-1d", "reminder-2h"]


def test_a_reminder_missed_by_more_than_the_grace_window_is_skipped_with_a_reason():
    now = datetime(2027, 3, 10, 12, 0, tzinfo=STHLM)  # 18 h after the day-before reminder
    seen = {"meetup": datetime(2027, 3, 1, 12, 0, tzinfo=STHLM)}
    done = {PostKey("meetup", "announcement", "x", "sv")}
    result = run([event()], now, accounts=(X_SV,), done=done, first_seen=seen)
    assert [p.key.stage for p in result.posts] == ["reminder-2h"]
    (missed,) = result.skipped
    assert missed.key.stage == "reminder-1d" and "missed" in missed.reason


def test_a_reminder_inside_the_grace_window_is_still_due():
    now = datetime(2027, 3, 9, 19, 30, tzinfo=STHLM)
    done = {PostKey("meetup", "announcement", "x", "sv")}
    result = run([event()], now, accounts=(X_SV,), done=done)
    assert [p.key.stage for p in result.due(now)] == ["reminder-1d"]


def test_nothing_is_planned_for_an_event_that_has_started():
    start = datetime(2027, 3, 10, 18, 0, tzinfo=STHLM)
    result = run([event(start=start)], start + timedelta(minutes=1), grace=timedelta(days=30))
    assert result.posts == () and result.skipped == ()


def test_an_event_found_an_hour_before_it_starts_gets_only_the_announcement():
    start = datetime(2027, 3, 10, 18, 0, tzinfo=STHLM)
    now = start - timedelta(hours=1)
    result = run([event(start=start)], now, accounts=(X_SV,), grace=timedelta(days=2))
    assert [p.key.stage for p in result.due(now)] == ["announcement"]
    assert {s.key.stage for s in result.skipped} == {"reminder-1d", "reminder-2h"}


def test_a_lead_time_announcement_waits_until_its_time():
    stages = (Stage("announcement", "announcement", timedelta(days=14)),)
    now = datetime(2027, 1, 1, 12, 0, tzinfo=STHLM)
    result = plan([event()], stages, (X_SV,), now=now, grace=timedelta(hours=2), zone=STHLM)
    assert result.posts[0].due == datetime(2027, 2, 24, 18, 0, tzinfo=STHLM)


def test_a_lead_time_announcement_for_an_event_seen_late_is_due_when_seen():
    stages = (Stage("announcement", "announcement", timedelta(days=14)),)
    now = datetime(2027, 3, 5, 12, 0, tzinfo=STHLM)
    result = plan([event()], stages, (X_SV,), now=now, grace=timedelta(hours=2), zone=STHLM)
    assert result.posts[0].due == now


def test_the_plan_is_in_time_order_across_events():
    now = datetime(2027, 3, 1, 12, 0, tzinfo=STHLM)
    early = event("early", datetime(2027, 3, 5, 18, 0, tzinfo=STHLM))
    late = event("late", datetime(2027, 3, 4, 9, 0, tzinfo=STHLM))
    dues = [p.due for p in run([early, late], now, accounts=(X_SV,)).posts]
    assert dues == sorted(dues)


def test_a_naive_now_is_refused():
    with pytest.raises(ValueError):
        run([event()], datetime(2027, 3, 1, 12, 0))


def test_posts_due_together_follow_the_order_of_the_accounts_languages():
    now = datetime(2027, 3, 1, 12, 0, tzinfo=STHLM)
    result = run([event()], now)
    assert [p.key.lang for p in result.posts if p.key.stage == "announcement"] == ["sv", "en"]


def test_a_reminder_that_came_due_while_the_announcement_waited_is_still_planned():
    start = datetime(2027, 3, 10, 18, 0, tzinfo=STHLM)
    seen = {"meetup": start - timedelta(hours=3)}             # seen at 15:00
    now = start - timedelta(hours=1, minutes=30)              # the 2-hour reminder is due too
    result = run([event(start=start)], now, accounts=(X_SV,), first_seen=seen)
    assert [p.key.stage for p in result.due(now)] == ["announcement", "reminder-2h"]
    assert {s.key.stage for s in result.skipped} == {"reminder-1d"}


def test_of_two_reminders_due_at_once_only_the_later_one_is_kept():
    start = datetime(2027, 3, 10, 18, 0, tzinfo=STHLM)
    done = {PostKey("meetup", "announcement", "x", "sv")}
    now = start - timedelta(hours=1)
    result = run([event(start=start)], now, accounts=(X_SV,), done=done,
                 grace=timedelta(days=2), first_seen={"meetup": start - timedelta(days=5)})
    assert [p.key.stage for p in result.due(now)] == ["reminder-2h"]
    (skipped,) = result.skipped
    assert skipped.key.stage == "reminder-1d" and skipped.reason == "superseded by reminder-2h"


def test_every_account_and_language_of_an_event_gets_the_same_stage_times():
    now = datetime(2027, 3, 1, 12, 0, tzinfo=STHLM)
    result = run([event()], now, accounts=(MASTODON, X_SV))
    times = {}
    for post in result.posts:
        times.setdefault(post.key.stage, set()).add(post.due)
    assert times == {"announcement": {now},
                     "reminder-1d": {datetime(2027, 3, 9, 18, 0, tzinfo=STHLM)},
                     "reminder-2h": {datetime(2027, 3, 10, 16, 0, tzinfo=STHLM)}}
    assert len(result.posts) == 9


@pytest.mark.parametrize("collecting", [True, False])
def test_planning_leaves_the_cycle_collector_as_it_found_it(collecting):
    import gc

    was = gc.isenabled()
    try:
        gc.enable() if collecting else gc.disable()
        run([event()], datetime(2027, 3, 1, 12, 0, tzinfo=STHLM))
        with pytest.raises(ValueError):
            run([event()], datetime(2027, 3, 1, 12, 0))
        assert gc.isenabled() is collecting
    finally:
        gc.enable() if was else gc.disable()
