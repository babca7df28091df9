"""File names from the site reach the terminal escaped: a newline or an escape sequence in an
image's name cannot forge a line of output or drive the terminal."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.errors import ImageError
from bot.images import open_image, read_source
from tests.test_content import event_text, make_site

EVIL = "evil\n\x1b[31mred\x1b[0m"
SHOWN = "evil\\n\\x1b[31mred\\x1b[0m"


def site_with_image(root, name: str, data: bytes | None = None):
    make_site(root, {"hackdag.md": event_text(
        date="2026-06-10 18:00:00 +02:00",
        extra=f'image: "/_uploads/{name.encode("unicode_escape").decode()}"\n')})
    path = root / "_uploads" / name
    if data is None:
        shutil.copyfile(root / "_uploads" / "debian-cake-meetup-6.jpeg", path)
    else:
        path.write_bytes(data)
    return root


def test_preview_shows_an_image_name_with_a_newline_and_escapes_escaped(tmp_path):
    site = site_with_image(tmp_path, f"{EVIL}.jpeg")
    result = CliRunner().invoke(main, ["preview", "--site", str(site), "--event", "hackdag",
                                       "--now", "2026-05-01T12:00+02:00",
                                       "--platform", "mastodon"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    images = [line for line in result.output.splitlines() if line.startswith("  image:")]
    assert images and all(f"_uploads/{SHOWN}.jpeg" in line for line in images)


@pytest.mark.parametrize("data", [b"", b"not an image at all"], ids=["empty", "not an image"])
def test_an_image_error_names_its_file_on_one_line(tmp_path, data):
    path = tmp_path / f"{EVIL}.png"
    path.write_bytes(data)
    with pytest.raises(ImageError) as caught:
        open_image(read_source(path), path.name).close()
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message
    assert SHOWN in message


def test_validate_reports_a_broken_image_with_an_odd_name_on_one_line(tmp_path):
    site = site_with_image(tmp_path, f"{EVIL}.jpeg", b"not an image at all")
    result = CliRunner().invoke(main, ["validate", "--site", str(site), "--now",
                                       "2026-05-01T12:00+02:00"], catch_exceptions=False)
    assert "\x1b" not in result.output
    [line] = [line for line in result.output.splitlines() if "not an image" in line]
    assert SHOWN in line
