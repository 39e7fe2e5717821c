"""Agent IDs inside a definition: every agent leaves a save with a UUID of the saver's own, and connections
follow their agents."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from services.workflow.domain.records import AgentRow
from shared.errors import Unprocessable
from shared.ids import ID_NAMESPACE, parse_uuid


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


def own_id(taken: uuid.UUID, prefix: str, owner: uuid.UUID) -> uuid.UUID:
    """The ID a caller gets instead of `taken`, an ID another account already holds.

    The same for every save of the same input (so saving a copied definition twice updates one agent rather than
    adding one per save), different for every owner, and never the UUID of a free-form ID (those are derived
    from text that is not a UUID, this one from text that is).
    """
    return uuid.uuid5(ID_NAMESPACE, f"{owner}:{prefix}:{taken}")


def replacements(
    taken: Iterable[uuid.UUID], in_use: Iterable[uuid.UUID], owner: uuid.UUID, *, fresh: bool = False
) -> dict[uuid.UUID, uuid.UUID]:
    """A new agent ID for each taken one: `own_id`, or a random one when `fresh` (the derived one was taken as
    well) or when the derived one is already another agent of the same definition."""
    used = set(in_use)
    out: dict[uuid.UUID, uuid.UUID] = {}
    for old in sorted(taken):
        new = uuid.uuid4() if fresh else own_id(old, "agt", owner)
        if new in used:
            new = uuid.uuid4()
        used.add(new)
        out[old] = new
    return out


def rename_agents(
    definition: dict[str, Any], rows: list[AgentRow], renamed: Mapping[uuid.UUID, uuid.UUID]
) -> list[AgentRow]:
    """Rewrite, in place, the agents (and connections) whose ID is renamed; returns the rows with the new IDs.
    The definition must have been through `normalise_agent_ids`, so every ID is spelled as its UUID."""
    if not renamed:
        return rows
    spelled = {str(old): str(new) for old, new in renamed.items()}
    for agent in definition.get("agents") or []:
        agent["agent_id"] = spelled.get(agent["agent_id"], agent["agent_id"])
    for connection in definition.get("connections") or []:
        for end in ("from", "to"):
            value = connection.get(end)
            if isinstance(value, str) and value in spelled:
                connection[end] = spelled[value]
    return [
        AgentRow(agent_id=renamed.get(row.agent_id, row.agent_id), name=row.name, definition=row.definition)
        for row in rows
    ]
