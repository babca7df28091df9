"""Build a synthetic Jekyll site from the real civictech.se front matter, at any size.

    python bench/synthetic_site.py FOLDER FILES [--seed N]

Each event gets a Swedish and an English file, written from the real files' front matter and
bodies (a Swedish one and an English one, in turn), with its own ref, a start between 2020 and
2030 at a real local time and offset, and for one event in three one of the real images. The
same seed always writes the same site.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "civictech"
ZONE = ZoneInfo("Europe/Stockholm")
FIRST_DAY = datetime(2020, 1, 1, tzinfo=ZONE)
DAYS = (datetime(2030, 12, 31, tzinfo=ZONE) - FIRST_DAY).days
_REPLACED = re.compile(r"^(ref|lang|event-date|image):.*\n", re.MULTILINE)


def templates(fixtures: Path = FIXTURES) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return the real files split into (front matter, body) pairs: Swedish ones, English ones."""
    swedish, english = [], []
    for path in sorted((fixtures / "_events").glob("*.md")):
        text = path.read_text(encoding="utf-8-sig")
        _, front, body = text.split("---\n", 2)
        front = _REPLACED.sub("", front)
        (english if re.search(r"^lang:\s*en\s*$", text, re.MULTILINE) else swedish).append(
            (front, body))
    return swedish, english


def build_site(folder: Path, files: int, *, seed: int = 2026,
               fixtures: Path = FIXTURES) -> Path:
    """Write a site of `files` event files (two per event) under `folder`; return `folder`."""
    swedish, english = templates(fixtures)
    images = sorted(p.name for p in (fixtures / "_uploads").iterdir())
    events_dir = folder / "_events"
    events_dir.mkdir(parents=True)
    shutil.copytree(fixtures / "_uploads", folder / "_uploads")
    rng = random.Random(seed)
    for number in range(files // 2):
        ref = f"event-{number:05d}"
        day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        start = day.replace(hour=rng.choice((9, 13, 17, 18)), minute=rng.choice((0, 30)))
        image = f'"/uploads/{images[number % len(images)]}"' if number % 3 == 0 else '""'
        for lang, pool, suffix in (("sv", swedish, ""), ("en", english, "-en")):
            front, body = pool[number % len(pool)]
            head = (f"ref: {ref}\nlang: {lang}\nevent-date: {start:%Y-%m-%d %H:%M:%S %z}\n"
                    f"image: {image}\n")
            (events_dir / f"{ref}{suffix}.md").write_text(f"---\n{head}{front}---\n{body}",
                                                          encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("files", type=int)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    build_site(args.folder, args.files, seed=args.seed)
    print(f"wrote {args.files // 2 * 2} event files to {args.folder / '_events'}")


if __name__ == "__main__":
    main()
