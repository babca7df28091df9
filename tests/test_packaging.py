"""Herald's packages: the wheel and sdist `python -m build` makes install and run (marked `install`).

The wheel is built from the sdist, as `python -m build` does, so a wheel that works proves the
sdist builds too. These tests need PyPI; with the systemd and workflow tests that use the same
installation they take one to two minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import NO_NETWORK, ROOT

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


@pytest.mark.install
def test_the_wheel_carries_the_fonts_and_the_sdist_the_sample_site_and_tests(dist):
    """The wheel is built from the sdist, so a wheel that works proves the sdist builds."""
    wheel, sdist = dist
    names = zipfile.ZipFile(wheel).namelist()
    for font in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE-DejaVu.txt"):
        assert f"bot/fonts/{font}" in names
    for asset in ("page/page.css", "page/page.js", "fonts/NotoEmoji-Medium.ttf"):
        assert f"bot/{asset}" in names          # what preview --html writes beside its page
    entry_points = zipfile.ZipFile(wheel).read(f"herald-{VERSION}.dist-info/entry_points.txt")
    assert "herald = bot.cli:main" in entry_points.decode()
    with tarfile.open(sdist) as archive:
        files = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("config.example.toml", "README.md", "content/_events/demodag-2029.md",
                   "content/_uploads/demo-day.png", "tests/conftest.py", "tests/fakes/server.py",
                   "deploy/systemd/herald.service", "deploy/github/herald.yml",
                   "bot/fonts/DejaVuSans.ttf", "docs/json/preview.schema.json"):
        assert needed in files
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]


@pytest.mark.install
def test_the_installed_wheel_reports_the_version_from_its_metadata(opt_herald, tmp_path):
    out = subprocess.run([str(opt_herald / "bin" / "herald"), "--version"], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert out.stdout == f"herald, version {VERSION}\n"
    attribute = subprocess.run([str(opt_herald / "bin" / "python"), "-c",
                                "import bot; print(bot.__version__)"], cwd=tmp_path,
                               capture_output=True, text=True, check=True)
    assert attribute.stdout == f"{VERSION}\n"


def preview(command: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **NO_NETWORK, "HOME": str(home)}
    for name in ("PYTHONPATH", "HERALD_CONFIG", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        env.pop(name, None)
    return subprocess.run([*command, "preview", "--config", str(ROOT / "config.example.toml"),
                           "--site", str(ROOT / "content"), "--now", "2027-03-01T12:00"],
                          cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.install
def test_the_installed_wheel_previews_the_sample_site_from_outside_the_checkout(opt_herald,
                                                                              tmp_path):
    installed = preview([str(opt_herald / "bin" / "herald")], tmp_path, tmp_path / "home")
    checkout = preview([sys.executable, "-m", "bot"], ROOT, tmp_path / "home-checkout")
    assert installed.returncode == 0, installed.stderr
    assert installed.stderr == ""              # no warning from a dependency on every command
    assert "drawn card → 1200x675 PNG" in installed.stdout   # the fonts came with the wheel
    assert installed.stdout == checkout.stdout


@pytest.mark.install
def test_pipx_installs_the_wheel_as_the_herald_command(dist, tmp_path):
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"),
           "PIPX_BIN_DIR": str(tmp_path / "bin"), "PIPX_MAN_DIR": str(tmp_path / "man")}
    result = subprocess.run([sys.executable, "-m", "pipx", "install", str(dist[0])], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    herald = tmp_path / "bin" / "herald"
    version = subprocess.run([str(herald), "--version"], capture_output=True, text=True)
    assert version.stdout == f"herald, version {VERSION}\n"
    shown = preview([str(herald)], tmp_path, tmp_path / "home")
    assert shown.returncode == 0 and shown.stderr == ""
    assert "Civic Tech Demodag 2029" in shown.stdout
