"""The scheduled GitHub workflow in deploy/github/: its structure, and its steps run as a runner would.

The shell steps run twice (marked `install`: the install step installs this checkout), with
the ledger carried between the runs as the Actions cache carries it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.config import load_config
from bot.secrets import env_name
from tests.conftest import NO_NETWORK, ROOT, add_event, site_copy

WORKFLOW = ROOT / "deploy" / "github" / "herald.yml"
ZONE = ZoneInfo("Europe/Stockholm")


def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))          # YAML 1.1 reads the key `on` as true
    return data


def step(job: dict, uses: str) -> dict:
    (found,) = [s for s in job["steps"] if s.get("uses", "").startswith(uses + "@")]
    return found


def test_the_workflow_runs_on_a_schedule_one_run_at_a_time_reading_the_repository_only():
    data = workflow()
    crons = [entry["cron"] for entry in data["on"]["schedule"]]
    assert crons and all(len(cron.split()) == 5 for cron in crons)
    assert "workflow_dispatch" in data["on"]
    assert data["concurrency"]["cancel-in-progress"] is False
    assert "${{" not in data["concurrency"]["group"]   # one group for every run, whatever ran it
    assert data["permissions"] == {}
    assert data["jobs"]["post"]["permissions"] == {"contents": "read"}
    post = data["jobs"]["post"]
    assert post["timeout-minutes"] <= 30
    assert step(post, "actions/checkout")["with"]["persist-credentials"] is False


def test_the_workflow_hands_each_account_its_repository_secrets_in_the_posting_step_only():
    post = workflow()["jobs"]["post"]
    needed = {env_name(name, field) for name, fields in
              (("mastodon", ["access_token"]),
               ("x", ["api_key", "api_secret", "access_token", "access_secret"]),
               ("bluesky", ["handle", "app_password"])) for field in fields}
    config = load_config(ROOT / "config.example.toml")
    assert {a.name for a in config.accounts} == {"mastodon", "x", "bluesky"}
    for s in post["steps"]:
        given = {k: v for k, v in (s.get("env") or {}).items() if "secrets." in str(v)}
        if "herald run --once" in s.get("run", ""):
            assert given == {name: f"${{{{ secrets.{name} }}}}" for name in needed}
        else:
            assert given == {}, s.get("name")
    assert "secrets." not in json.dumps(post.get("env", {})) + json.dumps(workflow()["env"])


def test_the_ledger_is_restored_by_prefix_and_saved_under_a_new_key_even_after_a_failure():
    data = workflow()
    post = data["jobs"]["post"]
    restore, save = step(post, "actions/cache/restore"), step(post, "actions/cache/save")
    assert restore["with"]["key"] == save["with"]["key"]
    assert "${{ github.run_id }}" in save["with"]["key"]
    assert "${{ github.run_attempt }}" in save["with"]["key"]
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"])
    assert restore["with"]["path"] == save["with"]["path"] == ".herald/data"
    assert data["env"]["XDG_DATA_HOME"] == "${{ github.workspace }}/.herald/data"
    assert save.get("if") == "always()"
    order = [s.get("uses", s.get("run", "")) for s in post["steps"]]
    posting = next(i for i, s in enumerate(order) if "herald run --once" in s)
    assert order.index(restore["uses"]) < posting < order.index(save["uses"])


def test_only_the_weekly_keepalive_job_may_write_to_actions():
    data = workflow()
    keepalive = data["jobs"]["keepalive"]
    weekly = re.fullmatch(r"github\.event\.schedule == '(.+)'", keepalive["if"]).group(1)
    assert weekly in [entry["cron"] for entry in data["on"]["schedule"]]
    assert keepalive["permissions"] == {"actions": "write"}
    (script,) = [s["run"] for s in keepalive["steps"]]
    assert "actions/workflows/" in script and script.rstrip().endswith("/enable\"")


EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


class Runner:
    """Play one job of the workflow like a GitHub runner, with the cache kept in a dict.

    `run:` steps run in bash as GitHub runs them; checkout and setup-python are done by the
    test (a fresh copy of the site repository, a virtualenv on PATH); cache restore and save
    follow GitHub's rules: an exact key, else the newest cache whose key starts with a
    restore key, and a key that is never overwritten.
    """

    def __init__(self, venv: Path, home: Path, overrides: dict[str, str]):
        self.venv, self.home, self.overrides = venv, home, overrides
        self.cache: dict[str, Path] = {}
        self.store = home / "actions-cache"

    def run(self, job: str, workspace: Path, run_id: int, schedule: str
            ) -> dict[str, int | None] | None:
        """Return each step's exit code (None: skipped), or None when the job is skipped."""
        data = workflow()
        context = {"github.workspace": str(workspace), "github.run_id": str(run_id),
                   "github.run_attempt": "1", "github.token": "", "schedule": schedule}
        if not self.condition(data["jobs"][job].get("if"), False, context):
            return None
        env = {k: self.expand(v, context) for k, v in {**data.get("env", {}),
                                                        **data["jobs"][job].get("env", {})}.items()}
        env.update(self.overrides)
        results: dict[str, int | None] = {}
        failed = False
        for s in data["jobs"][job]["steps"]:
            name = s.get("name", s.get("uses"))
            if not self.condition(s.get("if"), failed, context):
                results[name] = None
                continue
            code = self.action(s, workspace, context) if "uses" in s else \
                self.shell(s, workspace, env, context)
            results[name] = code
            failed = failed or code != 0
        return results

    def expand(self, text, context) -> str:
        def one(match):
            name = match.group(1)
            if name.startswith("secrets."):
                return ""                                   # no credentials: no server
            return context[name]
        return EXPRESSION.sub(one, str(text))

    @staticmethod
    def condition(expression, failed: bool, context) -> bool:
        if expression is None:
            return not failed
        if expression == "always()":
            return True
        match = re.fullmatch(r"github\.event\.schedule == '(.+)'", expression)
        if match:
            return match.group(1) == context["schedule"]
        raise AssertionError(f"the test runner does not know the condition {expression!r}")

    def shell(self, s, workspace, env, context) -> int:
        step_env = {k: self.expand(v, context) for k, v in (s.get("env") or {}).items()}
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("HERALD_", "VIRTUAL_ENV", "PYTHON", "XDG_"))}
        full = {**base, **NO_NETWORK, **env, **step_env, "HOME": str(self.home), "CI": "true",
                "PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
                "GITHUB_WORKSPACE": str(workspace), "GITHUB_REPOSITORY": "example/site",
                "GITHUB_RUN_ID": context["github.run_id"]}
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                                 self.expand(s["run"], context)], cwd=workspace, env=full,
                                capture_output=True, text=True)
        self.output = getattr(self, "output", "") + result.stdout + result.stderr
        return result.returncode

    def action(self, s, workspace, context) -> int:
        uses = s["uses"].split("@")[0]
        given = {k: self.expand(v, context) for k, v in (s.get("with") or {}).items()}
        if uses in ("actions/checkout", "actions/setup-python"):
            return 0
        target = workspace / given["path"]
        if uses == "actions/cache/restore":
            keys = [given["key"]] if given["key"] in self.cache else []
            for prefix in given.get("restore-keys", "").split():
                keys += [k for k in reversed(list(self.cache)) if k.startswith(prefix)][:1]
            if keys:
                shutil.copytree(self.cache[keys[0]], target, dirs_exist_ok=True)
            return 0
        if uses == "actions/cache/save":
            if given["key"] in self.cache or not target.exists():
                return 1                                    # GitHub refuses both
            self.cache[given["key"]] = self.store / given["key"]
            shutil.copytree(target, self.cache[given["key"]])
            return 0
        raise AssertionError(f"the test runner does not play {uses}")


def site_repository(folder: Path) -> Path:
    """A site repository as the workflow expects it: events plus herald.toml at the root."""
    site, _ = site_copy(folder)
    text = (ROOT / "config.example.toml").read_text()
    (site / "herald.toml").write_text(re.sub(r'(?m)^path = "content"', 'path = "."', text))
    return site


def history(runner: Runner, workspace: Path, cache_key: str) -> list[dict]:
    env = {**os.environ, **NO_NETWORK, "XDG_DATA_HOME": str(runner.cache[cache_key]),
           "HERALD_CONFIG": str(workspace / "herald.toml")}
    out = subprocess.run([str(runner.venv / "bin" / "herald"), "history", "--json"],
                         cwd=workspace, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["entries"]


@pytest.mark.install
def test_the_workflow_steps_carry_the_ledger_from_one_run_to_the_next(opt_herald, tmp_path):
    every_quarter = workflow()["on"]["schedule"][0]["cron"]
    runner = Runner(opt_herald, tmp_path / "home", {"HERALD_PACKAGE": str(ROOT)})
    repository = site_repository(tmp_path / "repository")

    def checkout(name: str) -> Path:
        return Path(shutil.copytree(repository, tmp_path / name))

    first = runner.run("post", checkout("run-1"), 101, every_quarter)
    assert set(first.values()) == {0}, runner.output          # the first run posts no backlog
    skipped = history(runner, repository, "herald-ledger-101-1")
    assert skipped and {e["state"] for e in skipped} == {"skipped"}

    add_event(repository, "hostmote", datetime.now(ZONE).replace(microsecond=0)
              + timedelta(days=30))
    second = runner.run("post", checkout("run-2"), 102, every_quarter)
    assert second["Post what is due"] == 6, runner.output      # no credentials: exit 6
    assert second["Save the ledger"] == 0                      # saved all the same
    carried = history(runner, repository, "herald-ledger-102-1")
    new = [e for e in carried if e["ref"] == "hostmote"]
    assert new and {e["state"] for e in new} == {"failed"}
    assert all("HERALD_" in e["error"] for e in new), new    # names what to set
    assert [e for e in carried if e["ref"] != "hostmote"] == skipped

    runner.cache.clear()                 # without the cache the same run would skip the event
    lost = runner.run("post", checkout("run-3"), 103, every_quarter)
    assert lost["Post what is due"] == 0
    assert {e["state"] for e in history(runner, repository, "herald-ledger-103-1")
            if e["ref"] == "hostmote"} == {"skipped"}
    assert runner.run("keepalive", checkout("run-4"), 104, every_quarter) is None
