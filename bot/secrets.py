"""Find each account's credentials in the environment or a private TOML file, and keep them masked.

The secrets file holds one table per account name and must be readable by its owner only:

    [mastodon]
    access_token = "..."

    [x]
    api_key = "..."
    api_secret = "..."
    access_token = "..."
    access_secret = "..."

    [bluesky]
    handle = "example.bsky.social"
    app_password = "..."
    session = "..."        # written by Herald after logging in

`HERALD_<ACCOUNT>_<FIELD>` in the environment wins over the file (account name upper-cased,
anything not a letter or digit turned into `_`); an empty variable counts as unset.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

import platformdirs

from .errors import AuthFailed, ConfigError, auth_command, env_name
from .masking import MASK, mask

ENV_PREFIX = "HERALD_"


def default_secrets_path() -> Path:
    """Return the secrets file's default location in the user's config directory."""
    return Path(platformdirs.user_config_dir()) / "herald" / "secrets.toml"


def env_prefix(account: str) -> str:
    """Return the prefix of the environment variables for `account`, e.g. `HERALD_MASTODON_`."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", account.upper()) + "_"


class Credentials(Mapping[str, str]):
    """One account's secrets, read like a dict; `repr` and `str` show field names only."""

    def __init__(self, account: str, values: Mapping[str, str], *,
                 origins: Mapping[str, str] | None = None, path: Path | None = None,
                 platform: str | None = None):
        self.account = account
        self.platform = platform
        self._values = dict(values)
        self._origins = dict(origins or {})
        self._path = path

    def __getitem__(self, field: str) -> str:
        return self._values[field]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        fields = "".join(f", {name}={MASK!r}" for name in sorted(self._values))
        return f"Credentials(account={self.account!r}{fields})"

    __str__ = __repr__

    def origin(self, field: str) -> str:
        """Return where `field` came from: its environment variable or the secrets file."""
        return self._origins[field]

    def require(self, *fields: str) -> Credentials:
        """Return self when every field has a value, else raise AuthFailed naming the first gap."""
        for field in fields:
            if not self._values.get(field):
                where = f" ({self._path})" if self._path else ""
                how = (f"run `{auth_command(self.platform, self.account)}` to store it"
                       if self.platform else "store it")
                raise AuthFailed(f"missing {field}; set {env_name(self.account, field)} or "
                                 f"{how} in the secrets file{where}", account=self.account)
        return self

    def mask(self, text: str) -> str:
        """Return `text` with every value of these credentials replaced by `****`."""
        return mask(text, self._values.values())


class SecretsStore:
    """The secrets file plus the environment. Nothing is read until asked for."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else default_secrets_path()

    def credentials(self, account: str, environ: Mapping[str, str] = os.environ, *,
                    platform: str | None = None) -> Credentials:
        """Return the credentials of `account` (on `platform`), environment variables first."""
        values: dict[str, str] = dict(self._read().get(account, {}))
        origins = {field: str(self.path) for field in values}
        prefix = env_prefix(account)
        for name, value in environ.items():
            if name.startswith(prefix) and len(name) > len(prefix) and value:
                field = name[len(prefix):].lower()
                values[field] = value
                origins[field] = name
        return Credentials(account, values, origins=origins, path=self.path, platform=platform)

    def save(self, account: str, values: Mapping[str, str]) -> None:
        """Replace the table of `account` with `values`, keeping the other accounts.

        The file is rewritten atomically with mode 0600; comments in it are not kept.
        """
        _check_values(account, values)
        data = self._read()
        data[account] = dict(values)
        self._write(data)

    def update(self, account: str, field: str, value: str) -> None:
        """Set one field of `account` (e.g. a refreshed session), keeping everything else."""
        _check_values(account, {field: value})
        data = self._read()
        data.setdefault(account, {})[field] = value
        self._write(data)

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read secrets file ({exc.strerror})") from None
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise ConfigError(f"{self.path}: secrets file is readable by other users; "
                              f"fix it with: chmod 600 {self.path}")
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.path}: cannot read secrets file ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{self.path}: invalid TOML: {exc}") from None
        for account, table in data.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{self.path}: {account}: expected a table [{account}]")
            for field, value in table.items():
                if not isinstance(value, str):
                    raise ConfigError(f"{self.path}: {account}.{field}: expected a string")
        return data

    def _write(self, data: Mapping[str, Mapping[str, str]]) -> None:
        repository = _git_work_tree(self.path)
        if repository is not None:
            raise ConfigError(f"{self.path}: refusing to write secrets inside the git work tree "
                              f"{repository}; set `secrets` in herald.toml to a path outside it")
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            _write_atomically(self.path, _dumps(data))
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write secrets file ({exc.strerror})") from None


def _check_values(account: str, values: Mapping[str, str]) -> None:
    if not account:
        raise ConfigError("secrets: an account name cannot be empty")
    for field, value in values.items():
        if not field or not isinstance(value, str):
            raise ConfigError(f"secrets: {account}.{field}: expected a non-empty name and a "
                              f"string value")


def _git_work_tree(path: Path) -> Path | None:
    """Return the git work tree (a folder holding `.git`) around `path` or its real location."""
    for place in (Path(os.path.abspath(path)), Path(path).resolve()):
        for folder in place.parents:
            if (folder / ".git").exists():
                return folder
    return None


def _write_atomically(path: Path, text: str) -> None:
    """Write to a private temporary file beside `path`, flush it to disk, then rename it."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def _dumps(data: Mapping[str, Mapping[str, str]]) -> str:
    """Serialise tables of strings as TOML (all the secrets file ever holds)."""
    blocks = []
    for account in sorted(data):
        lines = [f"[{_toml_key(account)}]"]
        lines += [f"{_toml_key(field)} = {_toml_string(value)}"
                  for field, value in data[account].items()]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_string(value: str) -> str:
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
