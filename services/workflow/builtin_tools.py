"""The catalogue rows of the platform's builtin tools: a fixed ID each, under the names every service shares
(`shared.contracts.BUILTIN_TOOL_NAMES`, which the executor maps to its own implementations).

The rows are seeded by the migration `builtin_tools` (which keeps its own literal copy, as migrations must not
change when code does); a test checks the seeded rows still equal what is declared here.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.contracts import BUILTIN_TOOL_NAMES, BuiltinToolName

BUILTIN_TOOL_IDS: dict[BuiltinToolName, uuid.UUID] = {
    "calculator": uuid.UUID("0b1e7000-0000-4000-8000-000000000001"),
    "current_time": uuid.UUID("0b1e7000-0000-4000-8000-000000000002"),
}
CALCULATOR_TOOL_ID = BUILTIN_TOOL_IDS["calculator"]
CURRENT_TIME_TOOL_ID = BUILTIN_TOOL_IDS["current_time"]

# What each builtin tool does and takes; the name (catalogue `name` and `definition.builtin`) is added below.
_CATALOGUE: dict[BuiltinToolName, dict[str, Any]] = {
    "calculator": {
        "tags": ["math", "builtin"],
        "definition": {
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
    "current_time": {
        "tags": ["time", "builtin"],
        "definition": {
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


def _row(name: BuiltinToolName) -> dict[str, Any]:
    entry = _CATALOGUE[name]
    return {
        "name": name,
        "tool_type": "builtin",
        "tags": entry["tags"],
        "definition": {"builtin": name, **entry["definition"]},
    }


BUILTIN_TOOLS: dict[uuid.UUID, dict[str, Any]] = {BUILTIN_TOOL_IDS[name]: _row(name) for name in BUILTIN_TOOL_NAMES}
