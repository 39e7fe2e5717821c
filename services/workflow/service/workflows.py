"""Saving workflows by the save matrix, reading them back, versions and restore.

| save_as | working copy on disk | database row | version |
| draft   | draft/{id}.json      | upsert       | no      |
| temp    | temp/{id}.json       | untouched    | no      |
| final   | final/{id}.json      | upsert       | new     |

The database is the source of truth. A draft or final save whose copy cannot be written still succeeds (the
failure is logged); a temp save has nowhere else to go, so failing to write it is a 503.

Agent IDs another account holds are renamed to IDs of the saver's own (`domain.definitions.own_id`) in the
stored definition: saving a definition copied from someone else answers as if its IDs had never been used.
"""

from __future__ import annotations

import copy
import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.workflow.domain.definitions import normalise_agent_ids, rename_agents, replacements
from services.workflow.domain.records import AgentRow
from services.workflow.models import Workflow, WorkflowVersion
from services.workflow.repository import AgentRepository, WorkflowRepository
from services.workflow.schemas import (
    SaveIn,
    VersionOut,
    VersionSummary,
    WorkflowOut,
    WorkflowSummary,
)
from services.workflow.storage import Kind, WorkingCopies
from shared.db import after_commit, utcnow
from shared.errors import Conflict, NotFound, ServiceUnavailable
from shared.pagination import Page, decode_keyset, decode_number, keyset_cursor, split_page

log = logging.getLogger("echoai.workflow")


def _not_found(workflow_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"No workflow {workflow_id} in your account; create one with POST /workflows.", error="workflow_not_found"
    )


def summary(row: Workflow) -> WorkflowSummary:
    return WorkflowSummary.model_validate(row, from_attributes=True)


def full(row: Workflow) -> WorkflowOut:
    return WorkflowOut.model_validate(row, from_attributes=True)


class WorkflowService:
    def __init__(self, session: AsyncSession, copies: WorkingCopies):
        self.session = session
        self.copies = copies
        self.repo = WorkflowRepository(session)
        self.agents = AgentRepository(session)

    # --- saves -------------------------------------------------------------------------------------------

    async def save(self, user_id: uuid.UUID, body: SaveIn) -> WorkflowOut:
        """POST: a new workflow, saved by the save matrix."""
        return await self._save(user_id, uuid.uuid4(), body, current=None)

    async def replace(self, user_id: uuid.UUID, workflow_id: uuid.UUID, body: SaveIn) -> WorkflowOut:
        """PUT: the workflow must exist for this user, in the database or (never saved beyond temp) on disk."""
        row = await self.repo.find(workflow_id)
        # Another user's workflow, one of yours that was deleted and one never made get the same answer.
        if row is not None and (row.user_id != user_id or row.deleted_at is not None):
            raise _not_found(workflow_id)
        if row is None and not await self.copies.exists(user_id, "temp", workflow_id):
            raise _not_found(workflow_id)
        return await self._save(user_id, workflow_id, body, current=row)

    async def _save(
        self, user_id: uuid.UUID, workflow_id: uuid.UUID, body: SaveIn, current: Workflow | None
    ) -> WorkflowOut:
        definition = body.definition.as_stored()
        if body.save_as == "temp":
            normalise_agent_ids(definition, user_id)
            return await self._save_temp(user_id, workflow_id, definition, current)
        return await self._persist(user_id, workflow_id, body.definition.name, body.save_as, definition)

    async def _save_temp(
        self, user_id: uuid.UUID, workflow_id: uuid.UUID, definition: dict[str, Any], current: Workflow | None
    ) -> WorkflowOut:
        try:
            await self.copies.write(user_id, "temp", workflow_id, definition)
        except OSError as exc:
            log.error(
                "temp save failed: cannot write the working copy: %s",
                exc,
                extra={"fields": {"workflow_id": str(workflow_id), "user_id": str(user_id)}},
            )
            raise ServiceUnavailable(
                "The temporary working copy could not be written to disk; try again, or save it as a draft.",
                error="storage_unavailable",
            ) from None
        now = utcnow()
        return WorkflowOut(
            workflow_id=workflow_id,
            name=definition["name"],
            status="temp",
            version=current.version if current else 0,
            created_at=current.created_at if current else now,
            updated_at=now,
            definition=definition,
        )

    async def _persist(
        self, user_id: uuid.UUID, workflow_id: uuid.UUID, name: str, status: Kind, definition: dict[str, Any]
    ) -> WorkflowOut:
        # Agents first: renaming a taken agent ID changes the definition the workflow row and version store.
        await self._sync_agents(user_id, workflow_id, definition, normalise_agent_ids(definition, user_id))
        # This statement locks the workflow row until commit: every later step of a save of this workflow,
        # the file write included, happens in version order.
        row = await self.repo.save(workflow_id, user_id, name, status, definition)
        if row is None:  # deleted (or never ours) between the check and the save
            raise _not_found(workflow_id)
        if status == "final":
            await self.repo.add_version(workflow_id, row.version, name, definition)
        await self._write_copy(user_id, status, workflow_id, definition)
        return full(row)

    async def _sync_agents(
        self, user_id: uuid.UUID, workflow_id: uuid.UUID, definition: dict[str, Any], rows: list[AgentRow]
    ) -> None:
        """Upsert every agent of the definition; one whose ID another account holds is renamed (in `definition`
        too) to an ID of the caller's own and written under that: the same answer as for an ID never used."""
        pending = rows
        for attempt in range(3):
            written = await self.agents.upsert_from_workflow(user_id, workflow_id, pending)
            taken = {a.agent_id for a in pending} - written
            if not taken:
                return
            renamed = replacements(taken, (a.agent_id for a in rows), user_id, fresh=attempt > 0)
            rows = rename_agents(definition, rows, renamed)
            pending = [a for a in rows if a.agent_id in renamed.values()]
        raise Conflict("No free agent_id could be found for every agent of the definition; try again.")

    async def _write_copy(
        self, user_id: uuid.UUID, kind: Kind, workflow_id: uuid.UUID, definition: dict[str, Any]
    ) -> None:
        try:
            await self.copies.write(user_id, kind, workflow_id, definition)
        except OSError as exc:
            log.error(
                "%s working copy not written (the save itself succeeded): %s",
                kind,
                exc,
                extra={"fields": {"workflow_id": str(workflow_id), "user_id": str(user_id)}},
            )

    # --- reads -------------------------------------------------------------------------------------------

    async def get(self, user_id: uuid.UUID, workflow_id: uuid.UUID) -> WorkflowOut:
        row = await self.repo.get(user_id, workflow_id)
        if row is None:
            raise _not_found(workflow_id)
        return full(row)

    async def get_temp(self, user_id: uuid.UUID, workflow_id: uuid.UUID) -> WorkflowOut:
        row = await self.repo.find(workflow_id)
        if row is not None and row.user_id != user_id:
            row = None  # someone else's: answered as an ID never used (no temp copy of yours has it)
        if row is not None and row.deleted_at is not None:
            raise _not_found(workflow_id)
        working = await self.copies.read(user_id, "temp", workflow_id)
        if working is None:
            raise NotFound(f"Workflow {workflow_id} has no temp working copy.", error="temp_copy_not_found")
        return WorkflowOut(
            workflow_id=workflow_id,
            name=str(working.definition.get("name", "")),
            status="temp",
            version=row.version if row else 0,
            created_at=row.created_at if row else working.saved_at,
            updated_at=working.saved_at,
            definition=working.definition,
        )

    async def page(
        self, user_id: uuid.UUID, status: str | None, cursor: str | None, limit: int
    ) -> Page[WorkflowSummary]:
        rows = await self.repo.page(user_id, status, decode_keyset(cursor), limit + 1)
        items, next_cursor = split_page(rows, limit, lambda w: keyset_cursor(w.created_at, w.workflow_id))
        return Page(items=[summary(r) for r in items], next_cursor=next_cursor)

    async def delete(self, user_id: uuid.UUID, workflow_id: uuid.UUID) -> None:
        if await self.repo.soft_delete(user_id, workflow_id):

            async def remove_copies() -> None:
                await self.copies.remove_all(user_id, workflow_id)

            # Only once the delete is durable: a rolled-back delete keeps its working copies.
            after_commit(self.session, remove_copies)
            return
        # A workflow never saved beyond temp lives only on disk.
        if await self.repo.find(workflow_id) is None and await self.copies.exists(user_id, "temp", workflow_id):
            await self.copies.remove_all(user_id, workflow_id)
            return
        raise _not_found(workflow_id)

    # --- versions ----------------------------------------------------------------------------------------

    async def versions(
        self, user_id: uuid.UUID, workflow_id: uuid.UUID, cursor: str | None, limit: int
    ) -> Page[VersionSummary]:
        if await self.repo.get(user_id, workflow_id) is None:
            raise _not_found(workflow_id)
        rows = await self.repo.versions(user_id, workflow_id, decode_number(cursor), limit + 1)
        items, next_cursor = split_page(rows, limit, lambda v: {"n": v.version})
        return Page(
            items=[VersionSummary.model_validate(v, from_attributes=True) for v in items], next_cursor=next_cursor
        )

    async def _version(self, user_id: uuid.UUID, workflow_id: uuid.UUID, number: int) -> WorkflowVersion:
        found = await self.repo.version(user_id, workflow_id, number)
        if found is None:
            raise NotFound(
                f"Workflow {workflow_id} has no version {number} in your account.", error="version_not_found"
            )
        return found

    async def version(self, user_id: uuid.UUID, workflow_id: uuid.UUID, number: int) -> VersionOut:
        return VersionOut.model_validate(await self._version(user_id, workflow_id, number), from_attributes=True)

    async def restore(self, user_id: uuid.UUID, workflow_id: uuid.UUID, number: int) -> WorkflowOut:
        """The snapshot becomes the current draft (a draft save of it: agents synced, draft copy written)."""
        snapshot = await self._version(user_id, workflow_id, number)
        definition = copy.deepcopy(snapshot.definition)
        return await self._persist(user_id, workflow_id, snapshot.name, "draft", definition)
