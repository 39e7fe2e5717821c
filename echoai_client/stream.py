"""The bookkeeping behind `Client.stream` and `AsyncClient.stream`, shared by both: which seq comes next,
what a close code means, how long to wait before reconnecting, and how to end once the gateway has nothing.

The rule: events leave in seq order, each once. A duplicate (a replay overlapping what was seen) is dropped; a
gap makes the stream reconnect with `after_seq` = the last seq delivered, and if the gateway still cannot fill
it, the stream ends with `StreamGap` rather than skip. A gateway that closes with 1000 before the terminal event
(the run ended before it saw any event) is finished from `GET /executions/{id}`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import urlencode

from pydantic import ValidationError

from echoai_client.errors import StreamError, StreamGap, StreamRefused
from echoai_client.models import Event, Run

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
RUN_END_EVENT = {"completed": "run_completed", "failed": "run_failed", "cancelled": "run_cancelled"}


class Next(Enum):
    DELIVER = "deliver"
    SKIP = "skip"
    GAP = "gap"


class Closed(Enum):
    DONE = "done"  # the terminal event was delivered
    RECONNECT = "reconnect"
    ASK_RUN = "ask_run"  # the gateway says the run is over but we have not seen the end


def ws_url(base_url: str, run_id: str, after_seq: int) -> str:
    scheme, rest = base_url.split("://", 1)
    ws_scheme = "wss" if scheme == "https" else "ws"
    return f"{ws_scheme}://{rest}/ws/execution/{run_id}?{urlencode({'after_seq': after_seq})}"


def auth_message(token: str) -> str:
    return json.dumps({"type": "auth", "token": token})


@dataclass
class StreamState:
    run_id: str
    last_seq: int = 0
    reconnect_timeout: float = 60.0
    reconnects: int = 0
    finished: bool = False
    _gap_retries: int = 0
    _failing_since: float | None = None
    _attempt: int = 0
    _pending: Event | None = field(default=None, repr=False)

    def parse(self, raw: str | bytes) -> tuple[Next, Event | None]:
        try:
            event = Event.model_validate_json(raw)
        except ValidationError:
            return Next.SKIP, None  # not an event of this protocol; nothing to deliver
        if event.seq <= self.last_seq:
            return Next.SKIP, None
        if event.seq > self.last_seq + 1:
            self._pending = event
            return Next.GAP, event
        self.last_seq = event.seq
        self.finished = event.terminal
        self._gap_retries = 0
        self._failing_since, self._attempt = None, 0
        return Next.DELIVER, event

    def after_gap(self) -> bool:
        """True to reconnect once more; False when the gateway already could not fill this gap."""
        self._gap_retries += 1
        return self._gap_retries <= 1

    def gap_error(self) -> StreamGap:
        return StreamGap(self.run_id, self.last_seq, self._pending.seq if self._pending else None)

    def on_closed(self, code: int | None, reason: str) -> Closed:
        if self.finished:
            return Closed.DONE
        if code == CLOSE_POLICY:
            raise StreamRefused(self.run_id, reason)
        if code == CLOSE_NORMAL:
            return Closed.ASK_RUN
        return Closed.RECONNECT  # 1001 shutdown, 1006 dropped, 1011 server error, 1012/1013 retry later

    def finish_from(self, run: Run) -> Event | None:
        """The end of a run the gateway no longer streams: its terminal event when that is the only one missing,
        None if the run is not over (reconnect), `StreamGap` when more is missing."""
        if not run.finished:
            return None
        self.finished = True
        if run.last_seq <= self.last_seq:
            return None  # nothing was published that we have not delivered (events off, or seen it all)
        if run.last_seq != self.last_seq + 1:
            raise StreamGap(self.run_id, self.last_seq, run.last_seq)
        data: dict[str, object] = {"status": run.status}
        if run.status == "completed":
            data["output"] = run.output
        elif run.status == "failed":
            data["error"] = run.error
        self.last_seq = run.last_seq
        ts = run.completed_at
        return Event(type=RUN_END_EVENT[run.status], run_id=self.run_id, seq=run.last_seq, ts=ts, data=data)

    def backoff(self) -> float:
        """Seconds to wait before the next connection attempt; `StreamError` once reconnecting has failed
        for `reconnect_timeout` seconds without delivering anything."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since > self.reconnect_timeout:
            raise StreamError(
                f"run {self.run_id}: no event for {self.reconnect_timeout:g} s of reconnecting; "
                f"resume later with after_seq={self.last_seq}"
            )
        self.reconnects += 1
        self._attempt += 1
        return float(min(2.0, 0.1 * 2 ** min(self._attempt, 5)))
