"""`herald validate` remembers its answers about unchanged files, and only about those.

An answer (whether an event's posts can fit, whether its image can be read) is reused only
while the event's files, the configuration and Herald are the same; the file that keeps them
follows the parse cache's rules: beside it, never inside the site, 0600, written atomically,
ignored when damaged or not the user's own. To see that an answer was reused, the tests
plant a different one in the file and look for it in validate's output.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

NOW = "2027-01-01T09:00+01:00"
PLANTED = "planted answer"
AN_HOUR_AGO = time.time_ns() - 3600 * 10**9


def write_event(site: Path, name: str, title: str, *, mtime_ns: int = AN_HOUR_AGO,
                image: str | None = None) -> Path:
    path = site / "_events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = f"image: /uploads/{image}\nimage-alt: A picture\n" if image else ""
    path.write_text(f'---\ntitle: "{title}"\nref: {path.stem}\nlang: en\n{extra}'
                    f"event-date: 2027-03-01 18:00:00 +01:00\n---\n", encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    write_event(root, "hackdag.md", "Hackdag")
    write_event(root, "meetup.md", "Meetup")
    return root


def validate(tmp_path, site: Path, *args: str, config: str | None = None):
    options = ["--site", str(site), "--now", NOW]
    if config is not None:
        path = tmp_path / "herald.toml"
        path.write_text(config, encoding="utf-8")
        options += ["--config", str(path)]
    return CliRunner().invoke(main, [*args, "validate", *options],
                              env={"XDG_CACHE_HOME": str(tmp_path / "cache")})


def kept(tmp_path) -> Path:
    (path,) = (tmp_path / "cache" / "herald" / "content").glob("*.verdicts.json")
    return path


def plant(path: Path, kind: str = "fit") -> None:
    """Replace every answer of `kind` with an error naming `PLANTED` (once per answer)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    answers = document["answers"][kind]
    for key in answers:
        answers[key] = [[f"_events/{key}.md", PLANTED]] if kind == "fit" else PLANTED
    path.write_text(json.dumps(document), encoding="utf-8")


def test_validate_keeps_its_answers_beside_the_parse_cache_readable_only_by_its_owner(
        tmp_path, site):
    result = validate(tmp_path, site)
    assert result.exit_code == 0, result.output
    path = kept(tmp_path)
    assert path.with_name(path.name.replace(".verdicts.json", ".cache")).exists()  # parse cache
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(json.loads(path.read_text())["answers"]["fit"]) == 2
    assert not [p for p in site.rglob("*") if "verdicts" in p.name]


def test_an_answer_about_unchanged_files_is_given_without_checking_again(tmp_path, site):
    validate(tmp_path, site)
    plant(kept(tmp_path))
    result = validate(tmp_path, site)
    assert result.exit_code == 2
    assert f"title: {PLANTED}" in result.output
    assert "2 events), 0 drafts, 2 errors" in result.output      # one planted per event


def test_a_file_changed_since_the_last_validate_is_checked_again(tmp_path, site):
    validate(tmp_path, site)
    plant(kept(tmp_path))
    write_event(site, "hackdag.md", "Hackdag " * 60, mtime_ns=AN_HOUR_AGO + 10**9)
    result = validate(tmp_path, site)
    assert result.output.count(PLANTED) == 1        # the meetup's: it did not change
    assert "hackdag.md: title: the announcement post cannot fit x (account x)" in result.output
    assert result.exit_code == 2


def test_a_changed_configuration_sets_every_answer_aside(tmp_path, site):
    validate(tmp_path, site)
    plant(kept(tmp_path))
    result = validate(tmp_path, site, config='[site]\nhashtags = ["hackdag"]\n')
    assert PLANTED not in result.output
    assert result.exit_code == 0, result.output


def test_another_herald_sets_every_answer_aside(tmp_path, site, monkeypatch):
    from bot.content import verdicts

    validate(tmp_path, site)
    plant(kept(tmp_path))
    monkeypatch.setattr(verdicts, "_code_version", lambda: "another Herald")
    result = validate(tmp_path, site)
    assert PLANTED not in result.output
    assert result.exit_code == 0, result.output


def test_no_answer_is_kept_about_a_file_changed_in_the_last_two_seconds(tmp_path, site):
    write_event(site, "hackdag.md", "Hackdag", mtime_ns=time.time_ns())
    validate(tmp_path, site)
    answers = json.loads(kept(tmp_path).read_text())["answers"]["fit"]
    assert len(answers) == 1                # the meetup's; the hackdag's may change unseen
    plant(kept(tmp_path))
    assert validate(tmp_path, site).output.count(PLANTED) == 1


@pytest.mark.parametrize("damage", ["garbage", "not json", "answers", "shared", "link"])
def test_a_damaged_or_foreign_answers_file_is_ignored_and_rewritten(tmp_path, site, damage):
    validate(tmp_path, site)
    path = kept(tmp_path)
    plant(path)
    if damage == "garbage":
        path.write_bytes(b"\x00\xff" * 100)
    elif damage == "not json":
        path.write_text('{"format": "herald-verdicts/1", "context": [', encoding="utf-8")
    elif damage == "answers":
        document = json.loads(path.read_text())
        document["answers"]["fit"] = {key: {"planted": PLANTED} if i % 2 else [PLANTED]
                                      for i, key in enumerate(document["answers"]["fit"])}
        path.write_text(json.dumps(document), encoding="utf-8")
    elif damage == "shared":
        path.chmod(0o666)
    else:
        elsewhere = tmp_path / "elsewhere.json"
        path.rename(elsewhere)
        path.symlink_to(elsewhere)
    result = validate(tmp_path, site, "--verbose")
    assert PLANTED not in result.output
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    if damage not in ("link", "answers"):
        assert "validate cache" in result.output          # said under --verbose
    assert not path.is_symlink() and path.stat().st_mode & 0o777 == 0o600
    assert len(json.loads(path.read_text())["answers"]["fit"]) == 2


def test_no_answers_file_is_written_when_the_cache_would_be_inside_the_site(tmp_path, site):
    result = validate(tmp_path, site, config=f'[images]\ncache_dir = "{site / ".cache"}"\n')
    assert result.exit_code == 0, result.output
    assert not [p for p in tmp_path.rglob("*.verdicts.json")]


def test_an_image_answer_is_kept_until_the_image_changes(tmp_path):
    from PIL import Image

    site = tmp_path / "site"
    uploads = site / "_uploads"
    uploads.mkdir(parents=True)
    picture = uploads / "hackdag.png"
    picture.write_bytes(b"not an image at all")
    os.utime(picture, ns=(AN_HOUR_AGO, AN_HOUR_AGO))
    write_event(site, "hackdag.md", "Hackdag", image="hackdag.png")
    first = validate(tmp_path, site)
    assert "_events/hackdag.md: image:" in first.output
    plant(kept(tmp_path), "image")
    assert f"image: {PLANTED}" in validate(tmp_path, site).output
    Image.new("RGB", (1200, 675), "teal").save(picture)
    os.utime(picture, ns=(AN_HOUR_AGO + 10**9, AN_HOUR_AGO + 10**9))
    fixed = validate(tmp_path, site)
    assert "image:" not in fixed.output and PLANTED not in fixed.output
