"""The filesystem working copies: `{root}/{user_id}/{draft|temp|final}/{workflow_id}.json`.

Disposable by design (the database is the source of truth, except for temp saves), but never half-written:
every write goes to a temporary file in the same directory and is renamed over the target, so a reader sees
the old copy or the new one. Blocking file work runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger("echoai.workflow.storage")

Kind = Literal["draft", "temp", "final"]
KINDS: tuple[Kind, ...] = ("draft", "temp", "final")
_PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class WorkingCopy:
    definition: dict[str, Any]
    saved_at: datetime


class WorkingCopies:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, user_id: uuid.UUID, kind: Kind, workflow_id: uuid.UUID) -> Path:
        # Both parts are UUIDs, so no client text ever reaches the path.
        return self.root / str(user_id) / kind / f"{workflow_id}.json"

    def _write(self, target: Path, definition: dict[str, Any]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(definition, ensure_ascii=False, indent=2).encode()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=_PARTIAL_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    async def write(self, user_id: uuid.UUID, kind: Kind, workflow_id: uuid.UUID, definition: dict[str, Any]) -> None:
        """Raises OSError when the copy cannot be written."""
        await asyncio.to_thread(self._write, self.path(user_id, kind, workflow_id), definition)

    def _read(self, target: Path) -> WorkingCopy | None:
        try:
            raw = target.read_bytes()
            mtime = target.stat().st_mtime
        except FileNotFoundError:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            log.warning("ignoring a working copy that is not JSON", extra={"fields": {"path": str(target)}})
            return None
        if not isinstance(data, dict):
            return None
        return WorkingCopy(definition=data, saved_at=datetime.fromtimestamp(mtime, UTC))

    async def read(self, user_id: uuid.UUID, kind: Kind, workflow_id: uuid.UUID) -> WorkingCopy | None:
        return await asyncio.to_thread(self._read, self.path(user_id, kind, workflow_id))

    async def exists(self, user_id: uuid.UUID, kind: Kind, workflow_id: uuid.UUID) -> bool:
        return await asyncio.to_thread(self.path(user_id, kind, workflow_id).is_file)

    def _remove_all(self, user_id: uuid.UUID, workflow_id: uuid.UUID) -> list[Path]:
        removed = []
        for kind in KINDS:
            target = self.path(user_id, kind, workflow_id)
            try:
                target.unlink()
                removed.append(target)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not remove a working copy: %s", exc, extra={"fields": {"path": str(target)}})
        return removed

    async def remove_all(self, user_id: uuid.UUID, workflow_id: uuid.UUID) -> list[Path]:
        """Best effort: every copy of the workflow that could be removed."""
        return await asyncio.to_thread(self._remove_all, user_id, workflow_id)

    def cleanup_temp(self, older_than_seconds: float, *, dry_run: bool = False, now: float | None = None) -> list[Path]:
        """Remove temp copies (and partial files left by a crash) not written for `older_than_seconds`."""
        cutoff = (time.time() if now is None else now) - older_than_seconds
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        candidates = [*self.root.glob("*/temp/*.json"), *self.root.glob(f"*/*/.*{_PARTIAL_SUFFIX}")]
        for path in sorted(candidates):
            try:
                if path.stat().st_mtime >= cutoff:
                    continue
                if not dry_run:
                    path.unlink()
                removed.append(path)
            except FileNotFoundError:
                continue
        return removed
