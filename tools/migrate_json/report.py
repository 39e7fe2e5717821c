"""What a migration did, per file and per resource, as a table for people and as JSON for scripts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tools.migrate_json.source import RESOURCES, Resource

Outcome = Literal["created", "updated", "unchanged", "skipped"]
COLUMNS = ("seen", "migrated", "unchanged", "skipped", "rows")


@dataclass(frozen=True)
class FileResult:
    resource: Resource
    path: str
    outcome: Outcome
    id: str | None = None  # the UUID the object has in the database
    reason: str | None = None  # why it was skipped


@dataclass(frozen=True)
class Counts:
    seen: int
    migrated: int  # created or updated by this run
    unchanged: int  # already stored exactly so: nothing written
    skipped: int
    rows: int  # the owner's rows in the database afterwards


@dataclass
class Report:
    source: str
    owner_id: str
    owner_email: str
    dry_run: bool
    files: list[FileResult] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    workflow_versions: int = 0
    ignored: list[str] = field(default_factory=list)
    readable_files: int = 0  # files that parsed as JSON, whatever their shape

    def add(self, result: FileResult) -> None:
        self.files.append(result)

    def counts(self, resource: Resource) -> Counts:
        mine = [f.outcome for f in self.files if f.resource == resource]
        return Counts(
            seen=len(mine),
            migrated=sum(o in ("created", "updated") for o in mine),
            unchanged=mine.count("unchanged"),
            skipped=mine.count("skipped"),
            rows=self.rows.get(resource, 0),
        )

    def _any(self, outcome: Outcome) -> bool:
        return any(f.outcome == outcome for f in self.files)

    @property
    def changed(self) -> bool:
        return any(f.outcome in ("created", "updated") for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "owner": {"user_id": self.owner_id, "email": self.owner_email},
            "dry_run": self.dry_run,
            "changed": self.changed,
            "resources": {r: asdict(self.counts(r)) for r in RESOURCES},
            "workflow_versions": self.workflow_versions,
            "files": [asdict(f) for f in self.files],
            "ignored": self.ignored,
            "readable_files": self.readable_files,
        }

    def render(self) -> str:
        lines = [
            f"{'DRY RUN (nothing written): ' if self.dry_run else ''}legacy data from {self.source} "
            f"for {self.owner_email} ({self.owner_id})",
            "",
            f"{'resource':<10}" + "".join(f"{c:>11}" for c in COLUMNS),
        ]
        for resource in RESOURCES:
            c = asdict(self.counts(resource))
            lines.append(f"{resource:<10}" + "".join(f"{c[col]:>11}" for col in COLUMNS))
        lines += ["", f"workflow versions in the database: {self.workflow_versions}"]
        skipped = [f for f in self.files if f.outcome == "skipped"]
        if skipped:
            lines += ["", "skipped:"] + [f"  {f.path}: {f.reason}" for f in skipped]
        if self.ignored:
            lines += ["", "ignored (not part of the legacy layout):"] + [f"  {p}" for p in self.ignored]
        if self.changed:
            lines += ["", "changes: yes" + (" (rolled back: dry run)" if self.dry_run else "")]
        else:
            before = " (everything readable was migrated before)" if self._any("unchanged") else ""
            lines += ["", f"changes: none{before}"]
        return "\n".join(lines)
