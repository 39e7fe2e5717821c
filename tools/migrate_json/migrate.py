"""The migration run: owner, then tools, workflows, agents and sessions, one transaction per file.

Order matters once: workflows sync their embedded agents into the agents table, then the agent files are
written over those rows, so an agent's own file (its tools, its full goal) is what the registry keeps while each
workflow keeps its embedded copy. On a second run nothing differs, so nothing is written.

A dry run does the same work in one transaction with a savepoint per file and rolls it all back at the end:
the report is exactly what a real run would print, and nothing is kept.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from services.gateway.repository import UserRepository
from tools.migrate_json import convert
from tools.migrate_json.convert import Ids, Skip
from tools.migrate_json.report import FileResult, Outcome, Report
from tools.migrate_json.source import LegacyFile, LegacyTree, Resource, scan
from tools.migrate_json.store_session import SessionStore, count_sessions
from tools.migrate_json.store_workflow import WorkflowStore, count_rows


class MigrationError(Exception):
    """The run cannot start or go on; the message is one line a person can act on."""


@dataclass(frozen=True)
class Owner:
    user_id: uuid.UUID
    email: str


def read_tree(source: Path) -> LegacyTree:
    if not source.exists():
        raise MigrationError(f"The source directory {source} does not exist; pass the legacy data root with --source.")
    if not source.is_dir():
        raise MigrationError(f"{source} is not a directory; pass the legacy data root with --source.")
    tree = scan(source)
    if not tree.files:
        raise MigrationError(
            f"No legacy JSON files under {source}: expected agents/*.json, workflows/{{draft,final,temp}}/*.json, "
            "sessions/*.json or tools/*.json."
        )
    return tree


def _where(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


def _fatal(exc: BaseException, database_url: str) -> MigrationError:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if text.startswith("database ") and text.endswith("does not exist"):
        return MigrationError(
            f"PostgreSQL at {_where(database_url)} answered: {text}; create it with `make migrate` (which also "
            "builds the tables) or set ECHO_DATABASE_URL."
        )
    if isinstance(exc, sa_exc.ProgrammingError) and "does not exist" in text:
        return MigrationError(
            f"The database at {_where(database_url)} has no EchoAI tables ({text}); run `make migrate` first."
        )
    unreachable = (OSError, TimeoutError, sa_exc.OperationalError, sa_exc.InterfaceError)
    if isinstance(exc, unreachable) or (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated):
        return MigrationError(
            f"PostgreSQL is not reachable at {_where(database_url)} ({text}); start it or set ECHO_DATABASE_URL."
        )
    return MigrationError(f"PostgreSQL at {_where(database_url)} stopped the migration: {text}")


def _lost_connection(exc: sa_exc.DBAPIError) -> bool:
    return exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError)


async def resolve_owner(session: AsyncSession, email: str | None, admin_user_id: uuid.UUID) -> Owner:
    users = UserRepository(session)
    if email is not None:
        user = await users.by_email(email.strip().lower())
        if user is None:
            raise MigrationError(
                f"No EchoAI user has the email {email}; register it first (POST /auth/register) or leave --owner "
                "out to migrate to the admin user."
            )
    else:
        user = await users.by_id(admin_user_id)
        if user is None:
            raise MigrationError(
                f"The admin user {admin_user_id} is not in the database; run the gateway's migrations "
                "(`make migrate`) or name an owner with --owner EMAIL."
            )
    return Owner(user.user_id, user.email)


class Run:
    def __init__(self, session: AsyncSession, tree: LegacyTree, owner: Owner, report: Report, dry_run: bool):
        self.session = session
        self.tree = tree
        self.ids = Ids(owner.user_id)
        self.report = report
        self.dry_run = dry_run
        self.workflow_store = WorkflowStore(session, owner.user_id)
        self.session_store = SessionStore(session, owner.user_id)

    async def file(self, f: LegacyFile, object_id: uuid.UUID | None, write: Callable[[], Awaitable[Outcome]]) -> None:
        """One file in a savepoint of its own; committed at once unless this is a dry run."""
        try:
            async with self.session.begin_nested():
                outcome = await write()
        except Skip as skip:
            self.skip(f, skip.reason, object_id)
        except sa_exc.DBAPIError as exc:
            if _lost_connection(exc):
                raise
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            self.skip(f, f"the database refused it: {reason}", object_id)
        else:
            self.report.add(FileResult(f.resource, f.rel, outcome, str(object_id)))
        if not self.dry_run:
            await self.session.commit()
        # Every file reads fresh rows, never an object remembered from an earlier file.
        self.session.expunge_all()

    def skip(self, f: LegacyFile, reason: str, object_id: uuid.UUID | None = None) -> None:
        self.report.add(FileResult(f.resource, f.rel, "skipped", str(object_id) if object_id else None, reason))

    def _convertible(self, resource: Resource) -> list[tuple[LegacyFile, dict[str, object]]]:
        ready = []
        for f in self.tree.of(resource):
            if f.data is None:
                self.skip(f, f.error or "unreadable")
            else:
                ready.append((f, f.data))
        return ready

    def _duplicate(self, seen: dict[object, str], key: object, f: LegacyFile, object_id: uuid.UUID) -> bool:
        if key in seen:
            self.skip(f, f"duplicate: {seen[key]} has the same ID ({object_id}); only the first one is used", object_id)
            return True
        seen[key] = f.rel
        return False

    async def tools(self) -> None:
        seen: dict[object, str] = {}
        for f, data in self._convertible("tools"):
            try:
                row = convert.tool_row(data, f.stem, self.ids)
            except Skip as skip:
                self.skip(f, skip.reason)
                continue
            if not self._duplicate(seen, row.tool_id, f, row.tool_id):
                await self.file(f, row.tool_id, functools.partial(self.workflow_store.tool, row))

    async def workflows(self) -> None:
        records: list[tuple[LegacyFile, convert.WorkflowRecord]] = []
        for f, data in self._convertible("workflows"):
            try:
                records.append((f, convert.workflow_record(data, f.stem, f.folder, self.ids)))
            except Skip as skip:
                self.skip(f, skip.reason)
        seen: dict[object, str] = {}
        # Final before draft (see source.WORKFLOW_FOLDERS); stable, so files keep their order within a status.
        rank = {"final": 0, "draft": 1, "temp": 2}
        for f, record in sorted(records, key=lambda item: rank[item[1].status]):
            if not self._duplicate(seen, (record.workflow_id, record.status), f, record.workflow_id):
                await self.file(f, record.workflow_id, functools.partial(self.workflow_store.workflow, record))

    async def agents(self) -> None:
        seen: dict[object, str] = {}
        for f, data in self._convertible("agents"):
            try:
                row = convert.agent_row(data, f.stem, self.ids)
            except Skip as skip:
                self.skip(f, skip.reason)
                continue
            if not self._duplicate(seen, row.agent_id, f, row.agent_id):
                await self.file(f, row.agent_id, functools.partial(self.workflow_store.agent, row))

    async def sessions(self) -> None:
        seen: dict[object, str] = {}
        for f, data in self._convertible("sessions"):
            try:
                record = convert.session_record(data, f.stem, f.modified_at, self.ids)
            except Skip as skip:
                self.skip(f, skip.reason)
                continue
            if not self._duplicate(seen, record.session_id, f, record.session_id):
                await self.file(f, record.session_id, functools.partial(self.session_store.session, record))

    async def count(self, owner: uuid.UUID) -> None:
        rows = await count_rows(self.session, owner)
        rows["sessions"] = await count_sessions(self.session, owner)
        self.report.workflow_versions = rows.pop("workflow_versions")
        self.report.rows = rows


def make_engine(database_url: str) -> AsyncEngine:
    # One connection, kept across the per-file commits; a short connect timeout makes an unreachable server a
    # quick, clear error.
    return create_async_engine(
        database_url, pool_size=1, max_overflow=0, connect_args={"timeout": 5, "command_timeout": 60}
    )


async def migrate(
    source: Path, *, database_url: str, admin_user_id: uuid.UUID, owner_email: str | None = None, dry_run: bool = False
) -> Report:
    tree = read_tree(source)
    engine = make_engine(database_url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            try:
                owner = await resolve_owner(session, owner_email, admin_user_id)
                report = Report(str(source), str(owner.user_id), owner.email, dry_run, ignored=tree.ignored)
                report.readable_files = sum(f.readable for f in tree.files)
                run = Run(session, tree, owner, report, dry_run)
                # Tools first (agents point at them), workflows before agents (see the module docstring).
                await run.tools()
                await run.workflows()
                await run.agents()
                await run.sessions()
                await run.count(owner.user_id)
            except (OSError, TimeoutError, sa_exc.DBAPIError) as exc:
                raise _fatal(exc, database_url) from exc
            finally:
                # A dry run's whole work; nothing at all after a real run's last commit. A lost connection has
                # nothing left to roll back, and its error is already on its way.
                with contextlib.suppress(OSError, sa_exc.DBAPIError):
                    await session.rollback()
    finally:
        await engine.dispose()
    order = {name: i for i, name in enumerate(("agents", "workflows", "sessions", "tools"))}
    report.files.sort(key=lambda r: (order[r.resource], r.path))
    return report
