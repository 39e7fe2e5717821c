from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.workflow.domain.definitions import normalise_agent_ids, own_id, rename_agents, replacements
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


def test_renamed_agents_take_their_connections_along() -> None:
    taken, kept = uuid.uuid4(), uuid.uuid4()
    d: dict[str, Any] = {
        "name": "x",
        "agents": [{"name": "a", "agent_id": f"agt_{taken.hex}"}, {"name": "b", "agent_id": str(kept)}],
        "connections": [{"from": f"agt_{taken}", "to": str(kept)}, {"from": str(kept), "to": "outside"}],
    }
    rows = normalise_agent_ids(d, OWNER)
    renamed = replacements({taken}, [r.agent_id for r in rows], OWNER)
    assert renamed == {taken: own_id(taken, "agt", OWNER)}
    new = renamed[taken]
    rows = rename_agents(d, rows, renamed)
    assert [r.agent_id for r in rows] == [new, kept]
    assert d["agents"][0]["agent_id"] == str(new) and rows[0].definition is d["agents"][0]
    assert d["connections"] == [{"from": str(new), "to": str(kept)}, {"from": str(kept), "to": "outside"}]


def test_derived_ids_are_stable_per_owner_and_never_a_free_form_id() -> None:
    taken = uuid.uuid4()
    other_owner = uuid.uuid4()
    assert own_id(taken, "agt", OWNER) == own_id(taken, "agt", OWNER)
    assert own_id(taken, "agt", OWNER) != own_id(taken, "agt", other_owner)
    assert own_id(taken, "agt", OWNER) != own_id(taken, "tool", OWNER)
    # A client cannot name the derived ID by text: the text is a UUID, which is kept as that UUID.
    assert parse_uuid(str(taken), "agt", scope=OWNER) == taken


def test_a_derived_id_already_in_the_definition_or_a_second_round_gets_a_random_one() -> None:
    taken = uuid.uuid4()
    derived = own_id(taken, "agt", OWNER)
    clash = replacements({taken}, [taken, derived], OWNER)[taken]
    assert clash not in (taken, derived) and clash.version == 4
    second = replacements({derived}, [derived], OWNER, fresh=True)[derived]
    assert second != own_id(derived, "agt", OWNER) and second.version == 4
