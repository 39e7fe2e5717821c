"""The platform's builtin tools: fixed IDs the executor maps to its own implementations.

The rows are seeded by the migration `builtin_tools` (which keeps its own literal copy, as migrations must not
change when code does); a test checks the seeded rows still equal what is declared here.
"""

from __future__ import annotations

import uuid
from typing import Any

CALCULATOR_TOOL_ID = uuid.UUID("0b1e7000-0000-4000-8000-000000000001")
CURRENT_TIME_TOOL_ID = uuid.UUID("0b1e7000-0000-4000-8000-000000000002")

BUILTIN_TOOLS: dict[uuid.UUID, dict[str, Any]] = {
    CALCULATOR_TOOL_ID: {
        "name": "calculator",
        "tool_type": "builtin",
        "tags": ["math", "builtin"],
        "definition": {
            "builtin": "calculator",
            "description": "Evaluates an arithmetic expression (+ - * / ** % and parentheses) and returns the number.",
            "parameters": {
                "type": "object",
                "properties": {
                    "expression": {"type": "string", "description": "The expression, e.g. (2 + 3) * 4"},
                },
                "required": ["expression"],
                "additionalProperties": False,
            },
        },
    },
    CURRENT_TIME_TOOL_ID: {
        "name": "current_time",
        "tool_type": "builtin",
        "tags": ["time", "builtin"],
        "definition": {
            "builtin": "current_time",
            "description": "Returns the current date and time as ISO-8601.",
            "parameters": {
                "type": "object",
                "properties": {
                    "timezone": {"type": "string", "description": "An IANA time zone name; UTC when omitted."},
                },
                "required": [],
                "additionalProperties": False,
            },
        },
    },
}
