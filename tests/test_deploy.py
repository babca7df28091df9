"""The systemd units in deploy/systemd/, checked on paper and tried as far as this machine allows.

There is no running systemd here: the units are checked with `systemd-analyze`, and Herald is
run with the command line, environment, paths and confinement each unit gives it
(tests/sandbox.py) against the fake platforms. Tests marked `install` run the wheel installed
in a fresh virtualenv, like /opt/herald.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config
from bot.secrets import SecretsStore
from tests.conftest import NO_NETWORK, ROOT, add_event, credentials_env, site_copy
from tests.fakes.bluesky import FakePDS
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.x import FakeX
from tests.sandbox import Service, parse_unit, value, values
from tests.test_daemon import wait_for

SYSTEMD = ROOT / "deploy" / "systemd"
UNITS = ("herald.service", "herald-pull.service", "herald-pull.timer")
ZONE = ZoneInfo("Europe/Stockholm")

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")


def sandbox_problem() -> str | None:
    """Say why units cannot be reproduced here (no Linux, libseccomp or Landlock), else None."""
    import ctypes

    if not sys.platform.startswith("linux"):
        return "confining a process as systemd does needs Linux"
    try:
        ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return "libseccomp.so.2 is not installed"
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if libc.syscall(444, None, 0, 1) < 4:
        return "this kernel has no Landlock with network rules (ABI 4, Linux 6.7)"
    if shutil.which("systemd-analyze") is None:
        return "systemd-analyze is not installed here"
    return None


needs_sandbox = pytest.mark.skipif(sandbox_problem() is not None,
                                   reason=sandbox_problem() or "")


def outside_home(venv: Path) -> bool:
    """True when the venv's interpreter lives outside /root and /home (ProtectHome hides those)."""
    real = os.path.realpath(venv / "bin" / "python")
    return not real.startswith(("/root/", "/home/"))


def test_the_readme_names_every_deployment_file():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "deploy").rglob("*")):
        if path.is_file():
            assert f"deploy/{path.parent.name}/{path.name}" in readme or path.name in readme, path


# --- systemd: the unit files on paper ----------------------------------------------------------

@needs_systemd_analyze
def test_systemd_analyze_verify_finds_nothing_wrong_with_the_units(tmp_path):
    for name in UNITS:   # ExecStart must exist: point /opt/herald at this checkout's virtualenv
        text = (SYSTEMD / name).read_text().replace("/opt/herald", sys.prefix)
        (tmp_path / name).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in UNITS)],
                            capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@needs_systemd_analyze
@pytest.mark.parametrize("name", ["herald.service", "herald-pull.service"])
def test_the_units_hardening_rates_ok_in_systemd_analyze_security(name):
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                             str(SYSTEMD / name)], capture_output=True, text=True)
    if "--offline" in result.stderr:
        pytest.skip("this systemd-analyze cannot rate unit files offline (systemd < 250)")
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert level, result.stdout + result.stderr
    exposed = "\n".join(line for line in result.stdout.splitlines() if line.startswith("✗"))
    assert float(level.group(1)) <= 2.0, exposed


def test_the_example_config_keeps_ledger_secrets_and_images_where_the_unit_lets_herald_write():
    service = parse_unit(SYSTEMD / "herald.service")
    pull = parse_unit(SYSTEMD / "herald-pull.service")
    state = Path("/var/lib") / value(service, "Service", "StateDirectory")
    cache = Path("/var/cache") / value(service, "Service", "CacheDirectory")
    etc = Path("/etc") / value(service, "Service", "ConfigurationDirectory")
    assert f"HERALD_CONFIG={etc / 'herald.toml'}" in values(service, "Service", "Environment")
    config = load_config(SYSTEMD / "herald.toml")
    assert config.ledger.parent == state and config.secrets.parent == state
    assert config.images.cache_dir.is_relative_to(cache)
    assert config.site.root == Path(value(pull, "Service", "WorkingDirectory"))
    assert config.site.root.is_relative_to(state)
    assert value(pull, "Service", "StateDirectory") == value(service, "Service", "StateDirectory")
    sysusers = (SYSTEMD / "herald.sysusers").read_text().splitlines()
    (user,) = [line.split() for line in sysusers if line.startswith("u ")]
    assert user[1] == value(service, "Service", "User") == value(pull, "Service", "User")
    assert Path(user[-2]) == state                     # HOME: git and ssh settings live there


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None or os.geteuid() != 0,
                    reason="needs systemd-sysusers and root (it writes passwd files)")
def test_systemd_sysusers_creates_the_herald_system_user(tmp_path):
    (tmp_path / "etc").mkdir()
    subprocess.run(["systemd-sysusers", f"--root={tmp_path}", str(SYSTEMD / "herald.sysusers")],
                   check=True, capture_output=True)
    entry = next(line for line in (tmp_path / "etc" / "passwd").read_text().splitlines()
                 if line.startswith("herald:"))
    name, _, uid, _, _, home, shell = entry.split(":")
    assert int(uid) < 1000 and home == "/var/lib/herald" and shell == "/usr/sbin/nologin"


# --- systemd: Herald under the unit ------------------------------------------------------------

class NotifySocket:
    """The datagram socket systemd listens on for READY=1 and friends."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[str] = []

    def wait_for(self, message: str, timeout: float = 60) -> None:
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + timeout
        while message not in self.messages:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {message} from Herald (got {self.messages})")
            try:
                self.messages += self.sock.recv(4096).decode().split("\n")
            except socket.timeout:
                pass

    def close(self) -> None:
        self.sock.close()


def test_herald_tells_systemd_when_it_is_ready_and_when_it_stops(tmp_path):
    site, _ = site_copy(tmp_path / "site")
    config = tmp_path / "herald.toml"
    config.write_text(f'ledger = "{tmp_path / "ledger.sqlite3"}"\n'
                      f'secrets = "{tmp_path / "secrets.toml"}"\n'
                      f'[site]\npath = "{site}"\n[images]\ncache_dir = "{tmp_path / "cache"}"\n'
                      '[accounts.masto]\nplatform = "mastodon"\n'
                      'instance = "https://social.example"\n')
    notify = NotifySocket(tmp_path / "notify")
    log = tmp_path / "stderr"
    env = {**os.environ, **NO_NETWORK, "NOTIFY_SOCKET": str(notify.path), "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        notify.wait_for("READY=1")
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded the configuration" in log.read_text(), 30, "the reload")
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1")
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        notify.close()
    assert "stopped" in log.read_text()


PROBE = r"""
import mmap, os, socket, sys
def attempt(what, act):
    try:
        act()
        print(what, "allowed")
    except OSError as exc:
        print(what, "refused")
attempt("write state", lambda: open(os.environ["STATE_DIRECTORY"] + "/probe", "w").close())
attempt("write cache", lambda: open(os.environ["CACHE_DIRECTORY"] + "/probe", "w").close())
attempt("write tmp", lambda: open(os.environ["TMPDIR"] + "/probe", "w").close())
attempt("write config", lambda: open(os.environ["CONFIGURATION_DIRECTORY"] + "/x", "w").close())
attempt("write elsewhere", lambda: open(sys.argv[1], "w").close())
attempt("read /root", lambda: os.listdir("/root"))
attempt("netlink socket", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW))
attempt("inet socket", lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close())
attempt("connect elsewhere", lambda: socket.create_connection(("127.0.0.1", 443), timeout=2))
attempt("renice", lambda: os.setpriority(os.PRIO_PROCESS, 0, 5))
attempt("writable code", lambda: mmap.mmap(-1, 4096, prot=7))
print("umask", oct(os.umask(0)))
"""


@needs_sandbox
def test_the_sandbox_refuses_what_the_unit_forbids(tmp_path):
    """Herald passing under the sandbox means something only if the sandbox bites."""
    python = Path("/usr/bin/python3") if Path("/usr/bin/python3").exists() else \
        Path(sys.executable)
    service = Service.from_unit(SYSTEMD / "herald.service", root=tmp_path / "root",
                                install=tmp_path, home="/var/lib/herald")
    service.spec["hide_home"] = not os.path.realpath(python).startswith(("/root/", "/home/"))
    service.argv = [str(python), "-c", PROBE, str(tmp_path / "outside")]
    result = service.run()
    assert result.returncode == 0, result.stderr
    said = dict(line.rsplit(" ", 1) for line in result.stdout.splitlines())
    assert said == {
        "write state": "allowed", "write cache": "allowed", "write tmp": "allowed",
        "write config": "refused", "write elsewhere": "refused",
        "read /root": "refused" if service.spec["hide_home"] else "allowed",
        "netlink socket": "refused", "inet socket": "allowed", "connect elsewhere": "refused",
        "renice": "refused", "writable code": "refused", "umask": "0o77"}


class Deployed:
    """A scratch root laid out as the README's systemd set-up, with the fakes as platforms."""

    def __init__(self, root: Path, install: Path, fakes: tuple):
        self.root, self.install = root, install
        self.mastodon, self.x, self.bluesky = fakes
        (user,) = [line for line in (SYSTEMD / "herald.sysusers").read_text().splitlines()
                   if line.startswith("u ")]
        home = user.rsplit('"', 1)[1].split()[0]
        self.herald = Service.from_unit(SYSTEMD / "herald.service", root=root, install=install,
                                        home=home)
        if not outside_home(install):
            self.herald.spec["hide_home"] = False
        self.state = Path(self.herald.env["STATE_DIRECTORY"])
        self.ports = tuple(int(f.url.rsplit(":", 1)[1].split("/")[0]) for f in fakes)
        self.origin = root / "origin.git"
        self.write_config()
        self.clone_site()
        self.pull = Service.from_unit(SYSTEMD / "herald-pull.service", root=root,
                                      install=install, home=home)
        self.pull.spec["hide_home"] = self.herald.spec["hide_home"]

    def write_config(self) -> None:
        """Install deploy/systemd/herald.toml, its accounts pointed at the fakes."""
        text = (SYSTEMD / "herald.toml").read_text()
        text = re.sub(r'(?<=")/(var|etc)/', lambda m: f"{self.root}/{m.group(1)}/", text)
        text = text.replace('"https://mastodon.social"', f'"{self.mastodon.url}"')
        text = text.replace('"https://bsky.social"', f'"{self.bluesky.url}"')
        text = text.replace('platform = "x"\n', f'platform = "x"\napi_url = "{self.x.url}"\n')
        Path(self.herald.env["HERALD_CONFIG"]).write_text(text)
        store = SecretsStore(self.state / "secrets.toml")   # as `herald auth` leaves it
        credentials = credentials_env(self.mastodon, self.x, self.bluesky)
        for account in ("mastodon", "x", "bluesky"):
            prefix = f"HERALD_{account.upper()}_"
            store.save(account, {k[len(prefix):].lower(): v for k, v in credentials.items()
                                 if k.startswith(prefix)})

    def clone_site(self) -> None:
        """Publish the sample site as a git repository and clone it where the config says."""
        site, _ = site_copy(self.root / "work")
        git = ["git", "-c", "user.name=Site", "-c", "user.email=site@example.org"]
        subprocess.run([*git, "init", "-q", "-b", "main", str(site)], check=True)
        subprocess.run([*git, "-C", str(site), "add", "-A"], check=True)
        subprocess.run([*git, "-C", str(site), "commit", "-q", "-m", "Events"], check=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(site), str(self.origin)], check=True)
        subprocess.run(["git", "clone", "-q", str(self.origin), str(self.state / "site")],
                       check=True)
        self.work = site

    def publish_event(self, ref: str, start: datetime, image: str | None = None) -> None:
        add_event(self.work, ref, start, image)
        git = ["git", "-c", "user.name=Site", "-c", "user.email=site@example.org", "-C",
               str(self.work)]
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", f"Add {ref}"], check=True)
        subprocess.run([*git, "push", "-q", str(self.origin), "main"], check=True)

    def posts(self) -> tuple[int, int, int]:
        return (len(self.mastodon.status_list()), len(self.x.posts), len(self.bluesky.records))


@pytest.fixture
def deployed(tmp_path, opt_herald):
    with FakeMastodon() as mastodon, FakeX() as x, FakePDS() as bluesky:
        yield Deployed(tmp_path / "root", opt_herald, (mastodon, x, bluesky))


@pytest.mark.install
@needs_sandbox
def test_the_unit_runs_herald_once_confined_and_posts_an_event_the_pull_timer_brought(deployed):
    first = deployed.herald.run("--once", tcp_ports=deployed.ports)
    assert first.returncode == 0, first.stderr
    assert "already on the site when Herald first ran" in first.stderr
    assert deployed.posts() == (0, 0, 0)
    start = datetime.now(ZONE).replace(microsecond=0) + timedelta(days=30)
    deployed.publish_event("hostmote", start, image="/uploads/meetup-banner.jpg")

    pulled = deployed.pull.run()
    assert pulled.returncode == 0, pulled.stderr
    assert (deployed.state / "site" / "_events" / "hostmote-sv.md").exists()
    second = deployed.herald.run("--once", tcp_ports=deployed.ports)
    assert second.returncode == 0, second.stderr
    assert deployed.posts() == (2, 2, 2)            # Swedish and English on every platform
    assert deployed.mastodon.received("POST", "/api/v2/media")
    secrets = deployed.state / "secrets.toml"
    assert "session" in tomllib.loads(secrets.read_text())["bluesky"]   # written back
    assert oct(secrets.stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in deployed.state.iterdir()) == [
        "ledger.sqlite3", "ledger.sqlite3.lock", "secrets.toml", "site"]
    assert list((Path(deployed.herald.env["CACHE_DIRECTORY"]) / "images").iterdir())  # prepared


@pytest.mark.install
@needs_sandbox
def test_the_unit_starts_reloads_and_stops_herald_as_systemd_would(deployed, tmp_path):
    notify = NotifySocket(tmp_path / "notify")
    log = tmp_path / "journal"
    with open(log, "wb") as journal:
        process = deployed.herald.popen(tcp_ports=deployed.ports,
                                        env={"NOTIFY_SOCKET": str(notify.path)},
                                        stdout=journal, stderr=subprocess.STDOUT)
    try:
        notify.wait_for("READY=1")
        wait_for(lambda: "waiting" in log.read_text(), 60, "the first round")
        add_event(deployed.state / "site", "hostmote",
                  datetime.now(ZONE).replace(microsecond=0) + timedelta(days=30))
        reload = value(parse_unit(SYSTEMD / "herald.service"), "Service", "ExecReload")
        subprocess.run(reload.replace("$MAINPID", str(process.pid)), shell=True, check=True)
        wait_for(lambda: deployed.posts() == (2, 2, 2), 60, "the new event's posts")
        assert deployed.mastodon.received("POST", "/api/v2/media")   # a card, drawn confined
        process.send_signal(signal.SIGTERM)            # systemctl stop
        notify.wait_for("STOPPING=1")
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        notify.close()
    journal = log.read_text()
    assert "reloaded the configuration and the content" in journal
    assert "stopped" in journal and "Traceback" not in journal
