"""`python -m services.workflow fs-cleanup --older-than 7d [--dry-run]`: remove old temp working copies."""

from __future__ import annotations

import argparse
import re

from services.workflow.storage import WorkingCopies
from shared.settings import get_settings

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """`7d`, `12h`, `30m`, `45s`, `2w`, or a bare number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration; write e.g. 7d, 12h, 30m or 45s")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = "Remove temp working copies not written for a while (the database never holds them)."
    parser.add_argument(
        "--older-than", type=parse_duration, default=parse_duration("7d"), help="e.g. 7d (default), 12h"
    )
    parser.add_argument("--dry-run", action="store_true", help="only print what would be removed")
    parser.add_argument("--root", default=None, help="the working-copy root (default: ECHO_WORKFLOW_FS_ROOT)")


def run(args: argparse.Namespace) -> int:
    root = args.root or get_settings().workflow_fs_root
    removed = WorkingCopies(root).cleanup_temp(args.older_than, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for path in removed:
        print(f"{verb} {path}")
    print(f"{verb} {len(removed)} temp working cop{'y' if len(removed) == 1 else 'ies'} under {root}")
    return 0
