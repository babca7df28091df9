import os
import stat
import subprocess
import tomllib

import pytest

from bot.errors import AuthFailed, ConfigError
from bot.secrets import (Credentials, SecretsStore, default_secrets_path, env_name, mask)
from tests.auth_hints import hinted_auth

X_SECRETS = {
    "api_key": "xk-1a2b3c4d5e",
    "api_secret": "xs-9z8y7x6w5v",
    "access_token": "xt-1111-2222",
    "access_secret": "xa-3333-4444",
}


@pytest.fixture
def store(tmp_path):
    return SecretsStore(tmp_path / "config" / "herald" / "secrets.toml")


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the file --------------------------------------------------------------------------------

def test_saving_creates_the_file_readable_by_its_owner_only(store):
    store.save("mastodon", {"access_token": "tok-abcdef"})
    assert mode_of(store.path) == 0o600
    assert store.credentials("mastodon", environ={})["access_token"] == "tok-abcdef"


def test_saving_keeps_mode_600_even_with_a_permissive_umask(store):
    old = os.umask(0)
    try:
        store.save("mastodon", {"access_token": "tok-abcdef"})
        store.update("mastodon", "access_token", "tok-2")
    finally:
        os.umask(old)
    assert mode_of(store.path) == 0o600
    assert [p.name for p in store.path.parent.iterdir()] == ["secrets.toml"]


def test_saving_one_account_keeps_the_others(store):
    store.save("x", X_SECRETS)
    store.save("mastodon", {"access_token": "tok-abcdef"})
    store.save("mastodon", {"access_token": "tok-new"})
    assert dict(store.credentials("x", environ={})) == X_SECRETS
    assert dict(store.credentials("mastodon", environ={})) == {"access_token": "tok-new"}


def test_updating_a_session_keeps_the_other_fields(store):
    store.save("bluesky", {"handle": "civic.bsky.social", "app_password": "abcd-efgh-ijkl"})
    session = "civic:::did:plc:xyz:::access:::refresh:::https://bsky.social"
    store.update("bluesky", "session", session)
    creds = store.credentials("bluesky", environ={})
    assert creds["app_password"] == "abcd-efgh-ijkl"
    assert creds["session"].startswith("civic:::did:plc:xyz")


def test_values_with_quotes_backslashes_and_newlines_survive_a_round_trip(store):
    awkward = {"token": 'a"b\\c\nd\te\x01f', "émoji key": "🙂", "plain": ""}
    store.save("odd account", awkward)
    assert dict(store.credentials("odd account", environ={})) == awkward
    assert tomllib.loads(store.path.read_text())["odd account"] == awkward


def test_a_missing_file_means_no_credentials(store):
    assert dict(store.credentials("mastodon", environ={})) == {}


def test_a_group_readable_file_is_refused_with_the_fix(store):
    store.save("mastodon", {"access_token": "tok-abcdef"})
    store.path.chmod(0o640)
    with pytest.raises(ConfigError) as caught:
        store.credentials("mastodon", environ={})
    message = str(caught.value)
    assert f"chmod 600 {store.path}" in message
    assert "tok-abcdef" not in message
    assert "\n" not in message


def test_a_world_readable_file_is_refused_when_saving_too(store):
    store.save("mastodon", {"access_token": "tok-abcdef"})
    store.path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        store.save("x", X_SECRETS)


def test_writing_inside_a_git_work_tree_is_refused(tmp_path):
    repo = tmp_path / "site"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    inside = SecretsStore(repo / "deploy" / "secrets.toml")
    with pytest.raises(ConfigError, match="git work tree") as caught:
        inside.save("mastodon", {"access_token": "tok-abcdef"})
    assert str(repo) in str(caught.value)
    assert not (repo / "deploy" / "secrets.toml").exists()


def test_writing_through_a_symlink_into_a_git_work_tree_is_refused(tmp_path):
    repo = tmp_path / "dotfiles"
    (repo / "herald").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "herald").symlink_to(repo / "herald")
    with pytest.raises(ConfigError, match="git work tree"):
        SecretsStore(tmp_path / "config" / "herald" / "secrets.toml").save("x", X_SECRETS)


def test_invalid_toml_names_the_file_without_echoing_its_content(store):
    store.path.parent.mkdir(parents=True)
    store.path.write_text('[mastodon]\naccess_token = "tok-abcdef\n')
    store.path.chmod(0o600)
    with pytest.raises(ConfigError) as caught:
        store.credentials("mastodon", environ={})
    assert str(store.path) in str(caught.value)
    assert "tok-abcdef" not in str(caught.value)


def test_a_value_that_is_not_a_string_is_named_but_not_shown(store):
    store.path.parent.mkdir(parents=True)
    store.path.write_text("[mastodon]\naccess_token = 123456789\n")
    store.path.chmod(0o600)
    with pytest.raises(ConfigError, match="mastodon.access_token") as caught:
        store.credentials("mastodon", environ={})
    assert "123456789" not in str(caught.value)


def test_the_default_secrets_file_lives_in_the_user_config_folder():
    found = default_secrets_path()
    assert found.name == "secrets.toml"
    assert found.parent.name == "herald"


# --- the environment -------------------------------------------------------------------------

def test_the_environment_wins_over_the_file(store):
    store.save("mastodon", {"access_token": "from-file", "other": "kept"})
    creds = store.credentials("mastodon", environ={"HERALD_MASTODON_ACCESS_TOKEN": "from-env"})
    assert creds["access_token"] == "from-env"
    assert creds["other"] == "kept"
    assert creds.origin("access_token") == "HERALD_MASTODON_ACCESS_TOKEN"
    assert creds.origin("other") == str(store.path)


def test_account_names_become_environment_names_in_capitals_and_underscores(store):
    assert env_name("mastodon-en", "access_token") == "HERALD_MASTODON_EN_ACCESS_TOKEN"
    environ = {"HERALD_MASTODON_EN_ACCESS_TOKEN": "tok-en", "HERALD_X_API_KEY": "not mine"}
    assert dict(store.credentials("mastodon-en", environ=environ)) == {"access_token": "tok-en"}


def test_an_empty_environment_variable_counts_as_unset(store):
    store.save("mastodon", {"access_token": "from-file"})
    creds = store.credentials("mastodon", environ={"HERALD_MASTODON_ACCESS_TOKEN": ""})
    assert creds["access_token"] == "from-file"


def test_credentials_from_the_environment_alone_need_no_file(store):
    environ = {env_name("x", field): value for field, value in X_SECRETS.items()}
    assert dict(store.credentials("x", environ=environ)) == X_SECRETS
    assert not store.path.exists()


# --- masking ---------------------------------------------------------------------------------

def test_repr_and_str_show_field_names_but_never_a_value():
    creds = Credentials("x", X_SECRETS)
    for shown in (repr(creds), str(creds), f"{creds}", repr([creds]), repr({"c": creds})):
        for field, value in X_SECRETS.items():
            assert value not in shown, field
            assert field in shown
    assert repr(Credentials("mastodon", {"access_token": "tok"})) == \
        "Credentials(account='mastodon', access_token='****')"


def test_require_names_the_missing_field_and_where_to_put_it_without_values(store):
    store.save("x", {"api_key": "xk-1a2b3c4d5e"})
    creds = store.credentials("x", environ={}, platform="x")
    with pytest.raises(AuthFailed) as caught:
        creds.require("api_key", "api_secret")
    message = str(caught.value)
    assert message.startswith("x: missing api_secret")
    assert "HERALD_X_API_SECRET" in message
    assert hinted_auth(message) == ("x", "x")
    assert "xk-1a2b3c4d5e" not in message
    assert caught.value.account == "x"
    assert not caught.value.retryable


def test_require_returns_the_credentials_when_everything_is_there():
    creds = Credentials("x", X_SECRETS)
    assert creds.require(*X_SECRETS) is creds


def test_an_empty_value_does_not_satisfy_require():
    with pytest.raises(AuthFailed, match="missing access_token"):
        Credentials("mastodon", {"access_token": ""}).require("access_token")


def test_mask_replaces_every_secret_in_a_message():
    message = ("401 for https://api.example/2/tweets?oauth_token=xt-1111-2222 "
               "with key xk-1a2b3c4d5e and xk-1a2b3c4d5e again")
    masked = mask(message, X_SECRETS.values())
    assert masked == ("401 for https://api.example/2/tweets?oauth_token=**** "
                      "with key **** and **** again")


def test_mask_catches_url_encoded_secrets_and_ignores_empty_ones():
    secret = "abc/def+ghi=="
    text = "callback?token=abc%2Fdef%2Bghi%3D%3D and abc%2Fdef%2Bghi%3D%3D"
    assert mask(text, [secret, ""]) == "callback?token=**** and ****"
    assert mask("nothing here", []) == "nothing here"


def test_mask_hides_a_longer_secret_whole_when_another_is_part_of_it():
    assert mask("token=abcdef123", ["abc", "abcdef123"]) == "token=****"


def test_credentials_mask_their_own_values():
    creds = Credentials("mastodon", {"access_token": "tok-abcdef"})
    assert creds.mask("Bearer tok-abcdef refused") == "Bearer **** refused"


def test_the_adapters_and_the_secrets_store_mask_with_one_and_the_same_rule():
    import bot.masking
    import bot.platforms.shared
    import bot.secrets

    assert bot.platforms.shared.mask is bot.secrets.mask is bot.masking.mask
    assert bot.platforms.shared.MASK == bot.secrets.MASK == "****"
    assert bot.platforms.shared.mask("k=abc%2Fd", [None, "abc/d"]) == "k=****"
