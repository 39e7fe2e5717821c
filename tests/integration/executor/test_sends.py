"""`sends.Sends`: the connections a send writes with hold the send lock of their next run id before any request
comes, and a delivery of a run whose send is still going on in this process waits for it without a statement."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from services.executor.repository import lock_key
from services.executor.sends import Sends
from shared.dbadmin import asyncpg_dsn
from shared.settings import get_settings
from tests.integration.executor.conftest import Executor, agent, row_of

pytestmark = pytest.mark.integration


async def _seen_from_outside(query: str, *args: Any) -> Any:
    """One value, read on a connection of its own (not the pool the slots come from)."""
    conn = await asyncpg.connect(asyncpg_dsn(get_settings().database_url))
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def _lock_holder(run_id: uuid.UUID) -> int | None:
    """The backend pid that holds the send lock of `run_id`."""
    pid: int | None = await _seen_from_outside(
        """
        SELECT pid FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND ((classid::bigint << 32) | objid::bigint) = $1
        """,
        lock_key(run_id, "send"),
    )
    return pid


async def _advisory_locks(pid: int) -> int:
    count: int = await _seen_from_outside(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = $1", pid
    )
    return count


async def _terminate(pid: int) -> None:
    assert await _seen_from_outside("SELECT pg_terminate_backend($1)", pid)


async def test_a_slot_holds_the_lock_of_its_run_id_before_it_is_taken_and_never_hands_an_id_out_twice(
    executor: Executor,
) -> None:
    sends = Sends(executor.app.state.engine, armed=1)
    try:
        first = await sends.take()  # none armed yet: armed now
        first_id, first_pid = first.run_id, first.statements.conn.get_server_pid()
        assert await _lock_holder(first_id) == first_pid
        await sends.put_back(first)
        assert await _lock_holder(first_id) is None  # released once its send is over
        assert sends.ready() == 1
        second = await sends.take()
        # The same connection, already holding the lock of a new id: nothing to wait for at take.
        second_id = second.run_id
        assert second.statements.conn.get_server_pid() == first_pid
        assert second_id != first_id
        assert await _lock_holder(second_id) == first_pid
        third = await sends.take()  # the only armed one is in use: a second connection is armed on arrival
        third_id = third.run_id
        assert third_id not in (first_id, second_id)
        assert await _lock_holder(third_id) == third.statements.conn.get_server_pid() != first_pid
        await sends.put_back(second)
        await sends.put_back(third)  # beyond `armed`: released and back to the pool
        assert sends.ready() == 1 and sends.in_flight() == 0
        assert await _lock_holder(second_id) is None and await _lock_holder(third_id) is None
        assert await _advisory_locks(first_pid) == 1  # the connection kept armed holds its next id's lock
        fourth = await sends.take()
        assert fourth.statements.conn.get_server_pid() == first_pid
        assert fourth.run_id not in (first_id, second_id, third_id)
        assert await _lock_holder(fourth.run_id) == first_pid
        await sends.put_back(fourth)
    finally:
        await sends.close()
    assert sends.ready() == 0
    assert await _advisory_locks(first_pid) == 0


async def test_an_armed_connection_that_died_is_not_handed_out(executor: Executor) -> None:
    sends = Sends(executor.app.state.engine, armed=1)
    try:
        slot = await sends.take()
        await sends.put_back(slot)
        armed_pid = slot.statements.conn.get_server_pid()
        await _terminate(armed_pid)
        for _ in range(100):  # the driver learns of it when the server closes the socket
            if slot.statements.conn.is_closed():
                break
            await asyncio.sleep(0.02)
        fresh = await sends.take()
        assert fresh.statements.conn.get_server_pid() != armed_pid
        assert await _lock_holder(fresh.run_id) == fresh.statements.conn.get_server_pid()
        await sends.put_back(fresh)
    finally:
        await sends.close()


async def test_a_send_whose_connection_died_is_put_back_without_an_error_and_not_kept(executor: Executor) -> None:
    sends = Sends(executor.app.state.engine, armed=1)
    try:
        slot = await sends.take()
        await _terminate(slot.statements.conn.get_server_pid())
        await sends.put_back(slot)
        assert sends.ready() == 0 and sends.in_flight() == 0
        fresh = await sends.take()  # a new connection, armed on arrival
        assert await _lock_holder(fresh.run_id) == fresh.statements.conn.get_server_pid()
        await sends.put_back(fresh)
    finally:
        await sends.close()


async def test_a_delivery_waits_for_its_send_in_this_process_even_once_the_lock_is_free(executor: Executor) -> None:
    """The row is written and the send lock released, yet the run starts only once this process's send ends."""
    sends: Sends = executor.app.state.sends
    slot = await sends.take()
    request = executor.request({"agents": [agent("a", "Solo", "Say {message}")]}, message="local")
    request = request.model_copy(update={"run_id": slot.run_id})
    await executor.publish(executor.queued(request))
    await slot.statements.insert(**row_of(request))
    await slot.statements.release()  # PostgreSQL no longer holds the run back
    await asyncio.sleep(1.0)
    assert executor.tap.events[request.run_id] == []
    assert sends.in_flight() == 1
    await sends.put_back(slot)
    events = await executor.tap.until_terminal(request.run_id)
    assert events[0].type == "run_started" and events[-1].type == "run_completed"
    assert sends.in_flight() == 0
