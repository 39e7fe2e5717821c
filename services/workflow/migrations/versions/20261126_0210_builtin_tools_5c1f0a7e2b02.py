"""the builtin tools every user sees: calculator, current_time

Revision ID: 5c1f0a7e2b02
Revises: 5c1f0a7e2b01
Create Date: 2026-11-26 02:10:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1f0a7e2b02"
down_revision: str | None = "5c1f0a7e2b01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A literal copy of services/workflow/builtin_tools.py as of this revision (a test compares the two).
TOOLS = [
    {
        "tool_id": "0b1e7000-0000-4000-8000-000000000001",
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
    {
        "tool_id": "0b1e7000-0000-4000-8000-000000000002",
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
]


def upgrade() -> None:
    insert = sa.text(
        "INSERT INTO workflow.tools (tool_id, user_id, name, tool_type, tags, definition) "
        "VALUES (CAST(:tool_id AS uuid), NULL, :name, :tool_type, :tags, CAST(:definition AS jsonb)) "
        "ON CONFLICT (tool_id) DO NOTHING"
    )
    bind = op.get_bind()
    for tool in TOOLS:
        bind.execute(insert, {**tool, "definition": json.dumps(tool["definition"])})


def downgrade() -> None:
    op.get_bind().execute(
        sa.text("DELETE FROM workflow.tools WHERE tool_id = ANY(CAST(:ids AS uuid[]))"),
        {"ids": [t["tool_id"] for t in TOOLS]},
    )
