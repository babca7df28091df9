"""Property-based: whatever a config holds, Herald answers with one clear line or works.

Configs are generated from a valid one by mutating it: values of the wrong type, missing keys,
huge strings, odd Unicode, extreme numbers, unknown keys, and raw bytes that are no TOML at
all. A config either loads, and then everything built from it works (the adapters, the timing
rules, planning and composing), or it is refused with one line naming the key, exit code 3:
never a traceback, never a hang.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.config import load_config, parse_config
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "content"
NOW = datetime(2027, 3, 1, 12, tzinfo=ZoneInfo("Europe/Stockholm"))

BASE = {
    "grace": "2h",
    "site": {"path": str(SAMPLE), "url": "https://civictech.se", "timezone": "Europe/Stockholm",
             "default_lang": "sv", "languages": ["sv", "en"], "events_dir": "_events",
             "permalink": "/:title/", "offset_policy": "clock", "hashtags": ["civictech"],
             "uploads": {"/uploads/": "_uploads"}},
    "stages": [{"name": "announcement", "kind": "announcement"},
               {"name": "reminder-1d", "kind": "reminder", "before": "1d",
                "template": "reminder"}],
    "templates": {"announcement": {"sv": "{title}\n\n{excerpt}\n{when}\n{link}",
                                   "en": "{title}\n{link}"}},
    "images": {"cards": True, "max_edge": 2048, "background": "#ffffff", "bluesky_bytes": 2000000},
    "accounts": {
        "masto": {"platform": "mastodon", "languages": ["sv", "en"],
                  "instance": "https://social.example", "visibility": "public",
                  "quiet_hours": "22:00-08:00", "min_gap": "5m", "on_cancel": "reply"},
        "x": {"platform": "x", "languages": ["sv"], "daily_cap": 5,
              "api_url": "https://api.example"},
        "sky": {"platform": "bluesky", "service": "https://pds.example", "link_card": True},
    },
}

# --- what a TOML file can hold ------------------------------------------------------------------

ODD = st.sampled_from(["", " ", "\u200b", "\u202e", "İ", "ß", "e\u0301", "🗓️", "👩‍👩‍👧", "\x00",
                       "\x1b[31m", "\n", "\r\n", "\t", "\ufeff", "\uffff", "𝓉𝒾𝓉𝓁ℯ", "../..",
                       "{title}", "{title:>9999}", "'", '"', "\\", "#", "[", "a.b"])
TEXT = st.one_of(
    st.text(max_size=30),
    st.lists(ODD, max_size=4).map("".join),
    st.builds(lambda s, n: s * n, st.sampled_from(["x", "é", "9", "🗓", " "]),
              st.sampled_from([1000, 100_000])),
    st.from_regex(r"-?\d{1,25}(w|d|h|m|s)(\d{1,3}[wdhms])?", fullmatch=True),
    st.sampled_from(["2h", "0s", "22:00-08:00", "24:00-08:00", "08:00-08:00", "public",
                     "direct", "delete", "mastodon", "x", "bluesky", "sv", "en", "de", "SV",
                     "xx", "https://", "http://x", "ftp://x", "https://a b", "UTC",
                     "Europe/Stockholm", "../../etc/passwd", "#zzzzzz", "#1D3557"]),
)
NUMBER = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, 1, -1, 2**63 - 1, -(2**63), 255, 256, 8192, 8193, 9999999999]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324]),
)
MOMENT = st.one_of(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 1, 1),
                                timezones=st.sampled_from([None, timezone.utc])),
                   st.dates(), st.times())
SCALAR = st.one_of(TEXT, NUMBER, st.booleans(), MOMENT)
KEY = st.one_of(st.sampled_from(["quiet_hour", "platfrom", "grase", "site", "languages",
                                 "template", "befor", "max_egde", "token", "handle",
                                 "link_card", "instance", "api_url", "visibility"]),
                st.text(min_size=1, max_size=20), ODD.filter(bool))
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(KEY, inner, max_size=3)),
                     max_leaves=6)


def paths(node, prefix=()):
    """Every path to a value in `node`, tables and lists included."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


ALL_PATHS = [p for p in paths(BASE) if p]


@st.composite
def configs(draw):
    """BASE with one to three changes: a value replaced, a key removed or an unknown one added."""
    data = json.loads(json.dumps(BASE))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = data
        try:
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUE)
        elif action == "remove":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(KEY)] = draw(VALUE)
        else:
            parent.append(draw(VALUE))
    return data


def names_a_key(message: str) -> bool:
    """True when `message` starts with a key Herald takes, or an unknown key it refuses."""
    return bool(re.match(r"(grace|ledger|secrets|site|stages|templates|images|accounts)\b",
                         message)
                or re.match(r'("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+): unknown key', message))


def is_one_line(message: str) -> bool:
    return bool(message) and "\n" not in message and "\r" not in message and len(message) < 600


# --- writing TOML (there is no writer in the standard library) -----------------------------------

def toml_string(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (date, clock)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml(data: dict) -> str:
    return "".join(f"{toml_string(k)} = {toml_value(v)}\n" for k, v in data.items())


# --- the properties ---------------------------------------------------------------------------

FAST = settings(max_examples=300, deadline=timedelta(seconds=5),
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(configs())
def test_a_config_loads_or_is_refused_in_one_line_naming_a_key(data):
    try:
        config = parse_config(data, base=SAMPLE)
    except ConfigError as exc:
        message = str(exc)
        assert is_one_line(message), message
        assert names_a_key(message), message
        return
    _everything_built_from_it_works(config)


def _everything_built_from_it_works(config) -> None:
    """The adapters, timing rules and runner take every account a loaded config holds."""
    from bot.platforms.bluesky import BlueskyPublisher
    from bot.platforms.mastodon import MastodonPublisher
    from bot.platforms.x import XPublisher
    from bot.runner import Runner
    from bot.timing import rules_for

    adapters = {"mastodon": MastodonPublisher, "x": XPublisher, "bluesky": BlueskyPublisher}
    for account in config.accounts:
        rules_for(account)
        adapters[account.platform](account, {})
    Runner(config, None, {})


def seconds(low: timedelta, high: timedelta):
    """Durations from `low` to `high`, as numbers of seconds or as text, often at the bounds."""
    lo, hi = int(low.total_seconds()), int(high.total_seconds())
    number = st.one_of(st.sampled_from([lo, hi, lo + 1, hi - 1]), st.integers(lo, hi))
    return st.one_of(number, number.map(lambda n: f"{n}s"),
                     st.integers(lo // 86400, hi // 86400).map(lambda d: f"{d}d"))


@st.composite
def extreme_configs(draw):
    """BASE with every bounded value drawn from anywhere within its bounds."""
    data = json.loads(json.dumps(BASE))
    data["grace"] = draw(seconds(timedelta(0), timedelta(days=30)))
    data["stages"][1]["before"] = draw(seconds(timedelta(seconds=1), timedelta(days=366)))
    data["stages"][0]["before"] = draw(seconds(timedelta(seconds=1), timedelta(days=366)))
    masto = data["accounts"]["masto"]
    masto["min_gap"] = draw(seconds(timedelta(0), timedelta(days=1)))
    hour, minute = st.integers(0, 23), st.integers(0, 59)
    masto["quiet_hours"] = draw(st.builds("{:02}:{:02}-{:02}:{:02}".format, hour, minute,
                                          hour, minute).filter(lambda p: p[:5] != p[6:]))
    data["accounts"]["x"]["daily_cap"] = draw(st.sampled_from([1, 2, 2**63 - 1]))
    data["site"]["timezone"] = draw(st.sampled_from(["UTC", "Pacific/Kiritimati",
                                                     "Pacific/Pago_Pago", "Europe/Stockholm",
                                                     "America/St_Johns", "Asia/Kathmandu"]))
    return data


@settings(max_examples=60, deadline=timedelta(seconds=20),
          suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(configs(), extreme_configs()))
def test_a_loaded_config_plans_composes_and_reports_status_for_the_sample_site(data):
    from bot.app import declared_limits
    from bot.content import load_site
    from bot.ledger import Ledger
    from bot.service import preview
    from bot.status import build_status

    try:
        config = parse_config(data, base=SAMPLE)
        site = load_site(config.site)   # a site path that names no folder is refused here
    except ConfigError:
        return
    posts = list(preview(site, config, now=NOW,
                         limits_for=lambda a: declared_limits(a, config)))
    assert all(p.text or p.error for p in posts)
    with tempfile.TemporaryDirectory() as scratch:
        with Ledger.open(Path(scratch) / "ledger.sqlite3") as ledger:
            build_status(config, site, ledger, now=NOW).format()


@settings(max_examples=40, deadline=timedelta(seconds=20),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=configs())
def test_validate_exits_3_with_one_line_or_runs_never_a_traceback(tmp_path, monkeypatch, data):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "herald.toml"
    path.write_text(toml(data), encoding="utf-8")
    started = time.monotonic()
    result = CliRunner().invoke(main, ["validate", "--config", str(path)])
    assert time.monotonic() - started < 20
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    assert "Traceback" not in result.output
    if result.exit_code == 3:
        assert is_one_line(result.stderr.strip()) and result.stderr.startswith("Error: ")
    else:
        assert result.exit_code in (0, 2), result.output


BYTES = st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from([b"\xef\xbb\xbf", b"grace = ", b'"2h"', b"nan", b"[site]\n",
                              b"[[stages]]\n", b"name = ", b"\n", b"\x00", b"\xff\xfe", b"[",
                              b"]", b"{", b"}", b"=", b'"""', b"'''", b"\\u0000", b"\xc3",
                              b"accounts.x.platform = ", b'"x"', b"1e400", b"0x7fffffffffffffff"]),
             max_size=12).map(b"".join),
)


@FAST
@given(raw=BYTES)
def test_any_bytes_in_the_config_file_load_or_are_one_line(raw):
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "herald.toml"
        path.write_bytes(raw)
        try:
            load_config(path, site=SAMPLE)
        except ConfigError as exc:
            assert is_one_line(str(exc)) and str(exc).startswith(str(path))


@pytest.mark.parametrize("size", [10_000, 999_000])
def test_a_huge_string_value_is_refused_quickly_and_shown_short(size):
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        parse_config({"site": {"timezone": "x" * size}}, base=SAMPLE)
    assert time.monotonic() - started < 2
    assert len(str(caught.value)) < 200
