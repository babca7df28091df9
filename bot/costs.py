"""What a platform charges for Herald's calls, from the prices its adapter declares (pure).

Preview, `announce --dry-run`, `status` and the daily figure all ask `cost`, so the figure a
user reads before posting is the one posting meets. Prices are data on `Limits` (X declares
them; Mastodon and Bluesky charge nothing); whether a text holds a link is decided by the
platform's own rule (`counting.has_link`): on X a bare `civictech.se` is a link, a field that
is not in the text is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .counting import has_link
from .model import Limits


@dataclass(frozen=True)
class Calls:
    """The billable calls made (or to be made) to one platform.

    `posts` holds the text of each post created; `alt_texts` counts image descriptions sent,
    `deletes` posts deleted, `reads` posts read back by lookups.
    """

    posts: tuple[str, ...] = ()
    alt_texts: int = 0
    deletes: int = 0
    reads: int = 0

    @classmethod
    def publishing(cls, text: str, alts: Iterable[str] = ()) -> "Calls":
        """The calls of publishing one post: the post, and one per image with an alt text."""
        return cls(posts=(text,), alt_texts=sum(1 for alt in alts if alt.strip()))

    def __add__(self, other: "Calls") -> "Calls":
        return Calls(self.posts + other.posts, self.alt_texts + other.alt_texts,
                     self.deletes + other.deletes, self.reads + other.reads)


def cost(limits: Limits, calls: Calls) -> float:
    """Return what `calls` cost in USD at the prices `limits` declares (rounded to 1/10,000 ¢)."""
    if limits.cost_per_link_post == limits.cost_per_post:  # a free platform: no link to look for
        total = len(calls.posts) * limits.cost_per_post
    else:
        total = sum(limits.cost_per_link_post if has_link(text, limits) else limits.cost_per_post
                    for text in calls.posts)
    total += (calls.alt_texts * limits.cost_per_alt_text + calls.deletes * limits.cost_per_delete
              + calls.reads * limits.cost_per_read)
    return round(total, 6)
