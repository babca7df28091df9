"""The fault-injecting proxy: each fault does to Herald's real adapters what it says it does."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone

import pytest
import requests

from bot.errors import RateLimited, Unavailable
from bot.model import Account, OutgoingPost
from bot.platforms.bluesky import BlueskyPublisher
from bot.platforms.mastodon import MastodonPublisher
from bot.platforms.x import XPublisher
from tests.fakes.bluesky import FakePDS
from tests.fakes.gotosocial import SOURCE_URL, FakeGoToSocial
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.x import FakeX
from tests.faults.proxy import BLUESKY, FAULTS, MASTODON, X, Faults, FaultProxy

STATUSES = r"/api/v1/statuses"


def post(text: str = "Hackdag i Malmö", key: str = "hackdag/announcement/masto/sv"):
    return OutgoingPost(text=text, lang="sv", idempotency_key=key)


def mastodon(url: str, token: str, timeout: float = 5.0) -> MastodonPublisher:
    return MastodonPublisher(Account("masto", "mastodon", ("sv",), {"instance": url}),
                             {"access_token": token}, timeout=timeout)


def x_publisher(url: str, fake: FakeX, timeout: float = 5.0) -> XPublisher:
    return XPublisher(Account("x", "x", ("sv",), {"api_url": url}), fake.credentials(),
                      timeout=timeout)


def bluesky(url: str, pds: FakePDS, timeout: float = 5.0) -> BlueskyPublisher:
    return BlueskyPublisher(Account("sky", "bluesky", ("sv",), {"service": url}),
                            {"handle": pds.handle, "app_password": pds.app_password},
                            timeout=timeout)


@pytest.fixture
def masto():
    with FakeMastodon() as server, FaultProxy(server.url, MASTODON) as proxy:
        yield server, proxy


def test_without_faults_a_post_passes_through_unchanged(masto):
    server, proxy = masto
    published = mastodon(proxy.url, server.token).publish(post())
    [status] = server.status_list()
    assert status["text"] == "Hackdag i Malmö" and published.id == status["id"]
    assert [(p.method, p.path, p.fault, p.status, p.upstream) for p in proxy.passages()] == [
        ("POST", STATUSES, None, 200, 200)]
    assert server.received("POST", STATUSES)[0].header("Idempotency-Key") == \
        "hackdag/announcement/masto/sv"


def test_a_lost_answer_leaves_the_post_on_the_server_and_herald_without_an_answer(masto):
    server, proxy = masto
    proxy.force("lost", method="POST", path=STATUSES)
    with pytest.raises(Unavailable):
        mastodon(proxy.url, server.token).publish(post())
    assert len(server.status_list()) == 1
    [passage] = proxy.passages()
    assert (passage.fault, passage.upstream, passage.status) == ("lost", 200, None)


def test_a_connection_reset_reaches_no_server(masto):
    server, proxy = masto
    proxy.force("reset")
    with pytest.raises(Unavailable):
        mastodon(proxy.url, server.token).publish(post())
    assert server.status_list() == [] and not proxy.passages()[0].handled


def test_a_stalled_request_lands_after_the_client_gave_up(masto):
    server, proxy = masto
    proxy.faults.stall = 0.8
    proxy.force("stall")
    started = time.monotonic()
    with pytest.raises(Unavailable):
        mastodon(proxy.url, server.token, timeout=0.3).publish(post())
    assert time.monotonic() - started < 0.7 and server.status_list() == []
    assert proxy.wait_quiet(5)
    [passage] = proxy.passages()
    assert len(server.status_list()) == 1 and passage.upstream == 200
    assert passage.forwarded_at - passage.at >= 0.8


@pytest.mark.parametrize("fault", ["500", "502", "503"])
def test_server_errors_reach_herald_as_unavailable_and_the_server_never_sees_them(masto, fault):
    server, proxy = masto
    proxy.force(fault)
    with pytest.raises(Unavailable):
        mastodon(proxy.url, server.token).publish(post())
    assert server.status_list() == [] and proxy.passages()[0].status == int(fault)


def test_a_mastodon_429_states_its_reset_and_a_request_before_it_is_logged_early(masto):
    server, proxy = masto
    proxy.faults.reset_ahead = (1.0, 1.0)
    proxy.force("429")
    with pytest.raises(RateLimited) as caught:
        mastodon(proxy.url, server.token).publish(post())
    reset = proxy.passages()[0].reset
    assert reset - 0.001 <= caught.value.retry_after.timestamp() <= reset + 1.001  # Date: 1 s
    early = requests.get(proxy.url + "/api/v2/instance", timeout=5)
    assert early.status_code == 429 and early.headers["X-RateLimit-Remaining"] == "0"
    time.sleep(max(0.0, reset - time.time()) + 0.05)
    assert requests.get(proxy.url + "/api/v2/instance", timeout=5).status_code == 200
    assert [p.fault for p in proxy.passages()] == ["429", "early", None]
    assert proxy.early() == [proxy.passages()[1]] and server.status_list() == []


def test_a_429_from_the_server_itself_sets_the_reset_too(masto):
    server, proxy = masto
    server.rate_limit(1.0)
    with pytest.raises(RateLimited):
        mastodon(proxy.url, server.token).publish(post())
    assert requests.get(proxy.url + "/api/v2/instance", timeout=5).status_code == 429
    first, second = proxy.passages()
    assert (first.fault, first.upstream) == (None, 429) and first.reset is not None
    assert (second.fault, second.upstream) == ("early", None)


def test_an_x_429_holds_back_only_its_endpoint():
    with FakeX() as fake, FaultProxy(fake.url, X) as proxy:
        publisher = x_publisher(proxy.url, fake)
        proxy.force("429", path="/2/tweets")
        with pytest.raises(RateLimited) as caught:
            publisher.publish(post("Hackdag"))
        reset = proxy.passages()[0].reset
        assert caught.value.retry_after == datetime.fromtimestamp(reset, timezone.utc)
        fresh = x_publisher(proxy.url, fake)        # one that has not seen the 429 itself
        assert fresh.check() == f"@{fake.username}"              # another endpoint: allowed
        with pytest.raises(RateLimited):
            x_publisher(proxy.url, fake).publish(post("Hackdag"))
        assert [p.fault for p in proxy.passages()] == ["429", None, "early"]
        assert fake.posts == []


def test_a_bluesky_429_states_its_reset_and_the_session_stays_behind_the_proxy():
    with FakePDS() as pds, FaultProxy(pds.url, BLUESKY) as proxy:
        publisher = bluesky(proxy.url, pds)
        publisher.publish(post(key="a/announcement/sky/sv"))
        assert len(pds.requests) == len(proxy.passages()) >= 2   # login, create: all proxied
        proxy.force("429")
        with pytest.raises(RateLimited) as caught:
            publisher.publish(post("Hackdag igen", key="b/announcement/sky/sv"))
        reset = [p for p in proxy.passages() if p.fault == "429"][0].reset
        assert caught.value.retry_after == datetime.fromtimestamp(reset, timezone.utc)
        assert len(pds.requests) == len([p for p in proxy.passages() if p.handled])


def test_faults_are_drawn_at_the_configured_rate_and_the_seed_repeats_them():
    def run(seed: int) -> list[str | None]:
        with FakeMastodon() as server, \
                FaultProxy(server.url, MASTODON, Faults(rate=0.3, seed=seed)) as proxy:
            proxy.faults.stall = 0.0
            session = requests.Session()
            for _ in range(300):
                try:
                    session.get(proxy.url + "/api/v2/instance", timeout=5)
                except requests.ConnectionError:
                    session = requests.Session()
                proxy._resets.clear()          # count draws, not the early answers after a 429
            return [p.fault for p in proxy.passages()]

    first = run(1)
    assert first == run(1) != run(2)
    drawn = Counter(f for f in first if f is not None)
    assert 60 <= sum(drawn.values()) <= 120                    # 30 % of 300, give or take
    assert set(drawn) == set(FAULTS)


def test_gotosocial_ignores_the_idempotency_key_and_names_itself():
    with FakeGoToSocial() as gts, FakeMastodon() as masto:
        for server in (gts, masto):
            publisher = mastodon(server.url, server.token)
            publisher.publish(post())
            publisher.publish(post())
        assert len(gts.status_list()) == 2 and len(masto.status_list()) == 1
        info = requests.get(gts.url + "/api/v2/instance", timeout=5).json()
        assert info["source_url"] == SOURCE_URL and "mastodon" not in info["version"]
        assert mastodon(gts.url, gts.token).limits().max_chars == 5000
