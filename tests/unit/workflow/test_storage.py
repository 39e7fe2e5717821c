from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest

from services.workflow.cleanup import parse_duration
from services.workflow.storage import WorkingCopies

U, W = uuid.uuid4(), uuid.uuid4()


async def test_write_replaces_atomically_and_leaves_no_partial_file(tmp_path: Path) -> None:
    copies = WorkingCopies(tmp_path)
    await copies.write(U, "draft", W, {"name": "one"})
    await copies.write(U, "draft", W, {"name": "two", "ü": "✓"})
    target = tmp_path / str(U) / "draft" / f"{W}.json"
    assert json.loads(target.read_text()) == {"name": "two", "ü": "✓"}
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    copy = await copies.read(U, "draft", W)
    assert copy is not None and copy.definition["name"] == "two"


async def test_a_failed_write_keeps_the_old_copy_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copies = WorkingCopies(tmp_path)
    await copies.write(U, "temp", W, {"name": "old"})

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk says no")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk says no"):
        await copies.write(U, "temp", W, {"name": "new"})
    monkeypatch.undo()
    folder = tmp_path / str(U) / "temp"
    assert [p.name for p in folder.iterdir()] == [f"{W}.json"]
    assert (await copies.read(U, "temp", W)).definition == {"name": "old"}  # type: ignore[union-attr]


async def test_unreadable_copies_read_as_missing(tmp_path: Path) -> None:
    copies = WorkingCopies(tmp_path)
    assert await copies.read(U, "temp", W) is None
    path = copies.path(U, "temp", W)
    path.parent.mkdir(parents=True)
    path.write_text("{broken")
    assert await copies.read(U, "temp", W) is None
    path.write_text("[1, 2]")
    assert await copies.read(U, "temp", W) is None


async def test_remove_all_removes_every_kind(tmp_path: Path) -> None:
    copies = WorkingCopies(tmp_path)
    for kind in ("draft", "temp", "final"):
        await copies.write(U, kind, W, {"name": kind})  # type: ignore[arg-type]
    await copies.write(U, "draft", uuid.uuid4(), {"name": "other"})
    assert len(await copies.remove_all(U, W)) == 3
    assert len(list(tmp_path.rglob("*.json"))) == 1


def test_cleanup_only_takes_old_temp_copies(tmp_path: Path) -> None:
    copies = WorkingCopies(tmp_path)
    now = time.time()
    made = {}
    for kind in ("draft", "temp", "final"):
        path = copies.path(U, kind, uuid.uuid4())  # type: ignore[arg-type]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
        os.utime(path, (now - 10 * 86400, now - 10 * 86400))
        made[kind] = path
    assert copies.cleanup_temp(7 * 86400, dry_run=True, now=now) == [made["temp"]]
    assert made["temp"].exists()
    assert copies.cleanup_temp(7 * 86400, now=now) == [made["temp"]]
    assert not made["temp"].exists() and made["draft"].exists() and made["final"].exists()
    assert WorkingCopies(tmp_path / "absent").cleanup_temp(0) == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 604800), ("12h", 43200), ("30m", 1800), ("45s", 45), ("90", 90), ("1w", 604800), ("1.5h", 5400)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "7 days", "-1d", "7y"])
def test_bad_durations(text: str) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)
