"""`herald check` and `herald auth`: verify and store each account's credentials."""

from __future__ import annotations

import sys

import click

from .common import config_options, load, main

@main.command()
@config_options
@click.option("--account", metavar="NAME", help="Only this account.")
def check(config_path, site, account):
    """Verify each account's credentials and print its limits."""
    from .. import app
    from ..errors import PublishError

    config = load(config_path, site)
    accounts = [config.account(account)] if account else list(config.accounts)
    code = 0
    for acc in accounts:
        try:
            publisher = app.build_publisher(acc, config)
            handle = publisher.check()
            limits = publisher.limits()
        except PublishError as exc:
            click.echo(f"{acc.label}: FAILED: {exc}", err=True)
            code = max(code, exc.exit_code)
            continue
        click.echo(f"{acc.label}: ok, {handle}; {limits.max_chars} characters, "
                   f"images up to {limits.image_bytes:,} bytes"
                   + (f" and {limits.image_pixels:,} pixels" if limits.image_pixels else "")
                   + f", alt text up to {limits.alt_chars} characters")
    sys.exit(code)


@main.command()
@config_options
@click.argument("platform", type=click.Choice(["mastodon", "x", "bluesky"]))
@click.option("--account", metavar="NAME",
              help="Account to store credentials for (default: the first on this platform).")
def auth(config_path, site, platform, account):
    """Get credentials interactively and store them in the secrets file (mode 0600).

    Mastodon: registers an app on the instance and asks for the code the instance shows.
    X: asks for your app's API key and secret, then for the PIN X shows.
    Bluesky: asks for the handle and an app password (Settings → Privacy and security →
    App passwords), and logs in once to check them.
    """
    from .. import app
    from ..platforms import bluesky, mastodon, x

    config = load(config_path, site)
    if account is not None:
        chosen = config.account(account)
    else:
        chosen = next((a for a in config.accounts if a.platform == platform), None)
        if chosen is None:
            raise click.UsageError(f"no {platform} account in the config: add an "
                                   f"[accounts.NAME] block with platform = \"{platform}\"")
    if chosen.platform != platform:
        raise click.UsageError(f"account {chosen.name!r} is on {chosen.platform}, not {platform}")
    options = chosen.options
    if platform == "mastodon":
        values = mastodon.authorize(options.get("instance", "https://mastodon.social"),
                                    prompt=click.prompt, echo=click.echo, account=chosen.name)
    elif platform == "x":
        api_key = click.prompt("API key of your X app")
        api_secret = click.prompt("API key secret", hide_input=True)
        values = x.authorize(api_key=api_key, api_secret=api_secret, prompt=click.prompt,
                             echo=click.echo, account=chosen.name,
                             api_url=options.get("api_url"))
    else:
        handle = click.prompt("Handle (for example name.bsky.social)")
        password = click.prompt("App password", hide_input=True)
        values = bluesky.authorize(service=options.get("service", bluesky.SERVICE),
                                   handle=handle, app_password=password)
    store = app.secrets_store(config)
    store.save(chosen.name, values)
    click.echo(f"Saved credentials for {chosen.name} in {store.path} (readable only by you).")
