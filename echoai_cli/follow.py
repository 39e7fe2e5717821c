"""`--follow`: a run's events as one line per step — a spinner while it runs (on a terminal), then its duration
and a short output, tool calls under it, a paused step with the command that approves it."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.text import Text

from echoai_cli.output import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_PAUSED, Out, short
from echoai_client import Client, Event, StreamGap

MARKS = {"completed": ("✓", "green"), "failed": ("✗", "red"), "paused": ("⏸", "yellow"), "cancelled": ("■", "red")}
EXIT_BY_STATUS = {"completed": EXIT_OK, "failed": EXIT_FAILED, "cancelled": EXIT_FAILED, "paused": EXIT_PAUSED}


@dataclass
class StepView:
    step_id: str
    name: str
    status: str = "running"
    started: datetime | None = None
    ended: datetime | None = None
    output: str | None = None
    error: str | None = None
    tools: list[str] = field(default_factory=list)
    checkpoint_id: str | None = None

    @property
    def duration(self) -> str:
        if self.started and self.ended:
            return f"{(self.ended - self.started).total_seconds():.1f}s"
        return ""

    def line(self) -> Text:
        mark, colour = MARKS.get(self.status, ("•", "white"))
        text = Text.assemble((mark, colour), " ", (self.name, "bold"))
        if self.duration:
            text.append(f"  {self.duration}", "dim")
        if self.status == "failed":
            text.append(f"  failed: {short(self.error)}", "red")
        elif self.status == "paused":
            text.append("  waiting for approval: ", "yellow")
            text.append(f"echoai approve {self.checkpoint_id}", "bold")
            text.append(f"  (or reject / edit {self.checkpoint_id} --output-file F)", "dim")
        elif self.output:
            text.append(f"  {short(self.output)}")
        for tool in self.tools:
            text.append(f"\n    ↳ {tool}", "cyan")
        return text


@dataclass
class RunView:
    run_id: str
    steps: dict[str, StepView] = field(default_factory=dict)
    status: str = "queued"
    started: datetime | None = None
    ended: datetime | None = None
    output: str | None = None
    error: str | None = None

    def apply(self, event: Event) -> StepView | None:
        """Fold one event in; returns the step it settled (completed, failed, paused), if any."""
        kind, data = event.type, event.data
        if kind == "run_started":
            self.status, self.started = "running", event.ts
        elif kind == "run_resumed":
            self.status = "running"
        elif kind in ("run_completed", "run_failed", "run_cancelled"):
            self.status, self.ended = kind.removeprefix("run_"), event.ts
            self.output, self.error = data.get("output"), data.get("error")
        elif kind == "run_paused":
            self.status = "paused"
            step = self.steps.get(str(data.get("step_id") or event.step_id or ""))
            step = step or next((s for s in reversed(self.steps.values()) if s.status == "completed"), None)
            if step is not None:
                step.status, step.checkpoint_id = "paused", str(data.get("checkpoint_id", ""))
                return step
        elif event.step_id:
            return self._step_event(event)
        return None

    def _step_event(self, event: Event) -> StepView | None:
        step_id, data = str(event.step_id), event.data
        step = self.steps.setdefault(step_id, StepView(step_id, str(data.get("agent_name") or step_id)))
        if data.get("agent_name"):
            step.name = str(data["agent_name"])
        if event.type == "step_started":
            step.status, step.started = "running", event.ts
        elif event.type == "step_output" and data.get("kind") == "tool":
            raw_input = data.get("input", "")
            shown = raw_input if isinstance(raw_input, str) else json.dumps(raw_input, ensure_ascii=False)
            call, result = short(shown, 40), short(str(data.get("output", "")), 60)
            step.tools.append(f"{data.get('tool')}({call}) = {result}")
        elif event.type == "step_completed":
            step.status, step.ended, step.output = "completed", event.ts, data.get("output")
            return step
        elif event.type == "step_failed":
            step.status, step.ended, step.error = "failed", event.ts, data.get("error")
            return step
        return None

    def render(self) -> RenderableType:
        rows: list[RenderableType] = []
        for step in self.steps.values():
            if step.status == "running":
                rows.append(Spinner("dots", text=Text.assemble((step.name, "bold"), ("  running…", "dim"))))
            else:
                rows.append(step.line())
        return Group(*rows)

    def summary(self) -> Text:
        mark, colour = MARKS.get(self.status, ("•", "white"))
        took = f" in {(self.ended - self.started).total_seconds():.1f}s" if self.started and self.ended else ""
        text = Text.assemble((mark, colour), (f" run {self.status}{took}", "bold"))
        if self.status == "failed" and self.error:
            text.append(f"\n{self.error}", "red")
        elif self.output:
            text.append(f"\n{self.output}")
        return text


def follow(client: Client, out: Out, run_id: str) -> int:
    """Show the run until it ends or pauses; the exit status for its state. Ctrl-C detaches, never cancels."""
    view = RunView(run_id)
    live = Live(view.render(), console=out.console, refresh_per_second=8) if out.live else None
    try:
        with live if live is not None else contextlib.nullcontext():
            _stream(client, out, view, live)
    except KeyboardInterrupt:
        out.err.print(
            f"detached; run {run_id} goes on (not cancelled). See it with `echoai runs show {run_id}`, "
            f"or cancel it with `echoai runs cancel {run_id}`."
        )
        return EXIT_INTERRUPTED
    if not out.as_json:
        out.console.print(view.summary())
        if view.status == "paused":
            out.console.print("`echoai inbox` lists every step waiting for a decision.", markup=False)
    return EXIT_BY_STATUS.get(view.status, EXIT_FAILED)


def _stream(client: Client, out: Out, view: RunView, live: Live | None) -> None:
    try:
        for event in client.stream(view.run_id):
            settled = view.apply(event)
            if out.as_json:
                out.line(event)
            elif live is not None:
                live.update(view.render())
            elif settled is not None:
                out.console.print(settled.line())
            # A replay may hold an earlier pause the run has since left: only a run paused now stops us.
            if event.type == "run_paused" and client.get_run(view.run_id).status == "paused":
                return
    except StreamGap as gap:
        out.err.print(f"[yellow]note:[/yellow] {escape(str(gap))}; showing the run's recorded steps instead")
        _from_steps(client, out, view, live)


def _from_steps(client: Client, out: Out, view: RunView, live: Live | None) -> None:
    run = client.wait(view.run_id)
    for step in client.run_steps(view.run_id).steps:
        known = view.steps.get(step.step_id)
        if known is not None and known.status != "running":
            continue
        shown = StepView(
            step.step_id,
            step.agent_name or step.step_id,
            step.status or "completed",
            step.started_at,
            step.completed_at,
            step.output,
            step.error,
        )
        view.steps[step.step_id] = shown
        if out.as_json:
            out.line({"type": "step_recorded", "run_id": view.run_id, **step.model_dump(mode="json")})
        elif live is None:
            out.console.print(shown.line())
    view.status, view.output, view.error = run.status, run.output, run.error
    view.started, view.ended = view.started or run.started_at, run.completed_at
    if live is not None:
        live.update(view.render())
