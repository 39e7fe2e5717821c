"""Keep tokens out of the logs: uvicorn logs a WebSocket's path with its query string (`?token=<jwt>`)."""

from __future__ import annotations

import logging
import re

_SECRET_PARAM = re.compile(r"(?i)((?:access_)?token=)[^&\s\"']+")


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """Rewrites a record whose message carries a `token=` query parameter; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        if "token=" in message.lower():
            record.msg, record.args = redact(message), None
        return True


def install() -> None:
    """Idempotent. On the loggers uvicorn writes to, and on the root handlers as a second net."""
    targets: list[logging.Filterer] = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, RedactTokens) for f in target.filters):
            target.addFilter(RedactTokens())
