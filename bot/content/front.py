"""Split an event file into front matter and body, and read the front matter's YAML safely.

The YAML means what PyYAML's safe loader says it means (YAML 1.1: `yes` is true, `2026-02-24`
is a date), read by libyaml when PyYAML has it, as Jekyll reads it. Two things are refused
before any value is built, so that no front matter can make Herald hang or fill memory:

- aliases that expand to more than `MAX_ALIAS_VALUES` values beyond the document itself (the
  "billion laughs"), or an anchor used inside itself;
- a sexagesimal number (`1:30:00`) longer than `MAX_NUMBER_CHARS`, whose value takes
  quadratic time to build.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_ALIAS_VALUES = 10_000
"""How many values aliases may add to a document when expanded (real files use none)."""

MAX_NUMBER_CHARS = 4_300
"""The longest sexagesimal number read (Python's own limit for decimal integers)."""

MAX_MESSAGE_CHARS = 200
"""The longest piece of a YAML error message repeated in a problem."""

_BOUNDARY = re.compile(r"^-{3,}\s*$", re.MULTILINE)  # python-frontmatter's YAML boundary
_BASE = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader


class FrontMatterError(ValueError):
    """The front matter cannot be used; the message says why, for a user."""


class _Loader(_BASE):  # type: ignore[misc, valid-type]
    """PyYAML's safe loader with sexagesimal numbers bounded in length."""


def _bounded(construct):
    def construct_number(loader, node):
        if ":" in node.value and len(node.value) > MAX_NUMBER_CHARS:
            raise ConstructorError(None, None, f"a number of {len(node.value):,} characters "
                                   f"(at most {MAX_NUMBER_CHARS:,} are read)", node.start_mark)
        return construct(loader, node)
    return construct_number


_Loader.add_constructor("tag:yaml.org,2002:int", _bounded(SafeConstructor.construct_yaml_int))
_Loader.add_constructor("tag:yaml.org,2002:float",
                        _bounded(SafeConstructor.construct_yaml_float))


def split(text: str) -> tuple[str, str]:
    """Return (front matter, body) of a file that starts with a `---` line."""
    if not _BOUNDARY.match(text):
        raise FrontMatterError("missing; the file must start with a --- line")
    parts = _BOUNDARY.split(text, 2)
    if len(parts) < 3:
        raise FrontMatterError("no closing --- line")
    return parts[1], parts[2]


def load(raw: str) -> Any:
    """Return the value of one YAML document; raise FrontMatterError for anything unusable."""
    loader = _Loader(raw)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "*" in raw:  # an alias is written `*name`; without one there is nothing to expand
            _check_aliases(node)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        where = f" at line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise FrontMatterError(f"invalid YAML{where}: "
                               f"{_clip(exc.problem or exc.context or 'unreadable')}") from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise FrontMatterError(f"invalid YAML: {_clip(str(exc))}") from None
    finally:
        loader.dispose()


def _check_aliases(root: Node) -> None:
    """Refuse a node graph whose aliases expand too far, or that contains itself."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        ident = id(node)
        if finished:
            open_.discard(ident)
            sizes[ident] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if ident in sizes:
            continue
        if ident in open_:
            raise FrontMatterError("an anchor is used inside itself (&name ... *name), which "
                                   "would never end; the file is skipped")
        open_.add(ident)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    added = sizes[id(root)] - len(sizes)
    if added > MAX_ALIAS_VALUES:
        raise FrontMatterError(f"aliases (*name) would expand the front matter by {added:,} "
                               f"values, more than the {MAX_ALIAS_VALUES:,} Herald allows (an "
                               f"alias bomb?); the file is skipped")


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS - 1] + "…"
