from __future__ import annotations

import logging

from services.gateway.redact import RedactTokens, redact


def test_tokens_in_query_strings_are_redacted() -> None:
    assert redact("/ws/execution/x?token=abc.def.ghi&after_seq=3") == "/ws/execution/x?token=[redacted]&after_seq=3"
    assert redact("GET /a?access_token=zzz") == "GET /a?access_token=[redacted]"
    assert redact("nothing here") == "nothing here"


def test_filter_rewrites_uvicorn_style_records() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/ws/execution/r?token=secret.jwt.value"),
        None,
    )
    assert RedactTokens().filter(record)
    assert "secret" not in record.getMessage()
    assert "token=[redacted]" in record.getMessage()
