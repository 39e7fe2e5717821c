"""The command as an operator runs it: a separate process configured by the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared import dbadmin
from tests.support.platform import ROOT, free_port
from tests.support.servers import fresh_database_url

pytestmark = pytest.mark.integration

SCRIPT = Path(sys.executable).parent / "echoai-migrate-json"


def cli(*args: str, database_url: str, script: bool = False) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "tools.migrate_json"]
    env = {**os.environ, "ECHO_DATABASE_URL": database_url}
    if script:
        # An editable install made before tools/ existed does not map it; `make install` again fixes that.
        env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def table(stdout: str) -> dict[str, list[int]]:
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in ("agents", "workflows", "sessions", "tools") and len(parts) == 6:
            rows[parts[0]] = [int(p) for p in parts[1:]]
    return rows


def test_python_m_form_prints_the_table_and_writes_the_json_report(source: Path, db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "report.json"

    done = cli("--source", str(source), "--report", str(out), database_url=db_url)

    assert done.returncode == 0, done.stderr
    assert table(done.stdout) == {
        "agents": [4, 3, 0, 1, 3],
        "workflows": [4, 2, 0, 2, 2],
        "sessions": [2, 2, 0, 0, 2],
        "tools": [3, 2, 0, 1, 2],
    }
    assert "agents/broken.json: invalid JSON" in done.stdout
    report = json.loads(out.read_text())
    assert report["resources"]["tools"] == {"seen": 3, "migrated": 2, "unchanged": 0, "skipped": 1, "rows": 2}
    assert report["changed"] is True and report["dry_run"] is False
    assert {f["path"] for f in report["files"] if f["outcome"] == "skipped"} >= {"tools/tool_weird.json"}


@pytest.mark.skipif(not SCRIPT.exists(), reason="the package is not installed, so there is no console script")
def test_console_script_second_run_reports_no_changes(source: Path, db_url: str) -> None:
    assert cli("--source", str(source), database_url=db_url, script=True).returncode == 0

    again = cli("--source", str(source), database_url=db_url, script=True)

    assert again.returncode == 0, again.stderr
    assert [row[1] for row in table(again.stdout).values()] == [0, 0, 0, 0]
    assert "changes: none" in again.stdout


def test_dry_run_keeps_nothing(source: Path, db_url: str) -> None:
    dry = cli("--source", str(source), "--dry-run", database_url=db_url)
    real = cli("--source", str(source), database_url=db_url)

    assert dry.returncode == real.returncode == 0
    assert dry.stdout.startswith("DRY RUN")
    assert table(dry.stdout) == table(real.stdout)  # the dry run wrote nothing, so the real run did it all


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_postgresql_unreachable_is_one_clear_line(source: Path) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/echoai"

    line = one_line_error(cli("--source", str(source), database_url=url))

    assert "PostgreSQL is not reachable at postgresql+asyncpg://postgres@127.0.0.1:" in line


def test_unknown_owner_is_one_clear_line(source: Path, db_url: str) -> None:
    line = one_line_error(cli("--source", str(source), "--owner", "ghost@example.com", database_url=db_url))

    assert "No EchoAI user has the email ghost@example.com" in line


async def test_a_database_without_tables_is_one_clear_line(source: Path, base_database_url: str) -> None:
    url = fresh_database_url(base_database_url)
    await dbadmin.ensure_database(url)
    try:
        line = one_line_error(cli("--source", str(source), database_url=url))
    finally:
        await dbadmin.drop_database(url)

    assert "has no EchoAI tables" in line and "make migrate" in line


def test_nothing_to_read_exits_1(tmp_path: Path, db_url: str) -> None:
    assert "does not exist" in one_line_error(cli("--source", str(tmp_path / "nope"), database_url=db_url))
    (tmp_path / "empty" / "agents").mkdir(parents=True)
    assert "No legacy JSON files" in one_line_error(cli("--source", str(tmp_path / "empty"), database_url=db_url))


def test_a_tree_of_only_broken_files_exits_1_with_the_report(tmp_path: Path, db_url: str) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "a.json").write_text("{not json")

    done = cli("--source", str(tmp_path), database_url=db_url)

    assert done.returncode == 1
    assert "agents/a.json: invalid JSON" in done.stdout
    assert "not one file of the source could be read" in done.stderr
