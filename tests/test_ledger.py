import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import bot
from bot.errors import LedgerError, RateLimited, Rejected, Unavailable
from bot.ledger import (MIGRATIONS, AlreadyPosted, Ledger, LedgerConflict, acquire_lock,
                        default_ledger_path, idempotency_key, lock_path)
from bot.model import PostKey, Published

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=STOCKHOLM)
KEY = PostKey("2025-03-10-meetup", "announcement", "mastodon", "sv")
PROJECT = str(Path(bot.__file__).resolve().parents[1])


@pytest.fixture
def path(tmp_path):
    return tmp_path / "state" / "ledger.sqlite3"


@pytest.fixture
def ledger(path):
    with Ledger.open(path) as opened:
        yield opened


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": PROJECT}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          env=env, capture_output=True, text=True, timeout=60)


def minutes(n: int) -> datetime:
    return NOW + timedelta(minutes=n)


# --- opening and migrations --------------------------------------------------------------------

def test_opening_creates_the_folder_and_records_every_migration_once(path):
    with Ledger.open(path) as ledger:
        assert ledger.applied_migrations() == [name for name, _ in MIGRATIONS]
    assert path.is_file()
    with Ledger.open(path) as ledger:
        assert ledger.applied_migrations() == [name for name, _ in MIGRATIONS]
    rows = sqlite3.connect(path).execute("SELECT name, applied_at FROM migrations").fetchall()
    assert len(rows) == len(MIGRATIONS)
    assert all(applied_at for _, applied_at in rows)


def test_reopening_keeps_the_data_and_does_not_apply_migrations_again(path):
    with Ledger.open(path) as ledger:
        ledger.skip(KEY, "safe first run", NOW)
    with Ledger.open(path) as ledger:
        assert ledger.entry(KEY).state == "skipped"


def test_the_ledger_uses_write_ahead_logging(path):
    with Ledger.open(path):
        pass
    mode, = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_a_file_that_is_not_sqlite_raises_a_ledger_error_naming_it(tmp_path):
    garbage = tmp_path / "ledger.sqlite3"
    garbage.write_bytes(b"this is not a database, just some text that is long enough" * 20)
    with pytest.raises(LedgerError) as caught:
        Ledger.open(garbage)
    message = str(caught.value)
    assert str(garbage) in message
    assert "\n" not in message


def test_a_database_of_another_program_is_not_taken_over(tmp_path):
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(LedgerError, match="not a Herald ledger"):
        Ledger.open(other)
    tables = {name for (name,) in sqlite3.connect(other).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"invoices"}


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_a_database_herald_refuses_is_left_byte_for_byte_as_it_was(tmp_path, journal):
    other = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(other)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.commit()
    conn.close()
    def state():
        return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode)
                for p in tmp_path.iterdir()}

    before = state()
    for lock in (None, "herald run"):
        with pytest.raises(LedgerError, match="not a Herald ledger"):
            Ledger.open(other, lock=lock)
    assert state() == before                    # no -wal, -shm or lock file either
    conn = sqlite3.connect(other)
    assert conn.execute("PRAGMA journal_mode").fetchone() == (journal,)
    conn.close()


def test_a_newer_heralds_ledger_is_refused_before_anything_is_written_to_it(path):
    with Ledger.open(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO migrations (name) VALUES ('from_the_future')")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(LedgerError, match="newer Herald"):
        Ledger.open(path, lock="herald run")
    assert path.read_bytes() == before
    assert not lock_path(path).exists()


def test_the_ledger_its_journal_and_its_lock_are_readable_by_their_owner_only(tmp_path):
    path = tmp_path / "new" / "folder" / "ledger.sqlite3"
    old = os.umask(0o022)
    try:
        with Ledger.open(path, lock="herald run") as ledger:
            ledger.skip(KEY, "safe first run", NOW)
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
    finally:
        os.umask(old)
    assert modes == {"ledger.sqlite3": 0o600, "ledger.sqlite3-wal": 0o600,
                     "ledger.sqlite3-shm": 0o600, "ledger.sqlite3.lock": 0o600}
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_ledger_held_by_another_process_is_refused_and_released_with_the_ledger(path):
    with Ledger.open(path, lock="herald announce"):
        with pytest.raises(LedgerError, match=rf"another herald announce is using {path} "
                                              rf"\(pid {os.getpid()}\)"):
            Ledger.open(path, lock="herald run")
    with Ledger.open(path, lock="herald run"):
        pass


def test_a_dry_run_reads_a_copy_and_never_creates_the_real_ledger(tmp_path):
    path = tmp_path / "state" / "ledger.sqlite3"
    with Ledger.open_copy(path, tmp_path / "copy.sqlite3") as copy:
        copy.skip(KEY, "safe first run", NOW)
    assert not path.parent.exists()
    with Ledger.open(path) as ledger:
        ledger.skip(KEY, "announced by hand", NOW)
    with Ledger.open_copy(path, tmp_path / "copy2.sqlite3") as copy:
        assert copy.entry(KEY).reason == "announced by hand"
        copy.skip(PostKey("other", "announcement", "mastodon", "sv"), "test", NOW)
    with Ledger.open(path) as ledger:
        assert [e.key.ref for e in ledger.history()] == [KEY.ref]


def test_a_ledger_from_a_newer_herald_is_refused(path):
    with Ledger.open(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO migrations (name) VALUES ('from_the_future')")
    with pytest.raises(LedgerError, match="newer Herald") as caught:
        Ledger.open(path)
    assert str(path) in str(caught.value)


def test_the_default_ledger_lives_in_the_user_data_folder():
    found = default_ledger_path()
    assert found.name == "ledger.sqlite3"
    assert found.parent.name == "herald"


# --- idempotency keys --------------------------------------------------------------------------

def test_an_idempotency_key_is_stable_and_differs_by_generation():
    same = PostKey("2025-03-10-meetup", "announcement", "mastodon", "sv")
    assert idempotency_key(KEY, 0) == idempotency_key(same, 0)
    assert len(idempotency_key(KEY, 0)) == 32
    assert idempotency_key(KEY, 0) != idempotency_key(KEY, 1)
    assert idempotency_key(KEY, 0) != idempotency_key(PostKey(KEY.ref, KEY.stage, "x", "sv"), 0)


# --- reserve, record, fail, skip ---------------------------------------------------------------

def test_a_recorded_post_cannot_be_reserved_again(ledger):
    reservation = ledger.reserve(KEY, text="Hej!", now=NOW)
    assert reservation.generation == 0
    assert reservation.attempts == 1
    assert not reservation.uncertain
    ledger.record(reservation, Published("109", "https://m.example/@c/109"), minutes(1))
    with pytest.raises(AlreadyPosted) as caught:
        ledger.reserve(KEY, text="Hej!", now=minutes(2))
    assert caught.value.entry.url == "https://m.example/@c/109"
    assert "https://m.example/@c/109" in str(caught.value)


def test_a_recorded_entry_reads_back_with_aware_times_and_its_key(ledger):
    reservation = ledger.reserve(KEY, text="Hej!", now=NOW, reply_to="100")
    ledger.record(reservation, Published("109", "https://m.example/@c/109"), minutes(1))
    entry = ledger.entry(KEY)
    assert entry.key == KEY
    assert entry.state == "posted"
    assert entry.text == "Hej!"
    assert entry.platform_id == "109"
    assert entry.reply_to == "100"
    assert entry.idempotency_key == idempotency_key(KEY, 0)
    assert entry.reserved_at == NOW
    assert entry.posted_at == minutes(1)
    assert entry.posted_at.tzinfo is not None
    assert entry.done and not entry.uncertain


def test_again_makes_a_new_generation_with_a_different_idempotency_key(ledger):
    first = ledger.reserve(KEY, text="Hej!", now=NOW)
    ledger.record(first, Published("1", "https://m.example/1"), NOW)
    second = ledger.reserve(KEY, text="Hej igen!", now=minutes(5), again=True)
    assert second.generation == 1
    assert second.idempotency_key != first.idempotency_key
    assert second.idempotency_key == idempotency_key(KEY, 1)
    ledger.record(second, Published("2", "https://m.example/2"), minutes(6))
    assert ledger.entry(KEY).generation == 1
    assert ledger.entry(KEY, generation=0).platform_id == "1"
    with pytest.raises(AlreadyPosted):
        ledger.reserve(KEY, text="Hej!", now=minutes(7))


def test_again_on_a_post_that_never_went_out_retries_the_same_generation(ledger):
    first = ledger.reserve(KEY, text="Hej!", now=NOW)
    ledger.fail(first, Rejected("too long", account="mastodon"), minutes(1))
    retry = ledger.reserve(KEY, text="Hej!", now=minutes(2), again=True)
    assert retry.generation == 0
    assert retry.idempotency_key == first.idempotency_key


def test_a_reservation_never_recorded_comes_back_uncertain_after_a_crash(path):
    crashed = run_python("""
        import os, sys
        from datetime import datetime, timezone
        from pathlib import Path
        from bot.ledger import Ledger
        from bot.model import PostKey
        ledger = Ledger.open(Path(sys.argv[1]))
        r = ledger.reserve(PostKey("2025-03-10-meetup", "announcement", "mastodon", "sv"),
                           text="Hej!", now=datetime(2025, 3, 1, 11, tzinfo=timezone.utc))
        print(r.idempotency_key, flush=True)
        os._exit(1)
    """, str(path))
    assert crashed.returncode == 1, crashed.stderr
    sent_key = crashed.stdout.strip()
    with Ledger.open(path) as ledger:
        assert [e.idempotency_key for e in ledger.uncertain()] == [sent_key]
        again = ledger.reserve(KEY, text="Hej!", now=minutes(10))
    assert again.uncertain
    assert again.idempotency_key == sent_key
    assert again.attempts == 2


def test_a_timeout_leaves_the_outcome_unknown_until_the_post_is_reconciled(ledger):
    first = ledger.reserve(KEY, text="Hej!", now=NOW)
    ledger.fail(first, Unavailable("timed out", account="mastodon"), minutes(1), minutes(5))
    assert [e.key for e in ledger.uncertain()] == [KEY]
    retry = ledger.reserve(KEY, text="Hej!", now=minutes(5))
    assert retry.uncertain
    ledger.record(retry, Published("7", "https://m.example/7"), minutes(6))
    assert ledger.uncertain() == []


def test_a_failure_keeps_the_error_the_attempts_and_the_retry_time(ledger):
    first = ledger.reserve(KEY, text="Hej!", now=NOW)
    error = RateLimited("rate limited (429)", account="mastodon", retry_after=minutes(15))
    entry = ledger.fail(first, error, minutes(1), retry_at=minutes(15))
    assert entry.state == "failed"
    assert entry.error == "mastodon: rate limited (429)"
    assert entry.error_kind == "RateLimited"
    assert entry.attempts == 0                 # a rate limit is no failed attempt
    assert entry.next_attempt_at == minutes(15)
    assert not entry.uncertain
    retry = ledger.reserve(KEY, text="Hej!", now=minutes(15))
    assert not retry.uncertain
    assert retry.attempts == 1
    assert retry.idempotency_key == first.idempotency_key
    assert [e.key for e in ledger.failures()] == []
    ledger.fail(retry, Unavailable("HTTP 503", account="mastodon"), minutes(16))
    assert [(e.key, e.attempts) for e in ledger.failures()] == [(KEY, 1)]


def test_recording_a_post_clears_its_earlier_error(ledger):
    first = ledger.reserve(KEY, text="Hej!", now=NOW)
    ledger.fail(first, Rejected("server said no", account="mastodon"), minutes(1))
    retry = ledger.reserve(KEY, text="Hej!", now=minutes(2))
    entry = ledger.record(retry, Published("9", "https://m.example/9"), minutes(3))
    assert entry.error is None
    assert entry.attempts == 2


def test_recording_the_same_answer_twice_is_harmless_but_a_second_copy_is_reported(ledger):
    reservation = ledger.reserve(KEY, text="Hej!", now=NOW)
    ledger.record(reservation, Published("1", "https://m.example/1"), NOW)
    ledger.record(reservation, Published("1", "https://m.example/1"), minutes(1))
    with pytest.raises(AlreadyPosted):
        ledger.record(reservation, Published("2", "https://m.example/2"), minutes(2))


def test_a_skipped_post_is_done_and_is_not_sent_without_asking_again(ledger):
    ledger.skip(KEY, "safe first run", NOW)
    assert ledger.posted_keys() == {KEY}
    assert ledger.entry(KEY).reason == "safe first run"
    with pytest.raises(LedgerConflict):
        ledger.reserve(KEY, text="Hej!", now=minutes(1))
    forced = ledger.reserve(KEY, text="Hej!", now=minutes(1), again=True)
    assert forced.generation == 1


def test_a_posted_post_cannot_be_skipped(ledger):
    reservation = ledger.reserve(KEY, text="Hej!", now=NOW)
    ledger.record(reservation, Published("1", "https://m.example/1"), NOW)
    with pytest.raises(AlreadyPosted):
        ledger.skip(KEY, "missed grace", minutes(1))
    assert ledger.entry(KEY).state == "posted"


def test_a_post_that_may_be_out_cannot_be_skipped(ledger):
    ledger.reserve(KEY, text="Hej!", now=NOW)
    with pytest.raises(LedgerConflict, match="reconcile"):
        ledger.skip(KEY, "missed grace", minutes(1))


def test_a_failed_post_can_be_skipped(ledger):
    reservation = ledger.reserve(KEY, text="Hej!", now=NOW)
    ledger.fail(reservation, Rejected("no", account="mastodon"), minutes(1))
    assert ledger.skip(KEY, "missed grace", minutes(2)).state == "skipped"
    assert ledger.failures() == []


def test_only_posted_and_skipped_identities_count_as_done(ledger):
    other = PostKey(KEY.ref, KEY.stage, "x", "sv")
    third = PostKey(KEY.ref, "reminder-1d", "mastodon", "sv")
    ledger.record(ledger.reserve(KEY, text="a", now=NOW), Published("1", "u"), NOW)
    ledger.skip(other, "safe first run", NOW)
    ledger.reserve(third, text="c", now=NOW)
    assert ledger.posted_keys() == {KEY, other}


def test_one_off_posts_before_the_first_run_leave_it_a_first_run(ledger):
    ledger.record(ledger.reserve(KEY, text="Hej!", now=NOW), Published("1", "u"), NOW)
    manual = PostKey("post-0123456789abcdef", "manual", "mastodon", "sv")
    ledger.record(ledger.reserve(manual, text="Hej!", now=NOW), Published("2", "u"), NOW)
    assert ledger.first_run(minutes(5), record=False) == minutes(5)
    assert ledger.first_run(minutes(5)) == minutes(5)
    assert ledger.first_run(minutes(60)) == minutes(5)          # stored: asked once


def test_a_ledger_an_earlier_run_posted_through_without_a_first_run_record_had_its_first_run(
        ledger):
    ledger.first_seen(KEY.ref, NOW)                        # only `herald run` notes sightings
    ledger.record(ledger.reserve(KEY, text="Hej!", now=NOW), Published("1", "u"), NOW)
    assert ledger.first_run(minutes(5), record=False) is None
    assert ledger.first_run(minutes(5)) is None


def test_a_first_run_told_to_catch_up_records_that_there_was_none(ledger):
    assert ledger.first_run(NOW, safe=False) is None
    assert ledger.first_run(minutes(5), record=False) is None


def test_naive_times_are_refused(ledger):
    with pytest.raises(ValueError, match="aware"):
        ledger.reserve(KEY, text="Hej!", now=datetime(2025, 3, 1, 12))


# --- reading ---------------------------------------------------------------------------------

def test_history_is_in_time_order_and_can_be_limited_to_one_event(ledger):
    later = PostKey("2025-04-01-hack", "announcement", "mastodon", "en")
    reminder = PostKey(KEY.ref, "reminder-1d", "mastodon", "sv")
    ledger.record(ledger.reserve(later, text="b", now=minutes(1)), Published("2", "u2"),
                  minutes(2))
    ledger.record(ledger.reserve(KEY, text="a", now=minutes(0)), Published("1", "u1"),
                  minutes(3))
    ledger.skip(reminder, "missed grace", minutes(4))
    assert [e.key for e in ledger.history()] == [later, KEY, reminder]
    assert [e.key for e in ledger.history(KEY.ref)] == [KEY, reminder]
    assert ledger.history("no-such-event") == []


def test_times_are_stored_in_utc_and_compare_equal_to_the_given_ones(ledger):
    ledger.skip(KEY, "safe first run", NOW)
    entry = ledger.entry(KEY)
    assert entry.updated_at == NOW
    assert entry.updated_at.utcoffset() == timedelta(0)


def test_an_unknown_key_has_no_entry(ledger):
    assert ledger.entry(KEY) is None


def test_first_seen_keeps_the_first_time_an_event_was_seen(ledger, path):
    assert ledger.first_seen(KEY.ref, NOW) == NOW
    assert ledger.first_seen(KEY.ref, minutes(30)) == NOW
    assert ledger.first_seen("other", minutes(30)) == minutes(30)
    ledger.close()
    with Ledger.open(path) as reopened:
        assert reopened.first_seen(KEY.ref, minutes(60)) == NOW


# --- concurrency -----------------------------------------------------------------------------

def test_two_connections_reserving_at_once_get_exactly_one_clean_reservation(path):
    Ledger.open(path).close()
    workers = 8
    barrier = threading.Barrier(workers)
    results = []

    def reserve() -> None:
        with Ledger.open(path) as own:
            barrier.wait()
            results.append(own.reserve(KEY, text="Hej!", now=NOW))

    threads = [threading.Thread(target=reserve) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == workers
    assert sum(not r.uncertain for r in results) == 1
    assert sorted(r.attempts for r in results) == list(range(1, workers + 1))
    assert {r.idempotency_key for r in results} == {idempotency_key(KEY, 0)}
    with Ledger.open(path) as ledger:
        assert len(ledger.history()) == 1


def test_a_second_connection_sees_the_first_ones_reservation_as_uncertain(path):
    with Ledger.open(path) as first, Ledger.open(path) as second:
        mine = first.reserve(KEY, text="Hej!", now=NOW)
        theirs = second.reserve(KEY, text="Hej!", now=NOW)
    assert not mine.uncertain
    assert theirs.uncertain


def test_a_command_reading_the_ledger_while_the_daemon_runs_loses_nothing_the_daemon_records(
        path):
    """The daemon keeps its ledger open and opens it again for each account's thread; another
    process (`herald status`, `history`) opening and closing it must not take its journal away."""
    count = """
        import sys
        from bot.ledger import Ledger
        with Ledger.open(sys.argv[1]) as ledger:
            print(len(ledger.history()))
    """
    with Ledger.open(path) as daemon:
        daemon.skip_generation(KEY, "first", NOW)
        with Ledger.open(path):               # an account's thread, as every tick opens one
            pass
        assert run_python(count, str(path)).stdout.split() == ["1"]   # herald history
        for n, lang in enumerate(("en", "de", "fi"), start=1):
            daemon.skip_generation(PostKey(KEY.ref, KEY.stage, KEY.account, lang), "later",
                                   minutes(n))
        assert run_python(count, str(path)).stdout.split() == ["4"]


# --- process lock ----------------------------------------------------------------------------

HOLD_LOCK = """
    import sys, time
    from pathlib import Path
    from bot.ledger import acquire_lock
    lock = acquire_lock(Path(sys.argv[1]))
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_a_second_process_cannot_take_the_lock_and_is_told_who_holds_it(path):
    env = {**os.environ, "PYTHONPATH": PROJECT}
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HOLD_LOCK), str(path)],
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LedgerError) as caught:
            acquire_lock(path)
        assert str(caught.value) == f"another herald run is using {path} (pid {holder.pid})"
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with acquire_lock(path) as lock:
        assert lock.path == lock_path(path)


def test_the_lock_is_released_when_its_process_dies(path):
    died = run_python("""
        import os, sys
        from pathlib import Path
        from bot.ledger import acquire_lock
        acquire_lock(Path(sys.argv[1]))
        os._exit(3)
    """, str(path))
    assert died.returncode == 3, died.stderr
    with acquire_lock(path):
        pass


def test_a_released_lock_can_be_taken_again_in_the_same_process(path):
    first = acquire_lock(path)
    with pytest.raises(LedgerError, match=f"pid {os.getpid()}"):
        acquire_lock(path)
    first.release()
    first.release()
    with acquire_lock(path):
        pass


def test_the_lock_file_sits_beside_the_ledger(path):
    assert lock_path(path) == path.parent / "ledger.sqlite3.lock"


def test_times_in_another_zone_order_correctly_in_history(ledger):
    utc_later = NOW.astimezone(timezone.utc) + timedelta(seconds=1)
    other = PostKey("b", "announcement", "x", "en")
    ledger.skip(other, "r", utc_later)
    ledger.skip(KEY, "r", NOW)
    assert [e.key for e in ledger.history()] == [KEY, other]


# --- the life of a post, as the ledger keeps it ---------------------------------------------------

def test_a_later_error_never_clears_an_unknown_outcome(ledger):
    first = ledger.reserve(KEY, text="Hej!", now=NOW)
    ledger.fail(first, Unavailable("timed out", account="mastodon"), minutes(1))
    for n, error in enumerate([RateLimited("429", account="mastodon", retry_after=minutes(20)),
                               Rejected("duplicate content", account="mastodon"),
                               Unavailable("no connection", account="mastodon")]):
        retry = ledger.reserve(KEY, text="Hej!", now=minutes(10 + n))
        assert retry.uncertain
        entry = ledger.fail(retry, error, minutes(11 + n))
        assert entry.uncertain and [e.key for e in ledger.uncertain()] == [KEY]
    found = ledger.reserve(KEY, text="Hej!", now=minutes(30))
    assert found.uncertain
    ledger.record(found, Published("7", "https://m.example/7"), minutes(31))
    assert ledger.uncertain() == []


def test_a_lookup_that_finds_nothing_settles_a_post_so_it_can_be_skipped(ledger):
    lost = ledger.reserve(KEY, text="Hej!", now=NOW)
    ledger.fail(lost, Unavailable("timed out", account="mastodon"), minutes(1))
    with pytest.raises(LedgerConflict):
        ledger.skip(KEY, "missed", minutes(2))
    settled = ledger.settle(ledger.entry(KEY), None, minutes(2))
    assert not settled.uncertain and settled.state == "failed"
    assert ledger.skip(KEY, "missed", minutes(3)).state == "skipped"


def test_a_post_is_handed_out_with_the_time_it_was_first_reserved(ledger):
    first = ledger.reserve(KEY, text="Hej!", now=NOW)
    ledger.fail(first, RateLimited("429", account="mastodon"), minutes(1), minutes(15))
    retry = ledger.reserve(KEY, text="Hej!", now=minutes(15))
    assert first.first_reserved_at == retry.first_reserved_at == NOW
    assert ledger.entry(KEY).reserved_at == minutes(15)          # the latest attempt's start


def test_deleted_posts_are_kept_as_deleted_with_their_address(ledger):
    posted = ledger.record(ledger.reserve(KEY, text="Hej!", now=NOW),
                           Published("1", "https://m.example/1"), NOW)
    gone = ledger.delete(posted, minutes(5))
    assert gone.state == "deleted" and gone.url == "https://m.example/1" and gone.done
    with pytest.raises(LedgerConflict):
        ledger.reserve(KEY, text="Hej!", now=minutes(6))
    assert ledger.posted_keys() == {KEY}


def test_a_failed_deliberate_repeat_is_passed_over_until_the_user_asks_again(ledger):
    ledger.record(ledger.reserve(KEY, text="Hej!", now=NOW), Published("1", "u1"), NOW)
    repeat = ledger.reserve(KEY, text="Hej!", now=minutes(1), again=True, requested=True)
    ledger.fail(repeat, Rejected("token revoked", account="mastodon"), minutes(2))
    assert ledger.entry(KEY).generation == 1 and ledger.entry(KEY).left_to_user
    assert ledger.current(KEY).generation == 0                  # what the daemon works with
    with pytest.raises(AlreadyPosted):
        ledger.reserve(KEY, text="Hej!", now=minutes(3))
    asked = ledger.reserve(KEY, text="Hej!", now=minutes(4), again=True, requested=True)
    assert asked.generation == 1                                 # the same repeat, once more


def test_a_ledger_from_before_deleted_posts_keeps_its_rows_and_knows_its_stops(path):
    from bot.ledger.schema import connect, migrate

    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, MIGRATIONS[:3])
    for n, (kind, unknown) in enumerate([("AuthFailed", 0), ("RateLimited", 0),
                                         ("Unavailable", 1)]):
        conn.execute("INSERT INTO posts (ref, stage, account, lang, idempotency_key, state,"
                     " error_kind, outcome_unknown, attempts, created_at, updated_at)"
                     " VALUES (?, 'announcement', 'x', 'sv', ?, 'failed', ?, ?, 1, ?, ?)",
                     (f"e{n}", f"k{n}", kind, unknown, NOW.isoformat(), NOW.isoformat()))
    conn.close()
    with Ledger.open(path) as ledger:
        lives = {e.key.ref: e.life.value for e in ledger.history()}
        assert lives == {"e0": "given up", "e1": "retrying", "e2": "uncertain"}
        posted = ledger.record(ledger.reserve(KEY, text="a", now=NOW), Published("1", "u"), NOW)
        assert ledger.delete(posted, NOW).state == "deleted"
    connect(path).close()                                      # nothing left to apply


# --- reading what changed, and writing many at once ----------------------------------------------

def test_every_change_to_a_post_is_read_again_once_whichever_connection_made_it(path):
    with Ledger.open(path) as daemon, Ledger.open(path) as thread:
        _, start = daemon.changed_since(0)
        assert start == 0
        reserved = thread.reserve(KEY, text="Hej!", now=NOW)
        other = PostKey("other", "announcement", "mastodon", "sv")
        daemon.skip(other, "not wanted", NOW)
        changed, first = daemon.changed_since(start)
        assert sorted(e.key.ref for _, e in changed) == [KEY.ref, "other"]
        assert daemon.changed_since(first) == ([], first)         # nothing new: nothing read
        thread.record(reserved, Published("1", "https://social.example/1"), minutes(1))
        changed, second = daemon.changed_since(first)
        assert [(e.key, e.state) for _, e in changed] == [(KEY, "posted")]
        assert second > first
        every, latest = daemon.changed_since(0)                  # each row once, as it is now
        assert sorted((e.key.ref, e.state) for _, e in every) == [(KEY.ref, "posted"),
                                                                   ("other", "skipped")]
        assert latest == second


def test_a_ledger_from_before_revisions_numbers_its_rows_in_the_order_they_were_made(path):
    from bot.ledger.schema import migrate

    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, MIGRATIONS[:4])
    for n in range(3):
        conn.execute("INSERT INTO posts (ref, stage, account, lang, idempotency_key, state,"
                     " attempts, created_at, updated_at) VALUES (?, 'announcement', 'x', 'sv',"
                     " ?, 'skipped', 0, ?, ?)", (f"e{n}", f"k{n}", NOW.isoformat(),
                                                 NOW.isoformat()))
    conn.close()
    with Ledger.open(path) as ledger:
        changed, revision = ledger.changed_since(0)
        assert [e.key.ref for _, e in changed] == ["e0", "e1", "e2"] and revision == 3
        assert ledger.changed_since(1)[0][0][1].key.ref == "e1"
        ledger.skip_generation(PostKey("e0", "announcement", "x", "sv"), "again", NOW)
        assert ledger.changed_since(3)[1] == 4


def test_skipping_many_posts_at_once_records_what_skipping_each_would(tmp_path):
    keys = [PostKey(f"e{n}", "announcement", "mastodon", "sv") for n in range(4)]
    results = []
    for many in (False, True):
        with Ledger.open(tmp_path / f"{many}.sqlite3") as ledger:
            posted = ledger.record(ledger.reserve(keys[0], text="a", now=NOW),
                                   Published("1", "u"), NOW)
            assert posted.done
            ledger.reserve(keys[1], text="b", now=NOW)                 # may be out already
            failed = ledger.reserve(keys[2], text="c", now=NOW)
            ledger.fail(failed, Rejected("no", account="mastodon"), NOW)
            items = [(key, f"why {key.ref}", '{"ref": "x"}') for key in keys]
            if many:
                conflicts = ledger.skip_all(items, minutes(1))
            else:
                conflicts = []
                for key, why, event in items:
                    try:
                        ledger.skip_generation(key, why, minutes(1), event=event)
                    except LedgerConflict as exc:
                        conflicts.append(exc)
            assert [c.entry.key for c in conflicts] == [keys[1]]
            results.append([(e.key, e.generation, e.state, e.reason, e.event, e.idempotency_key,
                             e.updated_at) for e in ledger.history()])
    assert results[0] == results[1]


def test_first_sightings_recorded_together_keep_the_times_seen_before(ledger):
    assert ledger.first_seen("a", NOW) == NOW
    seen = ledger.first_seen_all(["a", "b", "c"], minutes(5))
    assert seen == {"a": NOW, "b": minutes(5), "c": minutes(5)}
    assert ledger.seen() == seen


def test_the_posting_times_of_the_last_day_are_read_alone_and_an_edit_counts_once(ledger):
    from bot.survey import posting_times

    def post(key, at, platform_id):
        ledger.record(ledger.reserve(key, text="t", now=at), Published(platform_id, "u"), at)

    keys = [PostKey(f"e{n}", "announcement", "mastodon", "sv") for n in range(4)]
    post(keys[0], NOW - timedelta(hours=30), "1")              # before the window
    post(keys[1], NOW - timedelta(hours=3), "2")
    post(keys[2], NOW - timedelta(hours=2), "1")               # an edit of the first
    post(keys[3], NOW - timedelta(hours=1), "3")
    other = PostKey("e9", "announcement", "x", "sv")
    post(other, NOW - timedelta(hours=1), "2")                 # another account's
    since = NOW - timedelta(hours=24)
    window = [t for t in posting_times(ledger.history())["mastodon"] if t > since]
    assert ledger.posting_times("mastodon", since) == window == [
        NOW - timedelta(hours=3), NOW - timedelta(hours=1)]
