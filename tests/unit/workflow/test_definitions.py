from __future__ import annotations

import uuid

import pytest

from services.workflow.domain.definitions import normalise_agent_ids
from services.workflow.schemas import SaveIn, WorkflowDefinition
from shared.errors import Unprocessable
from shared.ids import parse_uuid

OWNER = uuid.UUID("00000000-0000-4000-8000-0000000000aa")


def test_ids_written_back_and_connections_rewritten() -> None:
    known = uuid.uuid4()
    d = {
        "name": "x",
        "agents": [{"name": "a", "agent_id": f"agt_{known.hex}"}, {"name": "b", "agent_id": "b"}, {"name": "c"}],
        "connections": [{"from": f"agt_{known}", "to": "b"}, {"from": "b", "to": "outside"}],
    }
    rows = normalise_agent_ids(d, OWNER)
    b = parse_uuid("b", "agt", scope=OWNER)
    assert [r.agent_id for r in rows][:2] == [known, b]
    assert d["agents"][0]["agent_id"] == str(known) and d["agents"][1]["agent_id"] == str(b)
    assert uuid.UUID(d["agents"][2]["agent_id"]) == rows[2].agent_id
    assert d["connections"] == [{"from": str(known), "to": str(b)}, {"from": str(b), "to": "outside"}]
    # The registry rows carry the written-back definition of each agent.
    assert rows[1].definition is d["agents"][1] and rows[1].name == "b"


def test_normalising_twice_changes_nothing() -> None:
    d = {"name": "x", "agents": [{"name": "a", "agent_id": "free"}, {"name": "b"}], "connections": []}
    normalise_agent_ids(d, OWNER)
    first = [a["agent_id"] for a in d["agents"]]
    normalise_agent_ids(d, OWNER)
    assert [a["agent_id"] for a in d["agents"]] == first


def test_blank_ids_are_assigned() -> None:
    d = {"name": "x", "agents": [{"name": "a", "agent_id": "  "}]}
    (row,) = normalise_agent_ids(d, OWNER)
    assert d["agents"][0]["agent_id"] == str(row.agent_id)


def test_two_spellings_of_one_id_are_refused() -> None:
    u = uuid.uuid4()
    d = {"name": "x", "agents": [{"name": "a", "agent_id": str(u)}, {"name": "b", "agent_id": f"agt_{u.hex}"}]}
    with pytest.raises(Unprocessable, match=r"definition\.agents\.1\.agent_id"):
        normalise_agent_ids(d, OWNER)


def test_definition_keeps_unknown_keys_adds_no_defaults_and_spells_from() -> None:
    raw = {
        "name": "n",
        "agents": [{"name": "a", "llm": {"provider": "echo", "temperature": 0.2}, "custom": 1}],
        "connections": [{"from": "a", "to": "b", "weight": 2}],
        "ui": {"x": 1},
    }
    stored = WorkflowDefinition.model_validate(raw).as_stored()
    assert stored == raw  # no execution_model, tools or manager added


def test_save_in_rejects_unknown_save_as_and_keys() -> None:
    with pytest.raises(ValueError, match="save_as"):
        SaveIn.model_validate({"definition": {"name": "n"}, "save_as": "later"})
    with pytest.raises(ValueError, match="extra"):
        SaveIn.model_validate({"definition": {"name": "n"}, "save_as": "draft", "extra": 1})


def test_published_schema_names_the_required_fields_and_allows_more() -> None:
    schema = WorkflowDefinition.model_json_schema(by_alias=True)
    assert schema["required"] == ["name"] and schema["additionalProperties"] is True
    assert schema["$defs"]["AgentSpec"]["required"] == ["name"]
    assert schema["$defs"]["Connection"]["required"] == ["from", "to"]
