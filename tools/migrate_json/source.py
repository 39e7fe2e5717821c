"""The legacy tree on disk: which files there are, in which order they are migrated, and their JSON.

Layout: `agents/*.json`, `workflows/{final,draft,temp}/*.json` (or `workflows/*.json` with a `status` key),
`sessions/*.json`, `tools/*.json`. Any other JSON file is listed as ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Resource = Literal["agents", "workflows", "sessions", "tools"]
RESOURCES: tuple[Resource, ...] = ("agents", "workflows", "sessions", "tools")
# Final before draft: when one workflow has both, the final file becomes its version and the draft (the work
# that followed it) its current definition.
WORKFLOW_FOLDERS = ("final", "draft", "temp")


@dataclass(frozen=True)
class LegacyFile:
    resource: Resource
    path: Path
    rel: str  # relative to the source directory, for reports
    folder: str | None  # workflows: draft, final or temp; None elsewhere (and for workflows/*.json)
    data: dict[str, Any] | None  # None when the file could not be read as a JSON object
    error: str | None
    readable: bool  # the file parsed as JSON (an array is readable, just the wrong shape)

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def modified_at(self) -> datetime:
        return datetime.fromtimestamp(self.path.stat().st_mtime, UTC)


@dataclass(frozen=True)
class LegacyTree:
    root: Path
    files: list[LegacyFile]
    ignored: list[str]

    def of(self, resource: Resource) -> list[LegacyFile]:
        return [f for f in self.files if f.resource == resource]


def load(path: Path) -> tuple[dict[str, Any] | None, str | None, bool]:
    """(object, error, parsed as JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8 text", False
    except OSError as exc:
        return None, f"cannot be read: {exc.strerror or exc}", False
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", False
    if not isinstance(data, dict):
        return None, f"wrong shape: the file holds a JSON {type(data).__name__}, not an object", True
    return data, None, True


def _json_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())


def _file(root: Path, resource: Resource, path: Path, folder: str | None) -> LegacyFile:
    data, error, readable = load(path)
    return LegacyFile(resource, path, path.relative_to(root).as_posix(), folder, data, error, readable)


def scan(root: Path) -> LegacyTree:
    """Every JSON file of the tree, in migration order. The caller checks that `root` is a directory."""
    files: list[LegacyFile] = []
    for resource in ("agents", "sessions", "tools"):
        files += [_file(root, resource, p, None) for p in _json_files(root / resource)]
    for folder in WORKFLOW_FOLDERS:
        files += [_file(root, "workflows", p, folder) for p in _json_files(root / "workflows" / folder)]
    files += [_file(root, "workflows", p, None) for p in _json_files(root / "workflows")]
    known = {f.path for f in files}
    ignored = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json") if p.is_file() and p not in known)
    return LegacyTree(root, files, ignored)
