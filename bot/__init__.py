"""Herald: announce a Jekyll-style site's events on Mastodon, X and Bluesky."""

__version__ = "0.1.0"
