"""Platform adapters behind one small port; each SDK is imported only inside its own adapter.

    base.py       the Publisher port the service talks to
    recording.py  a publisher that records instead of sending: tests and `--dry-run`
    shared.py     what every adapter does alike: secret masking, credential variable names,
                  the rate-limit gate, reuse of an upload the platform still keeps
    mastodon/     Mastodon and the servers that speak its client API (Mastodon.py)
    x/            X (tweepy, OAuth 1.0a)
    bluesky/      Bluesky and any atproto PDS (atproto)

Each platform package has the same parts: the publisher, its limits, media upload, the
session or API connection, the error mapping, and `herald auth`. Importing a package loads no
SDK; the SDK loads when a publisher first talks to its server.
"""
