"""The real `echoai` command as a subprocess against the running platform."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.clientkit import new_user, pipeline
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

ECHOAI = str(Path(sys.executable).with_name("echoai"))


def echoai(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ECHOAI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def cli_env(platform: Platform, gateway: httpx.Client, tmp_path: Path) -> dict[str, str]:
    _, token = new_user(gateway, "cli")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECHOAI_")}
    env.update(ECHOAI_URL=platform.url, ECHOAI_TOKEN=token, ECHOAI_CREDENTIALS=str(tmp_path / "credentials.json"))
    return env


def test_login_keeps_a_private_credentials_file(platform: Platform, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECHOAI_")}
    creds = tmp_path / "cfg" / "credentials.json"
    env.update(ECHOAI_URL=platform.url, ECHOAI_CREDENTIALS=str(creds))
    email = f"cli-login-{uuid.uuid4().hex[:8]}@example.com"
    done = echoai(env, "login", "--register", "--email", email, "--password", "correct horse battery")
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    who = echoai(env, "whoami", "--json")
    assert who.returncode == 0 and json.loads(who.stdout)["email"] == email
    bad = echoai(env, "login", "--email", email, "--password", "not the password")
    assert bad.returncode == 1 and "invalid_credentials" in bad.stderr
    assert echoai(env, "logout").returncode == 0
    anonymous = echoai(env, "whoami")
    assert anonymous.returncode == 1 and "echoai login" in anonymous.stderr


def test_push_run_follow_and_inspect(cli_env: dict[str, str], tmp_path: Path) -> None:
    roles = ["Researcher", "Critic", "Editor", "Writer"]
    file = tmp_path / "research.json"
    file.write_text(json.dumps(pipeline("CLI research", roles, delay_ms=200)))
    created = echoai(cli_env, "workflows", "push", str(file), "--json")
    assert created.returncode == 0, created.stderr
    first = json.loads(created.stdout)
    assert (first["action"], first["status"], first["version"]) == ("created", "draft", 0)
    # Same name again: an update of that workflow, here as final (version 1).
    pushed = echoai(cli_env, "workflows", "push", str(file), "--final")
    assert (
        pushed.returncode == 0 and f"updated 'CLI research': {first['workflow_id']} (final, version 1)" in pushed.stdout
    )
    listed = json.loads(echoai(cli_env, "workflows", "ls", "--json").stdout)
    assert [(w["workflow_id"], w["version"]) for w in listed] == [(first["workflow_id"], 1)]
    versions = json.loads(echoai(cli_env, "workflows", "versions", "CLI research", "--json").stdout)
    assert [v["version"] for v in versions] == [1]
    table = echoai(cli_env, "workflows", "ls").stdout
    assert first["workflow_id"] in table and "\x1b[" not in table  # no colour off a terminal

    session = json.loads(echoai(cli_env, "sessions", "ls", "--json").stdout)
    assert session == []
    followed = echoai(cli_env, "run", "CLI research", "the tides", "--follow")
    assert followed.returncode == 0, followed.stdout + followed.stderr
    lines = followed.stdout.splitlines()
    step_lines = [line for line in lines if line.startswith("✓ ") and not line.startswith("✓ run ")]
    assert [line.split()[1] for line in step_lines] == roles, followed.stdout
    assert all("s  " in line for line in step_lines)  # a duration, then a short output
    assert any(line.startswith("✓ run completed in ") for line in lines)
    assert "Writer: " in followed.stdout and "\x1b[" not in followed.stdout

    as_lines = echoai(cli_env, "run", first["workflow_id"], "more tides", "--follow", "--json")
    assert as_lines.returncode == 0, as_lines.stderr
    events = [json.loads(line) for line in as_lines.stdout.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "run_completed" and "more tides" in events[-1]["data"]["output"]
    run_id = events[0]["run_id"]
    shown = json.loads(echoai(cli_env, "runs", "show", run_id, "--json").stdout)
    assert shown["status"] == "completed" and [s["agent_name"] for s in shown["steps"]] == roles
    assert "completed" in echoai(cli_env, "runs", "show", run_id).stdout
    again = echoai(cli_env, "runs", "cancel", run_id)
    assert again.returncode == 1 and "409" in again.stderr


def test_run_in_a_session_and_detached(cli_env: dict[str, str], tmp_path: Path) -> None:
    file = tmp_path / "chat.json"
    file.write_text(json.dumps(pipeline("CLI chat", ["Helper"])))
    assert echoai(cli_env, "workflows", "push", str(file), "--final").returncode == 0
    env = {**cli_env}
    token = env["ECHOAI_TOKEN"]
    r = httpx.post(
        f"{env['ECHOAI_URL']}/sessions", json={"title": "cli chat"}, headers={"Authorization": f"Bearer {token}"}
    )
    session_id = r.json()["session_id"]
    started = echoai(env, "run", "CLI chat", "hello there", "--session", session_id, "--json")
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["run_id"]
    assert echoai(env, "runs", "follow", run_id).returncode == 0
    history = json.loads(echoai(env, "sessions", "show", session_id, "--json").stdout)
    assert history["messages"][0]["content"] == "hello there"
    shown = echoai(env, "sessions", "show", session_id)
    assert "1 user: hello there" in shown.stdout


def test_a_failing_run_exits_1_and_bad_usage_exits_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    file = tmp_path / "broken.json"
    file.write_text(json.dumps(pipeline("CLI broken", ["Breaker"], fail_with="boom")))
    assert echoai(cli_env, "workflows", "push", str(file), "--final").returncode == 0
    failed = echoai(cli_env, "run", "CLI broken", "anything", "--follow")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "✗ Breaker" in failed.stdout and "boom" in failed.stdout and "run failed" in failed.stdout
    assert echoai(cli_env, "run", "CLI broken").returncode == 2
    assert echoai(cli_env, "run", "no such workflow", "x").returncode == 1
    assert echoai(cli_env, "run", "CLI broken", "x", "--input", "novalue").returncode == 2


def test_migrate_json_is_the_migration_tool(cli_env: dict[str, str], tmp_path: Path) -> None:
    done = echoai(cli_env, "migrate-json", "--source", str(tmp_path / "nothing-here"), "--dry-run")
    assert done.returncode == 1 and "nothing-here" in (done.stdout + done.stderr)
    assert "--source" in echoai(cli_env, "migrate-json", "--help").stdout


def test_ctrl_c_detaches_without_cancelling(cli_env: dict[str, str], tmp_path: Path) -> None:
    file = tmp_path / "slow.json"
    file.write_text(json.dumps(pipeline("CLI slow", ["Slow", "Slower"], delay_ms=2500)))
    assert echoai(cli_env, "workflows", "push", str(file), "--final").returncode == 0
    proc = subprocess.Popen(
        [ECHOAI, "run", "CLI slow", "patience", "--follow", "--json"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())  # following: the run has started
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "not cancelled" in err
    shown = echoai(cli_env, "runs", "follow", first["run_id"])
    assert shown.returncode == 0 and "✓ Slower" in shown.stdout
