"""A bilingual campaign on four fake accounts behind fault proxies, with SIGKILLs of `herald run`.

The design is plain data: three events that appear on the site, 20 s apart, while Herald runs,
each announced when it appears and reminded twice before it starts, in Swedish and English, on
Mastodon, GoToSocial, X and Bluesky. Everything runs on the real clock:

    appears ─30 s─ reminder-early ─30 s─ reminder-late ──────── 9 minutes ──────── starts

so every post of the campaign must go out: no quiet hours, no daily cap, a grace of 2 hours, and
each reminder comes 9 minutes or more before its event (a post delayed past the start would be
skipped). These are "the posts the timing rules say must go out". A reminder that comes due
while its announcement still waits is still due: it comes before the start.

The accounts' `request_timeout` is a few seconds (`Design.request_timeout`) and a stalled
request is held just past it, so that a stall, the lookup it forces on a server without
idempotency and Herald's back-off (which starts at a short timeout) take seconds, not minutes:
the same rules as a daemon with the default 30 s, fifteen times faster.

`run_campaign` starts the fakes, a `FaultProxy` in front of each, and the real `herald run`
(`python -m bot run`), kills it with SIGKILL at a random moment of its life and starts it again
at once, as systemd would, `design.kills` times; then it lets a last run finish the campaign,
stops it with SIGTERM, and counts from the servers' own state (tests/faults/tally.py).
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from .proxy import BLUESKY, MASTODON, X, Faults, FaultProxy, Passage
from .tally import Figures, Key, Report, ServerPost, tally

PROJECT = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo("Europe/Stockholm")
ANNOUNCEMENT = "announcement"
STEP = 30
"""Seconds from an event's appearance to its first reminder, and between its reminders."""
LEAD = 600
"""Seconds from an event's appearance on the site to its start."""
STAGES = ((ANNOUNCEMENT, None), ("reminder-early", LEAD - STEP),
          ("reminder-late", LEAD - 2 * STEP))
"""Each stage and how many seconds before the start it is due (None: when the event appears)."""
SUPERSEDES = {"reminder-early": ("reminder-late",)}
"""A reminder still waiting when the next one comes due gives way to it (Herald's rule)."""
LANGS = ("sv", "en")
ACCOUNTS = ("mastodon", "gotosocial", "x", "bluesky")
TITLES = {"sv": "Träff {n}", "en": "Meetup {n}"}
PREFIXES = {(ANNOUNCEMENT, "sv"): "", (ANNOUNCEMENT, "en"): "",
            ("reminder-early", "sv"): "Snart: ", ("reminder-early", "en"): "Soon: ",
            ("reminder-late", "sv"): "Sista påminnelsen: ",
            ("reminder-late", "en"): "Last reminder: "}
LIFE = (0.5, 4.0)
"""Each killed run lives a random time in this range, in seconds: killed while it starts, reads,
posts, waits for an answer or sleeps (Herald needs about 1.5 s to send its first request)."""
SPACING = 20.0
"""At least this many seconds between two events' appearances: 18 posts per account come due
within 100 seconds, while the kills go on."""
SECONDS_PER_KILL = 2.6
"""About how long one start-and-kill takes; the events are spread over that many seconds."""
REQUEST_TIMEOUT = 2.0
"""The accounts' `request_timeout`, in seconds."""
STALL_PAST_TIMEOUT = 1.0
KILL_WINDOW = 0.5
"""A run killed this soon after a 429 reached it may not have recorded the reset (Herald records
a failure within milliseconds of its answer): the next run cannot know that reset."""
"""A stalled request is held this much longer than the request timeout, then passed on: it
lands after Herald gave up on it, before Herald may look it up (one timeout after the failure)."""


# --- the design ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    ref: str
    number: int
    appears: float
    """When its files are written to the site (epoch seconds)."""
    start: int
    image: bool


@dataclass(frozen=True)
class Design:
    """What the campaign posts and how hard it is tested."""

    kills: int
    seed: int
    fault_rate: float
    events: tuple[Event, ...]
    request_timeout: float = REQUEST_TIMEOUT
    min_gap: str = "1s"
    check_every: float = 1.0

    @property
    def stall(self) -> float:
        """How long the proxies hold a stalled request: just past the request timeout."""
        return self.request_timeout + STALL_PAST_TIMEOUT

    def expected(self) -> list[Key]:
        """Every post the timing rules say must go out."""
        return [(e.ref, stage, account, lang) for e in self.events for stage, _ in STAGES
                for account in ACCOUNTS for lang in LANGS]

    def identify(self) -> dict[str, tuple[str, str, str]]:
        """The first line of every post of the campaign -> (ref, stage, lang)."""
        return {first_line(e.number, stage, lang): (e.ref, stage, lang)
                for e in self.events for stage, _ in STAGES for lang in LANGS}

    @property
    def deadline(self) -> float:
        """After this no post of the campaign may go out: the last event has started."""
        return float(max(e.start for e in self.events))

    @property
    def name(self) -> str:
        return (f"{self.kills} kills + {self.fault_rate:.0%} faults, Mastodon + GoToSocial + X "
                f"+ Bluesky")


def design(t0: float, kills: int, *, seed: int = 1, fault_rate: float = 0.3,
           request_timeout: float = REQUEST_TIMEOUT) -> Design:
    """Lay out a campaign starting at `t0` whose posts come while `kills` kills go on.

    Three events for 50 kills; a longer run adds one event per 45 kills, spread over the time
    the kills take, so that posts keep coming due while Herald is killed.
    """
    count = 3 + max(0, kills - 50) // 45
    phase = kills * SECONDS_PER_KILL
    spacing = max(SPACING, (phase - 2 * STEP - 30) / (count - 1))
    events = tuple(Event(f"traff-{n}", n, t0 + 5 + n * spacing,
                         int(t0 + 5 + n * spacing + LEAD) + 1, image=n % 3 == 1)
                   for n in range(count))
    return Design(kills, seed, fault_rate, events, request_timeout=request_timeout)


def first_line(number: int, stage: str, lang: str) -> str:
    return PREFIXES[(stage, lang)] + TITLES[lang].format(n=number)


# --- the site and the config --------------------------------------------------------------

def write_event(site: Path, event: Event) -> None:
    """Write both language versions of an event, each file appearing whole (rename)."""
    folder = site / "_events"
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime.fromtimestamp(event.start, ZONE)
    for lang in LANGS:
        image = ""
        if event.image:
            _poster(site / "_uploads" / f"poster-{event.number}.jpg", event.number)
            image = (f'image: "/uploads/poster-{event.number}.jpg"\n'
                     f'image-alt: "{TITLES[lang].format(n=event.number)}"\n')
        text = (f'---\ntitle: "{TITLES[lang].format(n=event.number)}"\nref: {event.ref}\n'
                f"lang: {lang}\nevent-date: {start:%Y-%m-%d %H:%M:%S}\n{image}"
                f'place: "Goto 10, Stockholm"\n---\nVälkomna!\n')
        temporary = site / f".{event.ref}-{lang}.md"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, folder / f"{event.ref}-{lang}.md")


def _poster(path: Path, number: int) -> None:
    from PIL import Image, ImageDraw

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (800, 450), (29 + number * 20 % 200, 53, 87))
    ImageDraw.Draw(image).rectangle((100, 100, 700, 350), fill=(230, 57, 70))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(buffer.getvalue())
    os.replace(temporary, path)


def write_config(path: Path, design: Design, urls: dict[str, str]) -> Path:
    stages = "".join(f'\n[[stages]]\nname = "{name}"\nkind = "'
                     + ("announcement\"\n" if before is None
                        else f'reminder"\nbefore = "{before}s"\n')
                     for name, before in STAGES)
    templates = "".join(
        f'\n[templates.{name}]\n'
        + "".join(f'{lang} = "{PREFIXES[(name, lang)]}{{title}}\\n{{when}}\\n{{link}}"\n'
                  for lang in LANGS) for name, _ in STAGES)
    accounts = ""
    for account in ACCOUNTS:
        platform = "mastodon" if account == "gotosocial" else account
        where = {"mastodon": "instance", "x": "api_url", "bluesky": "service"}[platform]
        accounts += (f'\n[accounts.{account}]\nplatform = "{platform}"\n'
                     f'languages = {json.dumps(list(LANGS))}\n{where} = "{urls[account]}"\n'
                     f'min_gap = "{design.min_gap}"\n'
                     f'request_timeout = "{design.request_timeout:g}s"\n')
    path.write_text(f"""ledger = "ledger.sqlite3"
secrets = "secrets.toml"

[site]
path = "site"
url = "https://civictech.se"
timezone = "{ZONE.key}"
{stages}{templates}
[images]
cards = false
cache_dir = "cache"
{accounts}""", encoding="utf-8")
    return path


# --- the run ------------------------------------------------------------------------------

class Campaign:
    """The fakes, their proxies and the `herald run` process of one campaign."""

    def __init__(self, folder: Path, design: Design, stack: ExitStack):
        from tests.fakes.bluesky import FakePDS
        from tests.fakes.gotosocial import FakeGoToSocial
        from tests.fakes.mastodon import FakeMastodon
        from tests.fakes.x import FakeX

        self.folder, self.design = folder, design
        self.servers = {"mastodon": stack.enter_context(FakeMastodon()),
                        "gotosocial": stack.enter_context(FakeGoToSocial()),
                        "x": stack.enter_context(FakeX(daily_posts=1000)),
                        "bluesky": stack.enter_context(FakePDS())}
        flavours = {"mastodon": MASTODON, "gotosocial": MASTODON, "x": X, "bluesky": BLUESKY}
        self.proxies = {
            name: stack.enter_context(FaultProxy(
                server.url, flavours[name], Faults(design.fault_rate, design.seed * 10 + n,
                                                   stall=design.stall), name=name))
            for n, (name, server) in enumerate(self.servers.items())}
        self.config = write_config(folder / "herald.toml", design,
                                   {name: p.url for name, p in self.proxies.items()})
        self.site = folder / "site"
        (self.site / "_events").mkdir(parents=True, exist_ok=True)
        self.log = folder / "herald.log"
        self.written: set[str] = set()
        self.kills: list[float] = []
        """When each SIGKILL was sent (epoch seconds)."""
        masto, gts, x, pds = self.servers.values()
        keys = x.credentials()
        self.env = {**os.environ, "PYTHONPATH": str(PROJECT),
                    "HERALD_MASTODON_ACCESS_TOKEN": masto.token,
                    "HERALD_GOTOSOCIAL_ACCESS_TOKEN": gts.token,
                    **{f"HERALD_X_{k.upper()}": v for k, v in keys.items()},
                    "HERALD_BLUESKY_HANDLE": pds.handle,
                    "HERALD_BLUESKY_APP_PASSWORD": pds.app_password}
        self.env.pop("HERALD_CONFIG", None)

    def write_due(self) -> None:
        """Put on the site every event whose time to appear has come."""
        for event in self.design.events:
            if event.ref not in self.written and time.time() >= event.appears:
                write_event(self.site, event)
                self.written.add(event.ref)

    def start(self) -> subprocess.Popen:
        with open(self.log, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--config", str(self.config), "--catch-up",
                 "--check-every", f"{self.design.check_every:g}"],
                env=self.env, stdout=subprocess.DEVNULL, stderr=log, cwd=self.folder)

    def wait(self, seconds: float, until: Callable[[], bool] = lambda: False) -> None:
        """Wait `seconds` (or until `until()`), putting events on the site as they come due."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            self.write_due()
            time.sleep(0.02)

    def history(self) -> list[dict]:
        """The entries of `herald history --json`."""
        done = subprocess.run([sys.executable, "-m", "bot", "history", "--json", "--config",
                               str(self.config)], env=self.env, cwd=self.folder,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"herald history failed ({done.returncode}): {done.stderr}")
        return history_entries(done.stdout)

    def server_posts(self) -> dict[str, list[ServerPost]]:
        """Every post each server holds now."""
        masto, gts, x, pds = self.servers.values()

        def statuses(server) -> list[ServerPost]:
            return [ServerPost(s["id"], s["text"], s["in_reply_to_id"], at=s["created_at"])
                    for s in _settled(server.status_list)]

        def record(stored) -> ServerPost:
            reply = stored.value.get("reply") or {}
            return ServerPost(stored.uri, stored.value["text"],
                              (reply.get("parent") or {}).get("uri"),
                              (reply.get("root") or {}).get("uri"))

        return {"mastodon": statuses(masto), "gotosocial": statuses(gts),
                "x": [ServerPost(p.id, p.text, p.reply_to) for p in _settled(lambda: x.posts)],
                "bluesky": [record(r) for r in _settled(lambda: pds.records.values())]}

    def count(self, *, early: bool = True) -> dict[str, Figures]:
        """Count, per account, what the servers hold against the design and history."""
        history, posts = self.history(), self.server_posts()
        figures = {}
        for account in ACCOUNTS:
            passages = self.proxies[account].passages() if early else []
            unheard = [p for p in passages if p.fault == "early"
                       and heard_only_by_a_killed_run(p, passages, self.kills)]
            figures[account] = tally(
                account, self.design.expected(), posts[account], self.design.identify(),
                history, langs=LANGS, announcement=ANNOUNCEMENT, supersedes=SUPERSEDES,
                early=[_early(p) for p in passages if p.fault == "early" and p not in unheard],
                unrecorded=[_early(p) for p in unheard])
        return figures

    def uploads(self) -> list[str]:
        """How many uploads the posts with images took (each needs one)."""
        masto, gts, x, pds = self.servers.values()
        lines = []
        for name, server in (("mastodon", masto), ("gotosocial", gts)):
            media = _settled(lambda: server.media.values())
            loose = sum(1 for m in media if m.status_id is None)
            lines.append(f"{name}: {len(media)} uploads, {loose} never attached")
        with_media = sum(1 for p in _settled(lambda: x.posts) if p.media_ids)
        lines.append(f"x: {len(_settled(lambda: x.media.values()))} uploads for {with_media} "
                     f"posts with an image")
        records = [r for r in _settled(lambda: pds.records.values())
                   if (r.value.get("embed") or {}).get("$type") == "app.bsky.embed.images"]
        blobs = len(pds.received("POST", r"/xrpc/com\.atproto\.repo\.uploadBlob"))
        lines.append(f"bluesky: {blobs} blob uploads for {len(records)} records with an image")
        return ["uploads: " + "; ".join(lines)]


def run_campaign(folder: Path, design: Design, *,
                 say: Callable[[str], None] = lambda line: None) -> Report:
    """Run the campaign in `folder` and measure it (see the module docstring)."""
    rng = random.Random(design.seed)
    began = time.monotonic()
    with ExitStack() as stack:
        campaign = Campaign(folder, design, stack)
        exits: list[str] = []
        for kill in range(1, design.kills + 1):
            campaign.write_due()
            process = campaign.start()
            campaign.wait(rng.uniform(*LIFE), lambda: process.poll() is not None)
            if process.poll() is not None:
                exits.append(f"run {kill} ended by itself with exit code {process.returncode}")
            campaign.kills.append(time.time())
            process.kill()
            process.wait()
            if kill % 10 == 0:
                say(f"{kill} kills, {time.monotonic() - began:.0f} s")
        process = campaign.start()
        while time.time() < design.deadline and process.poll() is None:
            campaign.wait(5.0)
            figures = campaign.count(early=False).values()
            if not any(f.missing or f.history for f in figures):
                break                       # all out, and history says so: nothing to wait for
        if process.poll() is not None:
            exits.append(f"the last run ended by itself with exit code {process.returncode}")
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=design.stall + 30)
        except subprocess.TimeoutExpired:
            exits.append(f"the last run did not stop within {design.stall + 30:g} s of SIGTERM")
            process.kill()
            process.wait()
        for proxy in campaign.proxies.values():    # a stalled request may still land
            proxy.wait_quiet(design.stall + 15)
            with open(folder / f"proxy-{proxy.name}.jsonl", "w", encoding="utf-8") as out:
                out.writelines(json.dumps(asdict(p)) + "\n" for p in proxy.passages())
        figures = campaign.count()
        return Report(design, figures, design.kills, time.monotonic() - began,
                      {name: p.counts() for name, p in campaign.proxies.items()}, exits,
                      campaign.uploads(), campaign.log)


def history_entries(output: str) -> list[dict]:
    """The entries of `herald history --json` (schema herald.history/1, or a bare list)."""
    answer = json.loads(output)
    return answer["entries"] if isinstance(answer, dict) else answer


def heard_only_by_a_killed_run(early: Passage, passages: list[Passage], kills: list[float],
                               window: float = KILL_WINDOW) -> bool:
    """Was the reset `early` came before announced only to a run killed right after?

    True when the 429 that announced it was answered less than `window` seconds before a
    SIGKILL that came before `early`: that run may have died before recording the reset, and
    the ledger is a later run's only memory of it.
    """
    heard = [p.done or p.at for p in passages if p.fault != "early" and p.reset == early.reset
             and (p.fault == "429" or p.upstream == 429)]
    return bool(heard) and any(min(heard) <= k <= early.at and k - min(heard) < window
                               for k in kills)


def _early(passage) -> str:
    when = datetime.fromtimestamp(passage.at, ZONE)
    return (f"{passage.proxy}: {passage.method} {passage.path} at {when:%H:%M:%S.%f}"[:-3]
            + f", {passage.reset - passage.at:.3f} s before the reset")


def _settled(read: Callable[[], object]) -> list:
    """Copy a fake's collection while its server threads may be adding to it."""
    for _ in range(100):
        try:
            return list(read())          # type: ignore[call-overload]
        except RuntimeError:             # changed size during iteration: read again
            time.sleep(0.001)
    raise RuntimeError("a fake's collection kept changing while being read")
