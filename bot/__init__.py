"""Herald: announce a Jekyll-style site's events on Mastodon, X and Bluesky."""


def __getattr__(name: str) -> str:
    """Give `bot.__version__` from the installed package's metadata, where the version lives."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("herald")
    except PackageNotFoundError:
        return "0+unknown"
