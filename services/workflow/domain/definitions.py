"""Agent IDs inside a definition: every agent leaves a save with a UUID, and connections follow their agents."""

from __future__ import annotations

import uuid
from typing import Any

from services.workflow.repository import AgentRow
from shared.errors import Unprocessable
from shared.ids import parse_uuid


def agent_uuid(raw: object, owner: uuid.UUID) -> uuid.UUID | None:
    """The UUID an agent ID stands for (free-form IDs are scoped by owner); None when there is no ID."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return parse_uuid(str(raw), "agt", scope=owner)


def normalise_agent_ids(definition: dict[str, Any], owner: uuid.UUID) -> list[AgentRow]:
    """Rewrite, in place, each agent's `agent_id` as its UUID (assigning one when missing) and the connections
    that point at an agent by any spelling of its ID; returns the agents as registry rows."""
    agents: list[dict[str, Any]] = definition.get("agents") or []
    seen: dict[uuid.UUID, int] = {}
    rows: list[AgentRow] = []
    for index, agent in enumerate(agents):
        agent_id = agent_uuid(agent.get("agent_id"), owner) or uuid.uuid4()
        if agent_id in seen:
            raise Unprocessable(
                f"definition.agents.{index}.agent_id: this is the same agent as definition.agents.{seen[agent_id]} "
                f"({agent_id}); give each agent its own agent_id."
            )
        seen[agent_id] = index
        agent["agent_id"] = str(agent_id)
        rows.append(AgentRow(agent_id=agent_id, name=agent["name"], definition=agent))
    for connection in definition.get("connections") or []:
        for end in ("from", "to"):
            target = agent_uuid(connection.get(end), owner)
            if target in seen:
                connection[end] = str(target)
    return rows
