"""`python -m services.workflow fs-cleanup`: old temp copies go, everything else stays."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.workflow.conftest import Caller, definition
from tests.support.platform import ROOT

pytestmark = pytest.mark.integration

DAY = 86400


def _age(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def _cleanup(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.workflow", "fs-cleanup", *args],
        cwd=ROOT,
        env={**os.environ, "ECHO_WORKFLOW_FS_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_fs_cleanup_removes_old_temp_copies_and_prints_them(alice: Caller, tmp_path: Path) -> None:
    # Copies written by the service itself, in a root of their own.
    root = tmp_path / "copies"
    user = root / str(alice.user_id)
    paths = {}
    for kind in ("draft", "temp", "final"):
        for age in ("old", "new"):
            path = user / kind / f"{uuid.uuid4()}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text('{"name": "x"}')
            paths[(kind, age)] = path
            _age(path, 8 if age == "old" else 1)
    partial = user / "temp" / ".abc.partial"
    partial.write_text("{")
    _age(partial, 9)

    dry = _cleanup(root, "--older-than", "7d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would remove {paths[('temp', 'old')]}" in dry.stdout
    assert all(p.exists() for p in paths.values()) and partial.exists()

    done = _cleanup(root, "--older-than", "7d")
    assert done.returncode == 0, done.stderr
    assert f"removed {paths[('temp', 'old')]}" in done.stdout and f"removed {partial}" in done.stdout
    assert "removed 2 temp working copies" in done.stdout
    assert not paths[("temp", "old")].exists() and not partial.exists()
    assert all(p.exists() for key, p in paths.items() if key != ("temp", "old"))

    again = _cleanup(root, "--older-than", "12h")
    assert f"removed {paths[('temp', 'new')]}" in again.stdout and "removed 1 temp" in again.stdout


async def test_a_cleaned_up_temp_copy_is_gone_from_the_api(alice: Caller, fs_root: Path) -> None:
    wid = (await alice.save(definition("Forgotten"), "temp"))["workflow_id"]
    _age(fs_root / str(alice.user_id) / "temp" / f"{wid}.json", 30)
    result = _cleanup(fs_root, "--older-than", "7d")
    assert wid in result.stdout
    assert (await alice.get(f"/workflows/{wid}/temp")).status_code == 404


def test_a_bad_duration_is_a_usage_error(tmp_path: Path) -> None:
    result = _cleanup(tmp_path, "--older-than", "soon")
    assert result.returncode == 2 and "not a duration" in result.stderr
