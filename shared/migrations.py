"""Alembic, one environment per service, each in its own schema with its own version table."""

from __future__ import annotations

import asyncio
import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.settings import get_settings

SERVICES = ("gateway", "workflow", "session", "executor")
ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, database_url: str | None = None) -> Config:
    if service not in SERVICES:
        raise SystemExit(f"unknown service '{service}'; pick one of {', '.join(SERVICES)}")
    cfg = Config(str(ROOT / "services" / service / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(service: str, revision: str = "head", database_url: str | None = None) -> None:
    command.upgrade(alembic_config(service, database_url), revision)


def downgrade(service: str, revision: str = "base", database_url: str | None = None) -> None:
    command.downgrade(alembic_config(service, database_url), revision)


def current(service: str, database_url: str | None = None) -> None:
    command.current(alembic_config(service, database_url), verbose=True)


def run_env(target_metadata: MetaData, schema: str) -> None:
    """The body of every service's `env.py`."""
    url = context.config.attributes.get("database_url") or get_settings().database_url

    def include_name(name: str | None, type_: str, parent_names: object) -> bool:
        return name == schema if type_ == "schema" else True

    def configure(**kwargs: object) -> None:
        context.configure(
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
            **kwargs,  # type: ignore[arg-type]
        )

    if context.is_offline_mode():
        configure(url=url, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: Connection) -> None:
        # Two migrators of one service (two pods starting) take turns instead of racing.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(schema.encode())})
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        asyncio.run(run_async())
    else:
        # Called from inside a running loop (tests, tools): run on a fresh loop in a helper thread.
        import threading

        errors: list[BaseException] = []

        def runner() -> None:
            try:
                asyncio.run(run_async())
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=runner)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
