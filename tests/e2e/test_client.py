"""`echoai_client` against the running platform: every method, errors, pagination and the event stream."""

from __future__ import annotations

import json
import stat
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from echoai_client import (
    AsyncClient,
    Client,
    Conflict,
    Event,
    NotFound,
    StreamRefused,
    Unauthorized,
    ValidationFailed,
)
from echoai_client import config as client_config
from tests.e2e.clientkit import client_for, echo_agent, new_user, pipeline
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e


def _assert_gap_free(events: list[Event], after: int = 0) -> None:
    assert [e.seq for e in events] == list(range(after + 1, after + len(events) + 1)), [e.seq for e in events]


def test_identity_errors_and_credentials(
    platform: Platform, gateway: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = f"client-auth-{uuid.uuid4().hex[:8]}@example.com"
    monkeypatch.setenv("ECHOAI_CREDENTIALS", str(tmp_path / "echoai" / "credentials.json"))
    monkeypatch.delenv("ECHOAI_TOKEN", raising=False)
    with Client(platform.url) as echo:
        assert echo.token is None and echo.health()["status"] == "ok"
        user = echo.register(email, "correct horse battery", display_name="Ada")
        assert user.email == email and user.display_name == "Ada"
        with pytest.raises(Conflict) as taken:
            echo.register(email, "correct horse battery")
        assert taken.value.status == 409 and taken.value.error and taken.value.detail
        with pytest.raises(Unauthorized) as bad:
            echo.login(email, "wrong password!")
        assert bad.value.status == 401 and bad.value.error == "invalid_credentials", bad.value.error
        with pytest.raises(Unauthorized):
            echo.me()
        token = echo.login(email, "correct horse battery", save=True)
        assert token.token_type == "bearer" and token.expires_in > 0
        assert echo.me().user_id == user.user_id

    path = client_config.credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["gateways"][platform.url]["access_token"] == token.access_token
    with Client(platform.url) as saved:  # the credentials file
        assert saved.me().email == email
    monkeypatch.setenv("ECHOAI_URL", platform.url)
    monkeypatch.setenv("ECHOAI_TOKEN", token.access_token)
    path.unlink()
    with Client() as from_env:  # ECHOAI_URL and ECHOAI_TOKEN
        assert from_env.base_url == platform.url and from_env.me().email == email


def test_workflows_versions_and_pagination(platform: Platform, gateway: httpx.Client, tmp_path: Path) -> None:
    with client_for(platform, gateway, "client-wf") as echo:
        draft = echo.save_workflow(pipeline("Drafted", ["Researcher"]))
        assert draft.status == "draft" and draft.version == 0 and len(draft.agents) == 1
        file = tmp_path / "wf.json"
        file.write_text(json.dumps(pipeline("Drafted", ["Researcher", "Writer"])))
        final = echo.save_workflow(file, save_as="final", workflow_id=draft.workflow_id)
        assert (final.workflow_id, final.status, final.version) == (draft.workflow_id, "final", 1)
        echo.save_workflow(
            {"definition": pipeline("Drafted", ["Solo"])}, save_as="final", workflow_id=final.workflow_id
        )
        assert echo.get_workflow(draft.workflow_id).version == 2
        assert echo.find_workflow("Drafted").workflow_id == draft.workflow_id

        versions = echo.list_versions(draft.workflow_id)
        assert [v.version for v in versions.items] == [1, 2]
        assert [a["name"] for a in echo.get_version(draft.workflow_id, 1).definition["agents"]] == [
            "Researcher",
            "Writer",
        ]
        restored = echo.restore_version(draft.workflow_id, 1)
        assert restored.status == "draft" and len(restored.agents) == 2

        temp = echo.save_workflow(pipeline("Scratch", ["Tmp"]), save_as="temp")
        assert echo.get_temp_workflow(temp.workflow_id).name == "Scratch"
        for i in range(3):
            echo.save_workflow(pipeline(f"Paged {i}", ["A"]), save_as="final")
        first = echo.list_workflows("final", limit=2)
        assert len(first.items) == 2 and first.next_cursor
        every = list(echo.paginate(echo.list_workflows, limit=2))
        assert len(every) == len({w.workflow_id for w in every}) == 4
        assert {w.name for w in echo.paginate(echo.list_workflows, status="final", limit=1)} == {
            "Paged 0",
            "Paged 1",
            "Paged 2",
        }

        echo.delete_workflow(temp.workflow_id)
        echo.delete_workflow(draft.workflow_id)
        with pytest.raises(NotFound) as gone:
            echo.get_workflow(draft.workflow_id)
        assert gone.value.status == 404 and gone.value.error == "workflow_not_found"
        with pytest.raises(NotFound):
            echo.delete_workflow(draft.workflow_id)
        with pytest.raises(ValidationFailed) as invalid:
            echo.save_workflow({"agents": []})
        assert "name" in invalid.value.detail


def test_agents_and_tools(platform: Platform, gateway: httpx.Client) -> None:
    with client_for(platform, gateway, "client-reg") as echo:
        agent = echo.create_agent(echo_agent("solo", "Solo", "Do it"))
        assert echo.get_agent(agent.agent_id).name == "Solo"
        assert echo.update_agent(agent.agent_id, {**agent.definition, "name": "Duo"}).name == "Duo"
        assert agent.agent_id in {a.agent_id for a in echo.paginate(echo.list_agents)}
        workflow = echo.save_workflow(pipeline("With agents", ["Reader"]))
        assert [a.name for a in echo.list_agents(workflow.workflow_id).items] == ["Reader"]
        echo.delete_agent(agent.agent_id)
        with pytest.raises(NotFound):
            echo.get_agent(agent.agent_id)

        tool = echo.create_tool(
            {"name": "lookup", "tool_type": "api", "tags": ["web", "x"], "definition": {"url": "https://example.com/q"}}
        )
        assert echo.get_tool(tool.tool_id).tags == ["web", "x"]
        assert [t.tool_id for t in echo.list_tools(["web", "x"]).items] == [tool.tool_id]
        assert {t.name for t in echo.list_tools(tool_type="builtin").items} >= {"calculator", "current_time"}
        assert echo.update_tool(tool.tool_id, {**tool.model_dump(mode="json"), "tags": ["y"]}).tags == ["y"]
        echo.delete_tool(tool.tool_id)
        with pytest.raises(NotFound):
            echo.get_tool(tool.tool_id)


def test_sessions_and_messages(platform: Platform, gateway: httpx.Client) -> None:
    with client_for(platform, gateway, "client-sess") as echo:
        session = echo.create_session("Planning", context_type="general")
        assert session.title == "Planning" and session.messages == []
        first = echo.add_message(session.session_id, "hello")
        second = echo.add_message(session.session_id, "hi there", role="assistant", metadata={"k": 1})
        assert (first.seq, second.seq, second.metadata) == (1, 2, {"k": 1})
        assert [m.content for m in echo.list_messages(session.session_id, after_seq=1).items] == ["hi there"]
        assert echo.set_session_title(session.session_id, "Plans").title == "Plans"
        assert [m.seq for m in echo.get_session(session.session_id).messages] == [1, 2]
        assert session.session_id in {s.session_id for s in echo.paginate(echo.list_sessions, limit=1)}
        echo.delete_session(session.session_id)
        with pytest.raises(NotFound):
            echo.get_session(session.session_id)


def test_run_send_stream_and_inspect(platform: Platform, gateway: httpx.Client) -> None:
    with client_for(platform, gateway, "client-run") as echo:
        workflow = echo.save_workflow(pipeline("Three", ["Researcher", "Critic", "Writer"]), save_as="final")
        session = echo.create_session("runs")
        sent = echo.send(workflow.workflow_id, "the tides", session_id=session.session_id)
        assert sent.status == "executing" and sent.session_id == session.session_id
        stream = echo.stream(sent.run_id)
        events = list(stream)
        _assert_gap_free(events)
        assert events[0].type == "run_started" and events[-1].type == "run_completed"
        completed = [e.data["agent_name"] for e in events if e.type == "step_completed"]
        assert completed == ["Researcher", "Critic", "Writer"]
        assert stream.last_seq == events[-1].seq and stream.reconnects == 0

        run = echo.get_run(sent.run_id)
        assert run.status == "completed" and run.output == events[-1].data["output"] and "the tides" in run.output
        steps = echo.run_steps(sent.run_id)
        assert [s.agent_name for s in steps.steps] == ["Researcher", "Critic", "Writer"]
        assert sent.run_id in {r.run_id for r in echo.paginate(echo.list_runs, workflow_id=workflow.workflow_id)}
        assert echo.list_checkpoints(sent.run_id) == []
        tail = list(echo.stream(sent.run_id, after_seq=events[-3].seq))  # a replay from the middle
        assert [e.seq for e in tail] == [e.seq for e in events[-2:]]
        with pytest.raises(Conflict):
            echo.cancel_run(sent.run_id)

        slow = echo.save_workflow(pipeline("Slow", ["A", "B", "C"], delay_ms=1500), save_as="final")
        started = echo.send(slow.workflow_id, "wait")
        echo.cancel_run(started.run_id)
        cancelled = list(echo.stream(started.run_id))
        assert cancelled[-1].type == "run_cancelled"
        _assert_gap_free(cancelled)
        assert echo.wait(started.run_id, timeout=60).status == "cancelled"


def test_stream_refused_for_someone_elses_run(platform: Platform, gateway: httpx.Client) -> None:
    with client_for(platform, gateway, "client-own") as owner, client_for(platform, gateway, "client-x") as other:
        workflow = owner.save_workflow(pipeline("Mine", ["Solo"]), save_as="final")
        run_id = owner.send(workflow.workflow_id, "x").run_id
        with pytest.raises(StreamRefused):
            list(other.stream(run_id))
        with pytest.raises(NotFound):
            other.get_run(run_id)
        assert list(owner.stream(run_id))[-1].type == "run_completed"


async def test_async_client(platform: Platform, gateway: httpx.Client) -> None:
    _, token = new_user(gateway, "client-async")
    async with AsyncClient(platform.url, token) as echo:
        assert (await echo.me()).email.startswith("client-async")
        workflow = await echo.save_workflow(pipeline("Async", ["Planner", "Doer"]), save_as="final")
        assert [w.workflow_id async for w in echo.paginate(echo.list_workflows)] == [workflow.workflow_id]
        sent = await echo.send(workflow.workflow_id, "async tides")
        events = [e async for e in echo.stream(sent.run_id)]
        _assert_gap_free(events)
        assert events[-1].type == "run_completed" and "async tides" in events[-1].data["output"]
        assert (await echo.wait(sent.run_id)).status == "completed"
        with pytest.raises(NotFound):
            await echo.get_run(str(uuid.uuid4()))


def test_stream_survives_a_gateway_restart(platform: Platform, gateway: httpx.Client) -> None:
    """The gateway stops (close 1001) and comes back on the same port while a step runs: the stream reconnects
    with after_seq and delivers every event once, in order, to the end."""
    roles = ["First", "Second", "Third", "Fourth"]
    definition = pipeline("Restart", roles, delay_ms=800)
    # The second step spans the restart: events the executor publishes while no gateway is up are not kept.
    definition["agents"][1]["llm"]["delay_ms"] = 15000
    with client_for(platform, gateway, "client-restart") as echo:
        workflow = echo.save_workflow(definition, save_as="final")
        run_id = echo.send(workflow.workflow_id, "survive").run_id
        stream = echo.stream(run_id, reconnect_timeout=90)
        events: list[Event] = []
        restarted = threading.Event()

        def restart() -> None:
            platform.stop("gateway")
            platform.start("gateway")
            platform.wait_healthy("gateway")
            restarted.set()

        worker: threading.Thread | None = None
        for event in stream:
            events.append(event)
            if event.type == "step_started" and event.data.get("agent_name") == "Second" and worker is None:
                worker = threading.Thread(target=restart)
                worker.start()
        assert worker is not None
        worker.join(60)
        assert restarted.is_set()

    _assert_gap_free(events)
    assert stream.reconnects >= 1
    assert events[-1].type == "run_completed"
    assert [e.data["agent_name"] for e in events if e.type == "step_completed"] == roles
