"""`echoai-migrate-json --source DIR [--dry-run] [--owner EMAIL] [--report FILE]` (or `python -m tools.migrate_json`).

Exit status: 0 when the tree was read (bad files are skipped and listed, that is not a failure); 1 when nothing
could be read (no such directory, no legacy JSON file in it, or not one file that parses) or the run could not
happen (PostgreSQL unreachable, no EchoAI tables, unknown owner), with a one-line error on stderr; 2 for bad
arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from shared.settings import get_settings
from tools.migrate_json.migrate import MigrationError, migrate


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="echoai-migrate-json",
        description="Move a legacy EchoAI JSON tree (agents, workflows, sessions, tools) into PostgreSQL. "
        "Safe to run again: what is already migrated is left alone.",
    )
    p.add_argument("--source", required=True, type=Path, help="the legacy data root (holds agents/, workflows/, ...)")
    p.add_argument("--owner", metavar="EMAIL", help="the EchoAI user who gets the data (default: the admin user)")
    p.add_argument("--dry-run", action="store_true", help="do everything but keep nothing; print the same report")
    p.add_argument("--report", metavar="FILE", type=Path, help="also write the report as JSON to FILE")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # The settings warn about a missing JWT secret, which has nothing to do with this tool.
    logging.getLogger("echoai.settings").setLevel(logging.ERROR)
    settings = get_settings()
    try:
        report = asyncio.run(
            migrate(
                args.source,
                database_url=settings.database_url,
                admin_user_id=settings.admin_user_id,
                owner_email=args.owner,
                dry_run=args.dry_run,
            )
        )
    except MigrationError as exc:
        print(f"echoai-migrate-json: {exc}", file=sys.stderr)
        return 1
    print(report.render())
    if args.report is not None:
        try:
            args.report.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"echoai-migrate-json: cannot write the report to {args.report}: {exc.strerror}", file=sys.stderr)
            return 1
    if report.readable_files == 0:
        print("echoai-migrate-json: not one file of the source could be read as JSON.", file=sys.stderr)
        return 1
    return 0
