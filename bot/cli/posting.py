"""`herald announce` and `herald post`: one event or one free text, now."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from .common import _ledger, _print_sent, _publishers, _report, config_options, load, main


@main.command()
@config_options
@click.argument("ref", required=False)
@click.option("--digest", "digest", metavar="NAME",
              help="Post this digest's current period instead of an event.")
@click.option("--stage", metavar="NAME", help="Stage to post (default: the announcement).")
@click.option("--account", metavar="NAME", help="Only this account.")
@click.option("--lang", metavar="LANG", help="Only this language.")
@click.option("--again", is_flag=True,
              help="Post even if this was already posted, or skipped (a first run, missed, "
                   "superseded).")
@click.option("--dry-run", is_flag=True, help="Show what would be posted; send nothing.")
def announce(config_path, site, ref, digest, stage, account, lang, again, dry_run):
    """Post one event (REF) or one digest (--digest NAME) now, as `run` would post it.

    It goes through the same composer, ledger and de-duplication as `run`. The second
    language replies to the first and a reminder to the announcement; a digest too long for
    one post is a thread of numbered replies. A digest lists the events of its current period
    (the one whose time was the last before now) that have not started. A second identical
    call says it was already posted; --again makes a new post on purpose. While `herald run`
    holds the ledger, it refuses (exit 5).
    """
    from .. import app
    from ..service import Selection, announce as run, announce_digest

    if (ref is None) == (digest is None):
        raise click.UsageError("give an event's REF or --digest NAME (one of the two)")
    if digest is not None and stage is not None:
        raise click.UsageError("--stage is for events; a digest has no stages")
    config = load(config_path, site)
    if account is not None:
        config.account(account)
    if digest is not None:
        config.digest(digest)
    selection = Selection(account=account, lang=lang)
    loaded = app.read_site(config)
    now = datetime.now(config.site.timezone)
    publishers = _publishers(config, selection.accounts(config), dry_run)
    attach, prepared = app.attachments(config), {}
    if dry_run:
        attach = _noting(attach, prepared)
    with _ledger(config, dry_run, "herald announce") as ledger:   # the lock, as `run` takes it
        if digest is not None:
            outcomes = announce_digest(loaded, config, digest, now=now, ledger=ledger,
                                       publishers=publishers, selection=selection,
                                       again=again)
        else:
            outcomes = run(loaded, config, ref, now=now, ledger=ledger, publishers=publishers,
                           attach=attach, stage=stage, selection=selection, again=again)
    if dry_run and digest is not None:
        _print_sent(publishers)            # a digest's parts carry no image
    elif dry_run:
        _print_would_send(outcomes, prepared, config, now)
    sys.exit(_report(outcomes, dry_run, config.site.timezone))


def _noting(attach, prepared: dict):
    """Wrap `attach` to keep each composed post and what goes with it, for the dry run."""
    def noted(post, event, account, limits):
        extras = attach(post, event, account, limits)
        prepared[post.key] = (post, account, extras, limits)
        return extras
    return noted


def _print_would_send(outcomes, prepared: dict, config, now) -> None:
    """Show each post the dry run would send exactly as `herald preview` shows a post."""
    from ..costs import Calls, cost
    from ..service import Item
    from ..survey import Fate
    from .showing import item_lines

    for outcome in outcomes:
        if not outcome.sent or outcome.key not in prepared:
            continue
        post, account, extras, limits = prepared[outcome.key]
        item = Item(Fate(post.key, now, now, "due"), account, post=post, attachments=extras,
                    cost=cost(limits, Calls.publishing(post.text, [m.alt for m in extras.media])))
        lines = item_lines(item, config, now)
        click.echo(click.style(lines[0], bold=True))
        for line in lines[1:]:
            click.echo(line)
        click.echo("")


@main.command()
@config_options
@click.argument("text")
@click.option("--image", type=click.Path(dir_okay=False, exists=True), help="Image to attach.")
@click.option("--alt", help="Alt text of the image (required with --image).")
@click.option("--account", metavar="NAME", help="Only this account (default: all).")
@click.option("--lang", metavar="LANG", help="Language of the text (default: the site's).")
@click.option("--again", is_flag=True, help="Post again even if this text was already posted.")
@click.option("--dry-run", is_flag=True, help="Show what would be posted; send nothing.")
def post(config_path, site, text, image, alt, account, lang, again, dry_run):
    """Post a free text now, optionally with an image, on every (or one) account."""
    from ..counting import refusal
    from ..delivery import Hold, Outcome, cap_hold, deliver, failed_before_sending, rate_hold
    from ..errors import PublishError, Unfit
    from ..model import OutgoingPost
    from ..service import Selection, manual_key

    if not text.strip():
        raise click.UsageError("the text is empty")
    if image and not alt:
        raise click.UsageError("--image needs --alt: describe the image for people who cannot see it")
    if alt and not image:
        raise click.UsageError("--alt describes an image: give the image with --image")
    config = load(config_path, site)
    if account is not None:
        config.account(account)
    lang = lang or config.site.default_lang
    accounts = Selection(account=account).accounts(config)
    publishers = _publishers(config, accounts, dry_run)
    now = datetime.now(config.site.timezone)
    if image:
        from ..images import read_source

        raw = read_source(Path(image))  # a regular file under the size cap, or one clear error
    else:
        raw = None
    # Every account's limits, fit and image first: a text one of them refuses goes to none.
    # An account whose platform asked to wait is asked nothing before its reset.
    with _ledger(config, dry_run, "herald post") as ledger:
        waits = {acc.name: rate_hold(acc, ledger, now) for acc in accounts}
    checked = {}
    refused = []
    for acc in accounts:
        key = manual_key(text, acc.name, lang, raw)
        if waits[acc.name] is not None:
            checked[acc.name] = (key, waits[acc.name], ())
            continue
        try:
            limits = publishers[acc.name].limits()
        except PublishError as exc:     # recorded as a failed send is, on every platform
            checked[acc.name] = (key, exc, ())
            continue
        reason = refusal(text, limits)      # characters, bytes and refused characters
        if reason is not None:
            refused.append(Outcome(key, "failed", error=Unfit(
                f"the text does not fit {acc.platform}: {reason}; nothing was sent",
                account=acc.name)))
            continue
        media = ()
        if image:
            from .. import app
            from ..images import prepare_data

            media = (prepare_data(raw, image, Path(image).stem, limits, config.images,
                                  alt=alt, cache=app.image_cache(config)),)
        checked[acc.name] = (key, limits, media)
    if refused:
        sys.exit(_report(refused, dry_run, config.site.timezone))
    outcomes = []
    with _ledger(config, dry_run, "herald post") as ledger:
        for acc in accounts:
            publisher = publishers[acc.name]
            key, limits, media = checked[acc.name]
            if isinstance(limits, Hold):
                outcomes.append(limits.outcome(key))
                continue
            if isinstance(limits, PublishError):
                outcomes.append(failed_before_sending(key, limits, ledger=ledger, now=now,
                                                      text=text, again=again, requested=True))
                continue
            earlier = ledger.current(key, requested=True)
            hold = None if earlier is not None and earlier.done and not again \
                else cap_hold(acc, ledger, now)
            if hold is not None:
                outcomes.append(hold.outcome(key))
                continue
            outgoing = OutgoingPost(text, lang, "", media=media)
            outcomes.append(deliver(key, outgoing, publisher=publisher, ledger=ledger, now=now,
                                    again=again, requested=True, limits=limits))
    if dry_run:
        _print_sent(publishers)
    sys.exit(_report(outcomes, dry_run, config.site.timezone))
