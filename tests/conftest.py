"""Shared fixtures: all three fake platforms on 127.0.0.1 and a Herald config that uses them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.bluesky import FakePDS
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.x import FakeX

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "content"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "civictech"
# Give this to a Herald started in a subprocess: whatever tries a real platform meets a
# closed port (an account without credentials tries none); PyPI stays reachable for pip.
NO_NETWORK = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
              "NO_PROXY": "127.0.0.1,localhost,pypi.org,files.pythonhosted.org"}


@dataclass
class Platforms:
    """The three running fakes, and the config and environment that point Herald at them."""

    mastodon: FakeMastodon
    x: FakeX
    bluesky: FakePDS
    config: Path
    env: dict[str, str]
    ledger: Path
    site: Path
    start: datetime
    """When the copy's spring meetup (ref varmote-2027) starts: 60 days from today."""


def site_copy(folder: Path) -> tuple[Path, datetime]:
    """Copy the sample site, moving its spring meetup to 18:00 sixty days from today."""
    zone = ZoneInfo("Europe/Stockholm")
    start = datetime.combine(date.today() + timedelta(days=60), time(18), tzinfo=zone)
    shutil.copytree(SAMPLE, folder)
    for path in (folder / "_events").glob("2027-04-15-*.md"):
        path.write_text(path.read_text(encoding="utf-8").replace(
            "event-date: 2027-04-15 18:00:00 +02:00",
            f"event-date: {start:%Y-%m-%d %H:%M:%S %z}"), encoding="utf-8")
    return folder, start


def write_config(path: Path, *, mastodon: str, x: str, bluesky: str, site: Path,
                 state: Path, extra: str = "") -> Path:
    """Write a config with one bilingual account per platform, all on local fake servers."""
    path.write_text(f"""
ledger = "{state / 'ledger.sqlite3'}"
secrets = "{state / 'secrets.toml'}"
{extra}
[site]
path = "{site}"
url = "https://civictech.se"
hashtags = ["civictech"]

[images]
cache_dir = "{state / 'cache'}"

[accounts.mastodon]
platform = "mastodon"
languages = ["sv", "en"]
instance = "{mastodon}"

[accounts.x]
platform = "x"
languages = ["sv", "en"]
api_url = "{x}"

[accounts.bluesky]
platform = "bluesky"
languages = ["sv", "en"]
service = "{bluesky}"
""", encoding="utf-8")
    return path


def credentials_env(mastodon: FakeMastodon, x: FakeX, bluesky: FakePDS) -> dict[str, str]:
    """The environment variables that hand each account its credentials."""
    keys = x.credentials()
    return {
        "HERALD_MASTODON_ACCESS_TOKEN": mastodon.token,
        "HERALD_X_API_KEY": keys["api_key"],
        "HERALD_X_API_SECRET": keys["api_secret"],
        "HERALD_X_ACCESS_TOKEN": keys["access_token"],
        "HERALD_X_ACCESS_SECRET": keys["access_secret"],
        "HERALD_BLUESKY_HANDLE": bluesky.handle,
        "HERALD_BLUESKY_APP_PASSWORD": bluesky.app_password,
    }


@pytest.fixture
def platforms(tmp_path, monkeypatch):
    """Start fake Mastodon, X and Bluesky servers and a config for the bundled sample site."""
    state = tmp_path / "state"
    state.mkdir()
    site, start = site_copy(tmp_path / "site")
    with FakeMastodon() as mastodon, FakeX() as x, FakePDS() as bluesky:
        config = write_config(tmp_path / "herald.toml", mastodon=mastodon.url, x=x.url,
                              bluesky=bluesky.url, site=site, state=state)
        env = credentials_env(mastodon, x, bluesky)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield Platforms(mastodon, x, bluesky, config, env, state / "ledger.sqlite3", site,
                        start)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Keep every test's caches (parsed events, images) out of the user's cache folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def restore_logging():
    """Undo the logging set-up a command run in-process makes (`herald run` configures it)."""
    import logging

    loggers = [logging.getLogger(name) for name in ("bot", "herald")]
    saved = [(lg, lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    yield
    for logger, level, handlers, propagate in saved:
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


class OutsideNetwork(AssertionError):
    """A test tried to reach an address other than this machine's loopback."""


_LOCAL = ("127.", "::1", "localhost")


@pytest.fixture(autouse=True)
def no_network_beyond_loopback(monkeypatch):
    """Fail any test that resolves or connects to anything but 127.0.0.1: no real platform."""
    import socket

    resolve, connect = socket.getaddrinfo, socket.socket.connect

    def guarded_getaddrinfo(host, *args, **kwargs):
        if host is not None and not str(host).startswith(_LOCAL):
            raise OutsideNetwork(f"a test tried to look up {host}")
        return resolve(host, *args, **kwargs)

    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and \
                not str(address[0]).startswith(_LOCAL):
            raise OutsideNetwork(f"a test tried to connect to {address[0]}")
        return connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


def pytest_configure(config):
    """Stop at once, with one clear line, when the shared fixtures are not beside the checkout."""
    needed = (FIXTURES / "_events", ROOT.parent / "shared" / "specs")
    missing = [str(path) for path in needed if not path.is_dir()]
    if missing:
        raise pytest.UsageError(
            f"the tests need the team's shared/ folder beside this checkout; not found: "
            f"{', '.join(missing)}")


def add_event(site: Path, ref: str, start: datetime, image: str | None = None) -> None:
    """Write a new bilingual event; without `image` Herald draws a card for it."""
    picture = f'image: "{image}"\nimage-alt: "Banner"\n' if image else ""
    for lang, title in (("sv", "Höstmöte"), ("en", "Autumn meetup")):
        (site / "_events" / f"{ref}-{lang}.md").write_text(
            f'---\ntitle: "{title}"\nref: {ref}\nlang: {lang}\n{picture}'
            f"event-date: {start:%Y-%m-%d %H:%M:%S %z}\nplace: Goto 10, Stockholm\n---\n"
            "Välkomna!\n", encoding="utf-8")


# --- Herald built and installed as the README says (tests marked `install`) ------------------

@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> tuple[Path, Path]:
    """Build the sdist, then the wheel from it, as `python -m build` does."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out.glob("herald-*.whl")
    (sdist,) = out.glob("herald-*.tar.gz")
    return wheel, sdist


@pytest.fixture(scope="session")
def opt_herald(dist, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel installed, like /opt/herald in the systemd set-up."""
    venv = tmp_path_factory.mktemp("opt") / "herald"
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    if subprocess.run([python, "-m", "venv", str(venv)], capture_output=True).returncode != 0:
        python = sys.executable
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    result = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                             str(dist[0])], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return venv


@pytest.fixture(scope="session")
def real_pds():
    """The real Bluesky PDS for the whole session (see tests/servers/bluesky_pds.py).

    Skips, with one line saying why, when it cannot start here; fails instead when
    HERALD_REQUIRE_PDS=1 (as in CI).
    """
    from tests.servers import bluesky_pds

    try:
        server = bluesky_pds.start()
    except bluesky_pds.Unavailable as exc:
        if bluesky_pds.required():
            pytest.fail(f"the real Bluesky PDS is required ({bluesky_pds.REQUIRE}=1) but cannot "
                        f"start: {exc}", pytrace=False)
        pytest.skip(f"no real Bluesky PDS: {exc}")
    try:
        yield server
    finally:
        bluesky_pds.stop()


def pytest_collection_modifyitems(config, items):
    """Skip the real-PDS tests up front, in one summary line, where the PDS is not installed."""
    from tests.servers import bluesky_pds

    wanted = [item for item in items if item.get_closest_marker("real_pds")]
    if wanted and not bluesky_pds.installed() and not bluesky_pds.required():
        skip = pytest.mark.skip(reason=f"no real Bluesky PDS: {bluesky_pds.why_not_installed()}")
        for item in wanted:
            item.add_marker(skip)
