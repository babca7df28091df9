"""Load a Jekyll-style site's events: one Event per file, and a Problem for everything wrong.

A bad event file never stops the others: it becomes an error Problem and is left out. An image
outside the site is an error too, but its event still loads, without the image. A flaw Herald
can work around (a wrong UTC offset, a missing image, a ref shared by unrelated files) becomes
a warning that says what Herald did instead.

    files.py    which files are event files, and reading them safely (regular, inside, capped)
    front.py    the front matter's YAML, with alias bombs and number bombs refused
    fields.py   one file's fields -> Event (pure: text, path and site configuration only)
    dates.py    the start, in the site's time zone, and whether it is a date alone
    when.py     what event-date-desc adds to the start: an end time or a last day
    links.py    the event's links, and the registration link among them
    control.py  the file's own `herald:` block
    uploads.py  the event's image, looked up among the site's files
    pairing.py  files that share a ref
    cache.py    parsed files kept by (path, size, mtime): in memory and on disk
    private.py  reading and writing a cache file only its owner wrote
    site.py     load_site() and the Site, indexed by ref
    live.py     the daemon's site, updated file by file as files change
    checks.py   what `herald validate` adds: refs that cannot name a file, titles that cannot fit
    assumed.py  ... and dates without a time, and `herald:` names only the config can check
    verdicts.py validate's answers for unchanged files, kept beside the parse cache
    names.py    printing file names safely, and safe output file names
"""

from .cache import ParseCache
from .files import MAX_EVENT_BYTES, EventFile, Scan, scan_events
from .names import file_slug, printable
from .site import Site, load_site, parse_event

__all__ = ["MAX_EVENT_BYTES", "EventFile", "ParseCache", "Scan", "Site", "file_slug",
           "load_site", "parse_event", "printable", "scan_events"]
