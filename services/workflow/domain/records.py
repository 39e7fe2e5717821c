"""What a save hands the repository: plain values, checked and normalised, ready to be written."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AgentRow:
    agent_id: uuid.UUID
    name: str
    definition: dict[str, Any]


@dataclass(frozen=True)
class ToolRow:
    tool_id: uuid.UUID
    name: str
    tool_type: str
    tags: list[str]
    definition: dict[str, Any]
