"""Local fake platform servers on 127.0.0.1 that answer like Mastodon, X and Bluesky."""
