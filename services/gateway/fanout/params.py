"""The WebSocket's query parameters, checked before they are used: a bad one closes the socket with 1008 and a
reason, never an exception that drops it without a close frame."""

from __future__ import annotations

import re

# Sequence numbers are per run and count events; 18 digits is past any run and still a PostgreSQL bigint.
_SEQ = re.compile(r"[0-9]{1,18}")
AFTER_SEQ_RULE = "after_seq must be a whole number from 0 to 999999999999999999 (ASCII digits only)"


def parse_after_seq(raw: str | None) -> int | None:
    """The replay point (0 when absent), or None when the value is not one."""
    if raw is None:
        return 0
    if _SEQ.fullmatch(raw) is None:
        return None
    return int(raw)
