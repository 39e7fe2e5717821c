"""`echoai` and human approval: a followed run that pauses exits 3; `echoai approve` lets it finish."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.clientkit import pipeline
from tests.e2e.test_cli import cli_env, echoai  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.e2e


def _push_gated(env: dict[str, str], tmp_path: Path, name: str) -> None:
    definition = pipeline(name, ["Drafter", "Publisher"])
    definition["agents"][0]["hitl"] = {"mode": "approval"}
    file = tmp_path / "gated.json"
    file.write_text(json.dumps(definition))
    assert echoai(env, "workflows", "push", str(file), "--final").returncode == 0


def test_paused_run_exits_3_and_approve_finishes_it(cli_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    _push_gated(cli_env, tmp_path, "CLI gated")
    paused = echoai(cli_env, "run", "CLI gated", "the draft", "--follow")
    assert paused.returncode == 3, paused.stdout + paused.stderr
    found = re.search(r"echoai approve ([0-9a-f-]{36})", paused.stdout)
    assert found, paused.stdout
    checkpoint_id = found.group(1)
    assert "⏸ Drafter" in paused.stdout

    inbox = json.loads(echoai(cli_env, "inbox", "--json").stdout)
    item = next(c for c in inbox if c["checkpoint_id"] == checkpoint_id)
    run_id = item["run_id"]
    assert checkpoint_id in echoai(cli_env, "inbox").stdout

    approved = echoai(cli_env, "approve", checkpoint_id, "--comment", "fine")
    assert approved.returncode == 0, approved.stderr
    finished = echoai(cli_env, "runs", "follow", run_id)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "✓ Publisher" in finished.stdout
    assert json.loads(echoai(cli_env, "runs", "show", run_id, "--json").stdout)["status"] == "completed"
    assert echoai(cli_env, "approve", checkpoint_id).returncode == 1  # decided already (409)


def test_edit_and_reject(cli_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    _push_gated(cli_env, tmp_path, "CLI gated edit")
    lines = echoai(cli_env, "run", "CLI gated edit", "draft", "--follow", "--json")
    assert lines.returncode == 3
    events = [json.loads(line) for line in lines.stdout.splitlines()]
    assert events[-1]["type"] == "run_paused"
    run_id, checkpoint_id = events[-1]["run_id"], events[-1]["data"]["checkpoint_id"]
    better = tmp_path / "better.txt"
    better.write_text("a better draft")
    assert echoai(cli_env, "edit", checkpoint_id, "--output-file", str(better)).returncode == 0
    assert echoai(cli_env, "runs", "follow", run_id).returncode == 0

    again = echoai(cli_env, "run", "CLI gated edit", "draft", "--follow", "--json")
    checkpoint_id = json.loads(again.stdout.splitlines()[-1])["data"]["checkpoint_id"]
    run_id = json.loads(again.stdout.splitlines()[-1])["run_id"]
    assert echoai(cli_env, "reject", checkpoint_id, "-m", "no").returncode == 0
    assert echoai(cli_env, "runs", "follow", run_id).returncode == 1
