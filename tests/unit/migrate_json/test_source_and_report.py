"""Reading the legacy tree, the report, and the command's exits that need no database."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

import pytest

from tools.migrate_json import cli
from tools.migrate_json.migrate import MigrationError, read_tree
from tools.migrate_json.report import FileResult, Report
from tools.migrate_json.source import scan

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "tests" / "fixtures" / "legacy-sample"
# Where the platform's checkout keeps the reference sample, next to the repository.
SHARED_SAMPLE = REPO / ".." / "shared" / "legacy-sample"


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(_same_tree(a / d, b / d) for d in cmp.common_dirs)


@pytest.mark.skipif(not SHARED_SAMPLE.is_dir(), reason="no shared legacy sample next to this checkout")
def test_the_fixture_is_an_exact_copy_of_the_shared_sample() -> None:
    assert _same_tree(SAMPLE, SHARED_SAMPLE.resolve())


def test_scan_finds_every_file_in_migration_order() -> None:
    tree = scan(SAMPLE)

    assert [f.rel for f in tree.of("workflows")] == [
        "workflows/final/wf_1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d.json",
        "workflows/draft/wf_aa2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d.json",
        "workflows/draft/wf_nameless.json",
        "workflows/temp/wf_bb2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d.json",
    ]
    assert [f.folder for f in tree.of("workflows")] == ["final", "draft", "draft", "temp"]
    assert {r: len(tree.of(r)) for r in ("agents", "workflows", "sessions", "tools")} == {
        "agents": 4,
        "workflows": 4,
        "sessions": 2,
        "tools": 3,
    }
    broken = next(f for f in tree.of("agents") if f.stem == "broken")
    assert broken.data is None and not broken.readable and (broken.error or "").startswith("invalid JSON")
    assert tree.ignored == []


def test_json_outside_the_layout_is_listed_as_ignored(tmp_path: Path) -> None:
    root = Path(shutil.copytree(SAMPLE, tmp_path / "legacy"))
    (root / "workflows" / "archive").mkdir()
    (root / "workflows" / "archive" / "old.json").write_text("{}")
    (root / "agents" / "notes.txt").write_text("not json")

    tree = scan(root)

    assert tree.ignored == ["workflows/archive/old.json"]
    assert len(tree.of("agents")) == 4


def test_nothing_to_read_is_an_error_before_any_database_work(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="does not exist"):
        read_tree(tmp_path / "missing")
    (tmp_path / "file").write_text("")
    with pytest.raises(MigrationError, match="is not a directory"):
        read_tree(tmp_path / "file")
    (tmp_path / "tree" / "agents").mkdir(parents=True)
    (tmp_path / "tree" / "agents" / "a.txt").write_text("")
    with pytest.raises(MigrationError, match="No legacy JSON files"):
        read_tree(tmp_path / "tree")


def test_cli_exits_1_with_one_line_when_the_source_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--source", str(tmp_path / "missing")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "does not exist" in err


def test_cli_without_source_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([])
    assert exit_.value.code == 2
    assert "--source" in capsys.readouterr().err


def _report(dry_run: bool = False) -> Report:
    report = Report("/legacy", "u-1", "ops@example.com", dry_run, rows={"agents": 2, "tools": 1})
    report.add(FileResult("agents", "agents/a.json", "created", "id-a"))
    report.add(FileResult("agents", "agents/b.json", "unchanged", "id-b"))
    report.add(FileResult("agents", "agents/c.json", "skipped", None, "invalid JSON: x"))
    report.add(FileResult("tools", "tools/t.json", "updated", "id-t"))
    return report


def test_report_counts_and_table() -> None:
    report = _report()

    assert report.counts("agents").__dict__ == {"seen": 3, "migrated": 1, "unchanged": 1, "skipped": 1, "rows": 2}
    assert report.counts("sessions").seen == 0
    text = report.render()
    lines = text.splitlines()
    assert lines[2].split() == ["resource", "seen", "migrated", "unchanged", "skipped", "rows"]
    assert lines[3].split() == ["agents", "3", "1", "1", "1", "2"]
    assert lines[6].split() == ["tools", "1", "1", "0", "0", "1"]
    assert "  agents/c.json: invalid JSON: x" in lines
    assert lines[-1] == "changes: yes"
    assert _report(dry_run=True).render().startswith("DRY RUN")


def test_report_json_is_serialisable_and_complete() -> None:
    data = json.loads(json.dumps(_report().to_json()))

    assert data["resources"]["agents"] == {"seen": 3, "migrated": 1, "unchanged": 1, "skipped": 1, "rows": 2}
    assert data["changed"] is True
    assert data["files"][2] == {
        "resource": "agents",
        "path": "agents/c.json",
        "outcome": "skipped",
        "id": None,
        "reason": "invalid JSON: x",
    }


def test_a_report_without_writes_says_no_changes() -> None:
    report = Report("/legacy", "u-1", "ops@example.com", False)
    report.add(FileResult("agents", "agents/b.json", "unchanged", "id-b"))
    assert report.render().splitlines()[-1].startswith("changes: none")
