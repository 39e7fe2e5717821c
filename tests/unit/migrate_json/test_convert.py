"""Legacy objects to stored shapes: IDs, references, statuses, messages. Pure, no database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.ids import parse_uuid
from tools.migrate_json.convert import (
    Ids,
    Skip,
    agent_row,
    session_record,
    tool_row,
    workflow_record,
)

OWNER = uuid.UUID("11111111-1111-4111-8111-111111111111")
OTHER = uuid.UUID("22222222-2222-4222-8222-222222222222")
HEX = "3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b"
MTIME = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ids() -> Ids:
    return Ids(OWNER)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"agt_{HEX}", uuid.UUID(HEX)),
        ("agt_0b8d7e2c-4f1a-4c3b-9d2e-7a6b5c4d3e2f", uuid.UUID("0b8d7e2c-4f1a-4c3b-9d2e-7a6b5c4d3e2f")),
        ("0b8d7e2c-4f1a-4c3b-9d2e-7a6b5c4d3e2f", uuid.UUID("0b8d7e2c-4f1a-4c3b-9d2e-7a6b5c4d3e2f")),
    ],
)
def test_uuid_shaped_ids_are_that_uuid_for_every_owner(raw: str, expected: uuid.UUID) -> None:
    assert Ids(OWNER).agent(raw) == Ids(OTHER).agent(raw) == expected


def test_free_form_ids_are_stable_and_scoped_by_owner(ids: Ids) -> None:
    assert ids.agent("agt_reviewer") == ids.agent("agt_reviewer") == parse_uuid("agt_reviewer", "agt", scope=OWNER)
    assert ids.agent("agt_reviewer") != Ids(OTHER).agent("agt_reviewer")
    # Kinds do not share a namespace: a workflow and a tool both called "x" are different objects.
    assert len({ids.agent("x"), ids.workflow("x"), ids.tool("x"), ids.session("x")}) == 4


def test_an_agent_file_and_a_workflow_agree_on_a_free_form_agent_id(ids: Ids) -> None:
    row = agent_row({"agent_id": "agt_reviewer", "name": "Reviewer"}, "agt_reviewer", ids)
    record = workflow_record(
        {"name": "W", "agents": [{"agent_id": "agt_reviewer", "name": "Reviewer"}]}, "wf_w", "draft", ids
    )
    assert record.agents[0].agent_id == row.agent_id
    assert record.definition["agents"][0]["agent_id"] == str(row.agent_id)


def test_agent_tools_point_at_migrated_tools_and_builtin_names_stay(ids: Ids) -> None:
    row = agent_row({"name": "R", "tools": [f"tool_{HEX}", "tool_calc", "calculator"]}, "agt_r", ids)
    calc = tool_row({"tool_id": "tool_calc", "name": "C", "tool_type": "builtin"}, "tool_calc", ids)

    assert row.definition["tools"] == [str(uuid.UUID(HEX)), str(calc.tool_id), "calculator"]


def test_the_file_name_is_the_id_when_the_object_has_none(ids: Ids) -> None:
    assert agent_row({"name": "R"}, "agt_reviewer", ids).agent_id == ids.agent("agt_reviewer")
    assert workflow_record({"name": "W"}, f"wf_{HEX}", "draft", ids).workflow_id == uuid.UUID(HEX)


def test_workflow_connections_follow_their_agents(ids: Ids) -> None:
    record = workflow_record(
        {
            "name": "W",
            "agents": [{"agent_id": "agt_a", "name": "A"}, {"agent_id": f"agt_{HEX}", "name": "B"}],
            "connections": [{"from": "agt_a", "to": f"agt_{HEX}"}],
            "legacy_key": {"kept": True},
        },
        "wf_w",
        "final",
        ids,
    )
    assert record.definition["connections"] == [{"from": str(ids.agent("agt_a")), "to": str(uuid.UUID(HEX))}]
    assert record.definition["legacy_key"] == {"kept": True}
    assert [a.agent_id for a in record.agents] == [ids.agent("agt_a"), uuid.UUID(HEX)]


@pytest.mark.parametrize(
    ("folder", "data", "status"),
    [("final", {"status": "draft"}, "final"), (None, {"status": "final"}, "final"), ("temp", {}, "temp")],
)
def test_status_comes_from_the_folder_else_from_the_json(
    ids: Ids, folder: str | None, data: dict[str, str], status: str
) -> None:
    assert workflow_record({"name": "W", **data}, "wf_w", folder, ids).status == status


def test_a_workflow_without_folder_or_status_is_skipped(ids: Ids) -> None:
    with pytest.raises(Skip, match="no status"):
        workflow_record({"name": "W"}, "wf_w", None, ids)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"name": "T", "tool_type": "quantum"}, "unknown tool_type 'quantum'"),
        ({"name": "T", "tool_type": "api", "definition": {"url": "ftp://x"}}, "definition.url"),
        ({"name": "T", "tool_type": "api", "definition": {"url": "https://x", "method": "BREW"}}, "definition.method"),
        ({"tool_type": "custom"}, "name: Field required"),
        ({"name": "T", "tool_type": "custom", "tool_id": ["x"]}, "tool_id must be a string"),
    ],
)
def test_tools_are_validated_by_type(ids: Ids, data: dict[str, object], reason: str) -> None:
    with pytest.raises(Skip, match=reason):
        tool_row(data, "tool_t", ids)


def test_tool_tags_are_kept_once_each(ids: Ids) -> None:
    row = tool_row({"name": "T", "tool_type": "custom", "tags": ["a", "b", "a"], "status": "active"}, "tool_t", ids)
    assert row.tags == ["a", "b"]


def test_legacy_builtin_tools_name_the_platform_builtin_they_are(ids: Ids) -> None:
    calc = tool_row({"name": "Calculator", "tool_type": "builtin", "definition": {}}, "tool_calc", ids)
    assert calc.definition == {"builtin": "calculator"}
    clock = tool_row({"name": "Current time", "tool_type": "builtin"}, "tool_clock", ids)
    assert clock.definition["builtin"] == "current_time"
    # An unknown builtin is kept as it was: the executor skips it with a warning rather than guessing.
    other = tool_row({"name": "Teleport", "tool_type": "builtin", "definition": {}}, "tool_tp", ids)
    assert "builtin" not in other.definition


def test_session_messages_get_seq_and_their_timestamps(ids: Ids) -> None:
    record = session_record(
        {
            "session_id": "sess_legacy-42",
            "title": "Chat",
            "messages": [
                {"role": "user", "content": "hi", "timestamp": "2026-01-30T10:00:00Z"},
                {"role": "assistant", "content": "hé", "timestamp": "2026-01-30T11:00:00+01:00", "model": "x"},
                {"role": "user", "content": "later"},
            ],
        },
        "sess_legacy-42",
        MTIME,
        ids,
    )
    assert record.session_id == ids.session("sess_legacy-42")
    assert [m["seq"] for m in record.messages] == [1, 2, 3]
    assert [m["created_at"] for m in record.messages] == [
        "2026-01-30T10:00:00.000000Z",
        "2026-01-30T10:00:00.000000Z",  # +01:00 converted to UTC
        "2026-01-30T10:00:00.000000Z",  # no timestamp: its predecessor's
    ]
    assert record.messages[1]["metadata"] == {"legacy": {"model": "x"}}
    assert record.content_bytes == len(b"hi") + len("hé".encode()) + len(b"later")
    assert record.created_at == datetime(2026, 1, 30, 10, tzinfo=UTC)
    # A second conversion gives the same message IDs: re-runs compare equal.
    again = session_record({"messages": [{"role": "user", "content": "hi"}]}, "sess_legacy-42", MTIME, ids)
    assert again.messages[0]["message_id"] == record.messages[0]["message_id"]


def test_a_session_without_any_time_takes_the_file_time(ids: Ids) -> None:
    record = session_record({"title": "Old chat", "messages": []}, "sess_x", MTIME, ids)
    assert record.created_at == record.updated_at == MTIME
    assert (record.context_type, record.context_id, record.title) == ("general", None, "Old chat")


def test_session_references_follow_the_migrated_objects(ids: Ids) -> None:
    record = session_record(
        {
            "context_type": "workflow",
            "context_id": "wf_nameless",
            "selected_tool_ids": ["tool_calc", "tool_calc", "current_time"],
            "run_ids": ["not-a-uuid", "0b8d7e2c-4f1a-4c3b-9d2e-7a6b5c4d3e2f"],
        },
        "sess_x",
        MTIME,
        ids,
    )
    assert record.context_id == str(ids.workflow("wf_nameless"))
    assert record.selected_tool_ids == [str(ids.tool("tool_calc")), "current_time"]
    assert record.run_ids == ["0b8d7e2c-4f1a-4c3b-9d2e-7a6b5c4d3e2f"]
    assert record.title == "New chat"
    agent_chat = session_record({"context_type": "agent", "context_id": "agt_reviewer"}, "s", MTIME, ids)
    assert agent_chat.context_id == str(ids.agent("agt_reviewer"))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"context_type": "workflow"}, "context_id is required"),
        ({"messages": "hello"}, "messages: Input should be a valid list"),
        ({"messages": [{"role": "user"}]}, "messages.0.content: Field required"),
        ({"variables": [1]}, "variables: Input should be a valid dictionary"),
        ({"session_id": ""}, None),  # blank: the file name is the ID
    ],
)
def test_sessions_of_the_wrong_shape_are_skipped(ids: Ids, data: dict[str, object], reason: str | None) -> None:
    if reason is None:
        assert session_record(data, "sess_x", MTIME, ids).session_id == ids.session("sess_x")
        return
    with pytest.raises(Skip, match=reason):
        session_record(data, "sess_x", MTIME, ids)
