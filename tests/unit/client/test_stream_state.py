"""The stream's bookkeeping: order, duplicates, gaps, close codes, the end from the run, giving up."""

from __future__ import annotations

import json
from typing import Any

import pytest

from echoai_client.errors import StreamError, StreamGap, StreamRefused
from echoai_client.models import Run
from echoai_client.stream import Closed, Next, StreamState, ws_url


def raw(seq: int, type_: str = "step_output", **data: Any) -> str:
    return json.dumps({"type": type_, "run_id": "r", "seq": seq, "ts": "2026-01-01T00:00:00Z", "data": data})


def run(status: str, last_seq: int, **fields: Any) -> Run:
    return Run.model_validate({"run_id": "r", "workflow_id": "w", "status": status, "last_seq": last_seq, **fields})


def test_delivers_in_order_and_drops_duplicates() -> None:
    state = StreamState("r")
    assert state.parse(raw(1, "run_started"))[0] is Next.DELIVER
    assert state.parse(raw(1))[0] is Next.SKIP
    assert state.parse(raw(2))[0] is Next.DELIVER
    assert state.parse("not json")[0] is Next.SKIP
    kind, event = state.parse(raw(3, "run_completed", output="x"))
    assert kind is Next.DELIVER and event is not None and event.terminal
    assert state.finished and state.last_seq == 3


def test_a_gap_reconnects_once_then_stops_rather_than_skip() -> None:
    state = StreamState("r", last_seq=4)
    assert state.parse(raw(7))[0] is Next.GAP and state.last_seq == 4
    assert state.after_gap() is True
    assert state.parse(raw(7))[0] is Next.GAP
    assert state.after_gap() is False
    gap = state.gap_error()
    assert (gap.after_seq, gap.next_seq) == (4, 7) and "seq 5..6" in str(gap)


def test_a_filled_gap_resets_the_retry() -> None:
    state = StreamState("r", last_seq=1)
    state.parse(raw(3))
    assert state.after_gap()
    assert state.parse(raw(2))[0] is Next.DELIVER
    state.parse(raw(5))
    assert state.after_gap() is True


def test_close_codes() -> None:
    state = StreamState("r")
    assert state.on_closed(1001, "going away") is Closed.RECONNECT
    assert state.on_closed(None, "") is Closed.RECONNECT
    assert state.on_closed(1013, "") is Closed.RECONNECT
    assert state.on_closed(1000, "run already finished") is Closed.ASK_RUN
    with pytest.raises(StreamRefused):
        state.on_closed(1008, "no such run for this user")
    state.parse(raw(1, "run_failed", error="boom"))
    assert state.on_closed(1000, "") is Closed.DONE


def test_the_end_from_the_run_when_only_the_terminal_event_is_missing() -> None:
    state = StreamState("r", last_seq=5)
    assert state.finish_from(run("running", 5)) is None and not state.finished
    end = state.finish_from(run("completed", 6, output="done"))
    assert end is not None and (end.type, end.seq, end.data["output"]) == ("run_completed", 6, "done")
    assert state.finished and state.last_seq == 6
    quiet = StreamState("r")
    assert quiet.finish_from(run("failed", 0, error="x")) is None and quiet.finished  # events were off
    with pytest.raises(StreamGap):
        StreamState("r", last_seq=2).finish_from(run("cancelled", 9))


def test_backoff_grows_and_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("echoai_client.stream.time.monotonic", lambda: clock[0])
    state = StreamState("r", reconnect_timeout=10)
    delays = [state.backoff() for _ in range(6)]
    assert delays == sorted(delays) and delays[-1] == 2.0 and state.reconnects == 6
    state.parse(raw(1))  # progress resets the clock
    clock[0] += 11
    state.backoff()
    clock[0] += 11
    with pytest.raises(StreamError, match="after_seq=1"):
        state.backoff()


def test_ws_url() -> None:
    assert ws_url("http://h:8000", "r", 3) == "ws://h:8000/ws/execution/r?after_seq=3"
    assert ws_url("https://h", "r", 0) == "wss://h/ws/execution/r?after_seq=0"
