"""What `herald validate` says about how Herald reads an event: without a time of day, and the
names in its `herald:` block, which only the config can check."""

from __future__ import annotations

from collections.abc import Iterable

from ..config import KINDS, PLATFORMS, Config
from ..config_read import suggestion
from ..model import Event, Problem
from ..planner import DATE_ONLY_TIME, allows, control


def date_only_problems(events: Iterable[Event], config: Config) -> list[Problem]:
    """Say, for each file of an event without a time of day, what Herald assumed.

    The language versions of one event get the same words, so validate shows one line.
    """
    timed = [s for s in config.stages if s.before is not None]
    at: dict[str, list[str]] = {}
    for stage in timed:
        at.setdefault(f"{stage.date_only_time or DATE_ONLY_TIME:%H:%M}", []).append(stage.name)
    said = "posts say the date alone"
    if len(at) == 1:
        (clock, names), = at.items()
        said += f"; {_and(names)} {'goes' if len(names) == 1 else 'go'} at {clock}"
    elif at:
        said += "; its stages go at " + _and([f"{clock} ({_and(names)})"
                                             for clock, names in at.items()])
    if at:
        said += " (date_only_time)"
    return [Problem(e.source, "event-date",
                    f"no time of day ({e.start:%Y-%m-%d}; a start at 00:00:00 counts as none): "
                    f"{said}; write a time in event-date to change that")
            for e in events if e.date_only]


def control_problems(events: Iterable[Event], config: Config) -> list[Problem]:
    """Check the names in each `herald:` block against the config, and blocks that disagree."""
    accounts = [a.name for a in config.accounts]
    targets = dict.fromkeys([*PLATFORMS, *accounts])
    stages = dict.fromkeys([*(s.name for s in config.stages), *KINDS])
    groups: dict[tuple[bool, str], dict[str, Event]] = {}
    for event in events:
        groups.setdefault((event.published, event.ref), {})[event.lang] = event
    problems = []
    for versions in groups.values():
        together = control(versions)
        for event in versions.values():
            rules = event.herald
            if rules is None:
                continue
            problems.extend(_names(event, rules.accounts or (), accounts))
            for target, stage, _ in rules.texts:
                where = f"herald.text.{target}"
                if target not in targets:
                    hint = suggestion(target, targets) or f" (platforms and accounts: " \
                                                         f"{', '.join(targets)})"
                    problems.append(Problem(event.source, where, f"no platform or account is "
                                                                 f"called {target!r}{hint}; "
                                                                 f"this text is never used"))
                elif stage and stage not in stages:
                    hint = suggestion(stage, stages) or f" (stages and kinds: " \
                                                        f"{', '.join(stages)})"
                    problems.append(Problem(event.source, f"{where}.{stage}",
                                            f"no stage or kind is called {stage!r}{hint}; this "
                                            f"text is never used"))
            if rules.skip and len(versions) > 1 and not all(
                    v.herald is not None and v.herald.skip for v in versions.values()):
                problems.append(Problem(event.source, "herald.skip",
                                        "set in this language version only; Herald leaves the "
                                        "whole event alone, in every language"))
        if not together.skip and not any(allows(together, a) for a in config.accounts):
            for event in versions.values():
                if event.herald is not None and (event.herald.platforms is not None
                                                 or event.herald.accounts is not None):
                    problems.append(Problem(event.source, "herald",
                                            "its platforms and accounts leave none of the "
                                            "configured accounts; nothing is posted about it"))
    return problems


def _names(event: Event, named: Iterable[str], accounts: list[str]) -> list[Problem]:
    found = []
    for name in named:
        if name not in accounts:
            hint = suggestion(name, accounts) or f" (accounts: {', '.join(accounts)})"
            found.append(Problem(event.source, "herald.accounts",
                                 f"{name!r} is not an account of the config{hint}; nothing "
                                 f"goes on an account it does not name"))
    return found


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
