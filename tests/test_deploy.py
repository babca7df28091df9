"""Deployment as the README documents it: the systemd units, the scheduled workflow, the packages.

There is no running systemd here: the units are checked with `systemd-analyze`, and Herald is
run with the command line, environment, paths and confinement each unit gives it
(tests/sandbox.py). The workflow's shell steps run twice, with the ledger carried between the
runs as the Actions cache carries it. Tests marked `install` build the wheel and the sdist and
install them in fresh virtualenvs: they need PyPI and take about a minute together.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.config import load_config
from bot.secrets import SecretsStore, env_name
from tests.conftest import ROOT, credentials_env, site_copy
from tests.test_daemon import wait_for
from tests.fakes.bluesky import FakePDS
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.x import FakeX
from tests.sandbox import Service, parse_unit, value, values

SYSTEMD = ROOT / "deploy" / "systemd"
WORKFLOW = ROOT / "deploy" / "github" / "herald.yml"
UNITS = ("herald.service", "herald-pull.service", "herald-pull.timer")
ZONE = ZoneInfo("Europe/Stockholm")
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
# Anything that tries a real platform meets a closed port instead; PyPI stays reachable.
NO_NETWORK = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
              "NO_PROXY": "127.0.0.1,localhost,pypi.org,files.pythonhosted.org"}

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


def add_event(site: Path, ref: str, start: datetime, image: str | None = None) -> None:
    """Write a new bilingual event; without `image` Herald draws a card for it."""
    picture = f'image: "{image}"\nimage-alt: "Banner"\n' if image else ""
    for lang, title in (("sv", "Höstmöte"), ("en", "Autumn meetup")):
        (site / "_events" / f"{ref}-{lang}.md").write_text(
            f'---\ntitle: "{title}"\nref: {ref}\nlang: {lang}\n{picture}'
            f"event-date: {start:%Y-%m-%d %H:%M:%S %z}\nplace: Goto 10, Stockholm\n---\n"
            "Välkomna!\n", encoding="utf-8")


# --- the packages, built once and installed as the README says ---------------------------------

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


def outside_home(venv: Path) -> bool:
    """True when the venv's interpreter lives outside /root and /home (ProtectHome hides those)."""
    real = os.path.realpath(venv / "bin" / "python")
    return not real.startswith(("/root/", "/home/"))


@pytest.mark.install
def test_the_wheel_carries_the_fonts_and_the_sdist_the_sample_site_and_tests(dist):
    """The wheel is built from the sdist, so a wheel that works proves the sdist builds."""
    wheel, sdist = dist
    names = zipfile.ZipFile(wheel).namelist()
    for font in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE-DejaVu.txt"):
        assert f"bot/fonts/{font}" in names
    entry_points = zipfile.ZipFile(wheel).read(f"herald-{VERSION}.dist-info/entry_points.txt")
    assert "herald = bot.cli:main" in entry_points.decode()
    with tarfile.open(sdist) as archive:
        files = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("config.example.toml", "README.md", "content/_events/demodag-2029.md",
                   "content/_uploads/demo-day.png", "tests/conftest.py", "tests/fakes/server.py",
                   "deploy/systemd/herald.service", "deploy/github/herald.yml",
                   "bot/fonts/DejaVuSans.ttf"):
        assert needed in files
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]


@pytest.mark.install
def test_the_installed_wheel_reports_the_version_from_its_metadata(opt_herald, tmp_path):
    out = subprocess.run([str(opt_herald / "bin" / "herald"), "--version"], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert out.stdout == f"herald, version {VERSION}\n"
    attribute = subprocess.run([str(opt_herald / "bin" / "python"), "-c",
                                "import bot; print(bot.__version__)"], cwd=tmp_path,
                               capture_output=True, text=True, check=True)
    assert attribute.stdout == f"{VERSION}\n"


def preview(command: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **NO_NETWORK, "HOME": str(home)}
    for name in ("PYTHONPATH", "HERALD_CONFIG", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        env.pop(name, None)
    return subprocess.run([*command, "preview", "--config", str(ROOT / "config.example.toml"),
                           "--site", str(ROOT / "content"), "--now", "2027-03-01T12:00"],
                          cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.install
def test_the_installed_wheel_previews_the_sample_site_from_outside_the_checkout(opt_herald,
                                                                              tmp_path):
    installed = preview([str(opt_herald / "bin" / "herald")], tmp_path, tmp_path / "home")
    checkout = preview([sys.executable, "-m", "bot"], ROOT, tmp_path / "home-checkout")
    assert installed.returncode == 0, installed.stderr
    assert installed.stderr == ""              # no warning from a dependency on every command
    assert "drawn card → 1200x675 PNG" in installed.stdout   # the fonts came with the wheel
    assert installed.stdout == checkout.stdout


@pytest.mark.install
def test_pipx_installs_the_wheel_as_the_herald_command(dist, tmp_path):
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"),
           "PIPX_BIN_DIR": str(tmp_path / "bin"), "PIPX_MAN_DIR": str(tmp_path / "man")}
    result = subprocess.run([sys.executable, "-m", "pipx", "install", str(dist[0])], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    herald = tmp_path / "bin" / "herald"
    version = subprocess.run([str(herald), "--version"], capture_output=True, text=True)
    assert version.stdout == f"herald, version {VERSION}\n"
    shown = preview([str(herald)], tmp_path, tmp_path / "home")
    assert shown.returncode == 0 and shown.stderr == ""
    assert "Civic Tech Demodag 2029" in shown.stdout


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


# --- the scheduled GitHub workflow -------------------------------------------------------------

def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))          # YAML 1.1 reads the key `on` as true
    return data


def step(job: dict, uses: str) -> dict:
    (found,) = [s for s in job["steps"] if s.get("uses", "").startswith(uses + "@")]
    return found


def test_the_workflow_runs_on_a_schedule_one_run_at_a_time_reading_the_repository_only():
    data = workflow()
    crons = [entry["cron"] for entry in data["on"]["schedule"]]
    assert crons and all(len(cron.split()) == 5 for cron in crons)
    assert "workflow_dispatch" in data["on"]
    assert data["concurrency"]["cancel-in-progress"] is False
    assert "${{" not in data["concurrency"]["group"]   # one group for every run, whatever ran it
    assert data["permissions"] == {}
    assert data["jobs"]["post"]["permissions"] == {"contents": "read"}
    post = data["jobs"]["post"]
    assert post["timeout-minutes"] <= 30
    assert step(post, "actions/checkout")["with"]["persist-credentials"] is False


def test_the_workflow_hands_each_account_its_repository_secrets_in_the_posting_step_only():
    post = workflow()["jobs"]["post"]
    needed = {env_name(name, field) for name, fields in
              (("mastodon", ["access_token"]),
               ("x", ["api_key", "api_secret", "access_token", "access_secret"]),
               ("bluesky", ["handle", "app_password"])) for field in fields}
    config = load_config(ROOT / "config.example.toml")
    assert {a.name for a in config.accounts} == {"mastodon", "x", "bluesky"}
    for s in post["steps"]:
        given = {k: v for k, v in (s.get("env") or {}).items() if "secrets." in str(v)}
        if "herald run --once" in s.get("run", ""):
            assert given == {name: f"${{{{ secrets.{name} }}}}" for name in needed}
        else:
            assert given == {}, s.get("name")
    assert "secrets." not in json.dumps(post.get("env", {})) + json.dumps(workflow()["env"])


def test_the_ledger_is_restored_by_prefix_and_saved_under_a_new_key_even_after_a_failure():
    data = workflow()
    post = data["jobs"]["post"]
    restore, save = step(post, "actions/cache/restore"), step(post, "actions/cache/save")
    assert restore["with"]["key"] == save["with"]["key"]
    assert "${{ github.run_id }}" in save["with"]["key"]
    assert "${{ github.run_attempt }}" in save["with"]["key"]
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"])
    assert restore["with"]["path"] == save["with"]["path"] == ".herald/data"
    assert data["env"]["XDG_DATA_HOME"] == "${{ github.workspace }}/.herald/data"
    assert save.get("if") == "always()"
    order = [s.get("uses", s.get("run", "")) for s in post["steps"]]
    posting = next(i for i, s in enumerate(order) if "herald run --once" in s)
    assert order.index(restore["uses"]) < posting < order.index(save["uses"])


def test_only_the_weekly_keepalive_job_may_write_to_actions():
    data = workflow()
    keepalive = data["jobs"]["keepalive"]
    weekly = re.fullmatch(r"github\.event\.schedule == '(.+)'", keepalive["if"]).group(1)
    assert weekly in [entry["cron"] for entry in data["on"]["schedule"]]
    assert keepalive["permissions"] == {"actions": "write"}
    (script,) = [s["run"] for s in keepalive["steps"]]
    assert "actions/workflows/" in script and script.rstrip().endswith("/enable\"")


EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


class Runner:
    """Play one job of the workflow like a GitHub runner, with the cache kept in a dict.

    `run:` steps run in bash as GitHub runs them; checkout and setup-python are done by the
    test (a fresh copy of the site repository, a virtualenv on PATH); cache restore and save
    follow GitHub's rules: an exact key, else the newest cache whose key starts with a
    restore key, and a key that is never overwritten.
    """

    def __init__(self, venv: Path, home: Path, overrides: dict[str, str]):
        self.venv, self.home, self.overrides = venv, home, overrides
        self.cache: dict[str, Path] = {}
        self.store = home / "actions-cache"

    def run(self, job: str, workspace: Path, run_id: int, schedule: str
            ) -> dict[str, int | None] | None:
        """Return each step's exit code (None: skipped), or None when the job is skipped."""
        data = workflow()
        context = {"github.workspace": str(workspace), "github.run_id": str(run_id),
                   "github.run_attempt": "1", "github.token": "", "schedule": schedule}
        if not self.condition(data["jobs"][job].get("if"), False, context):
            return None
        env = {k: self.expand(v, context) for k, v in {**data.get("env", {}),
                                                        **data["jobs"][job].get("env", {})}.items()}
        env.update(self.overrides)
        results: dict[str, int | None] = {}
        failed = False
        for s in data["jobs"][job]["steps"]:
            name = s.get("name", s.get("uses"))
            if not self.condition(s.get("if"), failed, context):
                results[name] = None
                continue
            code = self.action(s, workspace, context) if "uses" in s else \
                self.shell(s, workspace, env, context)
            results[name] = code
            failed = failed or code != 0
        return results

    def expand(self, text, context) -> str:
        def one(match):
            name = match.group(1)
            if name.startswith("secrets."):
                return ""                                   # no credentials: no server
            return context[name]
        return EXPRESSION.sub(one, str(text))

    @staticmethod
    def condition(expression, failed: bool, context) -> bool:
        if expression is None:
            return not failed
        if expression == "always()":
            return True
        match = re.fullmatch(r"github\.event\.schedule == '(.+)'", expression)
        if match:
            return match.group(1) == context["schedule"]
        raise AssertionError(f"the test runner does not know the condition {expression!r}")

    def shell(self, s, workspace, env, context) -> int:
        step_env = {k: self.expand(v, context) for k, v in (s.get("env") or {}).items()}
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("HERALD_", "VIRTUAL_ENV", "PYTHON", "XDG_"))}
        full = {**base, **NO_NETWORK, **env, **step_env, "HOME": str(self.home), "CI": "true",
                "PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
                "GITHUB_WORKSPACE": str(workspace), "GITHUB_REPOSITORY": "example/site",
                "GITHUB_RUN_ID": context["github.run_id"]}
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                                 self.expand(s["run"], context)], cwd=workspace, env=full,
                                capture_output=True, text=True)
        self.output = getattr(self, "output", "") + result.stdout + result.stderr
        return result.returncode

    def action(self, s, workspace, context) -> int:
        uses = s["uses"].split("@")[0]
        given = {k: self.expand(v, context) for k, v in (s.get("with") or {}).items()}
        if uses in ("actions/checkout", "actions/setup-python"):
            return 0
        target = workspace / given["path"]
        if uses == "actions/cache/restore":
            keys = [given["key"]] if given["key"] in self.cache else []
            for prefix in given.get("restore-keys", "").split():
                keys += [k for k in reversed(list(self.cache)) if k.startswith(prefix)][:1]
            if keys:
                shutil.copytree(self.cache[keys[0]], target, dirs_exist_ok=True)
            return 0
        if uses == "actions/cache/save":
            if given["key"] in self.cache or not target.exists():
                return 1                                    # GitHub refuses both
            self.cache[given["key"]] = self.store / given["key"]
            shutil.copytree(target, self.cache[given["key"]])
            return 0
        raise AssertionError(f"the test runner does not play {uses}")


def site_repository(folder: Path) -> Path:
    """A site repository as the workflow expects it: events plus herald.toml at the root."""
    site, _ = site_copy(folder)
    text = (ROOT / "config.example.toml").read_text()
    (site / "herald.toml").write_text(re.sub(r'(?m)^path = "content"', 'path = "."', text))
    return site


def history(runner: Runner, workspace: Path, cache_key: str) -> list[dict]:
    env = {**os.environ, **NO_NETWORK, "XDG_DATA_HOME": str(runner.cache[cache_key]),
           "HERALD_CONFIG": str(workspace / "herald.toml")}
    out = subprocess.run([str(runner.venv / "bin" / "herald"), "history", "--json"],
                         cwd=workspace, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.install
def test_the_workflow_steps_carry_the_ledger_from_one_run_to_the_next(opt_herald, tmp_path):
    every_quarter = workflow()["on"]["schedule"][0]["cron"]
    runner = Runner(opt_herald, tmp_path / "home", {"HERALD_PACKAGE": str(ROOT)})
    repository = site_repository(tmp_path / "repository")

    def checkout(name: str) -> Path:
        return Path(shutil.copytree(repository, tmp_path / name))

    first = runner.run("post", checkout("run-1"), 101, every_quarter)
    assert set(first.values()) == {0}, runner.output          # the first run posts no backlog
    skipped = history(runner, repository, "herald-ledger-101-1")
    assert skipped and {e["state"] for e in skipped} == {"skipped"}

    add_event(repository, "hostmote", datetime.now(ZONE).replace(microsecond=0)
              + timedelta(days=30))
    second = runner.run("post", checkout("run-2"), 102, every_quarter)
    assert second["Post what is due"] == 6, runner.output      # no credentials: exit 6
    assert second["Save the ledger"] == 0                      # saved all the same
    carried = history(runner, repository, "herald-ledger-102-1")
    new = [e for e in carried if e["ref"] == "hostmote"]
    assert new and {e["state"] for e in new} == {"failed"}
    assert all("HERALD_" in e["error"] for e in new), new    # names what to set
    assert [e for e in carried if e["ref"] != "hostmote"] == skipped

    runner.cache.clear()                 # without the cache the same run would skip the event
    lost = runner.run("post", checkout("run-3"), 103, every_quarter)
    assert lost["Post what is due"] == 0
    assert {e["state"] for e in history(runner, repository, "herald-ledger-103-1")
            if e["ref"] == "hostmote"} == {"skipped"}
    assert runner.run("keepalive", checkout("run-4"), 104, every_quarter) is None
