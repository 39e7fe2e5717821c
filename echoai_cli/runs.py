"""`echoai run` and `echoai runs show|follow|cancel|ls`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from echoai_cli.common import client, table, when
from echoai_cli.follow import follow
from echoai_cli.output import JsonOpt, Out, reporting, short

app = typer.Typer(help="Runs: show one, follow it live, cancel it, list them.", no_args_is_help=True)


def _inputs(pairs: list[str]) -> dict[str, str]:
    inputs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--input")
        inputs[key] = value
    return inputs


def run(
    workflow: Annotated[str, typer.Argument(help="Workflow ID or name")],
    message: Annotated[str, typer.Argument(help="The chat message ({message} in task descriptions)")],
    session: Annotated[
        str | None, typer.Option("--session", help="Chat session ID: the answer joins its history")
    ] = None,
    inputs: Annotated[list[str] | None, typer.Option("--input", help="KEY=VALUE for the run's inputs")] = None,
    follow_: Annotated[bool, typer.Option("--follow", "-f", help="Show the run live until it ends or pauses")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start a run. With --follow, exit 0 completed, 1 failed or cancelled, 3 paused (Ctrl-C detaches)."""
    out = Out(as_json)
    values = _inputs(inputs or [])
    with reporting(out), client() as echo:
        found = echo.find_workflow(workflow)
        sent = echo.send(found.workflow_id, message, session_id=session, inputs=values)
        if not follow_:
            if as_json:
                out.doc(sent)
            else:
                out.console.print(
                    f"run {sent.run_id} started; follow it with `echoai runs follow {sent.run_id}`", markup=False
                )
            return
        if not as_json:
            out.console.print(f"run {sent.run_id} of {found.name!r}", markup=False, style="dim")
        code = follow(echo, out, sent.run_id)
    raise typer.Exit(code)


@app.command("follow")
def follow_run(run_id: str, as_json: JsonOpt = False) -> None:
    """Follow a run live (from its first event); exit status as for `echoai run --follow`."""
    out = Out(as_json)
    with reporting(out), client() as echo:
        code = follow(echo, out, run_id)
    raise typer.Exit(code)


@app.command()
def show(run_id: str, as_json: JsonOpt = False) -> None:
    """A run's status, steps and output."""
    out = Out(as_json)
    with reporting(out), client() as echo:
        run = echo.get_run(run_id)
        steps = echo.run_steps(run_id)
        if as_json:
            out.doc({**run.model_dump(mode="json"), "steps": steps.steps})
            return
        out.console.print(f"run {run.run_id}: {run.status}", markup=False, style="bold")
        rows = [
            (s.agent_name or s.step_id, s.status, when(s.completed_at), short(s.output or s.error, 80))
            for s in steps.steps
        ]
        if rows:
            out.console.print(table(["STEP", "STATUS", "FINISHED", "OUTPUT"], rows))
        if run.output or run.error:
            out.console.print(Text(run.output or run.error or ""))


@app.command()
def cancel(run_id: str, as_json: JsonOpt = False) -> None:
    """Cancel a run: a queued one never starts, a running one stops at its next step, a paused one ends now."""
    out = Out(as_json)
    with reporting(out), client() as echo:
        run = echo.cancel_run(run_id)
        if as_json:
            out.doc(run)
        else:
            out.console.print(f"cancel requested for run {run_id} (now {run.status})", markup=False)


@app.command("ls")
def list_(
    workflow: Annotated[str | None, typer.Option(help="Only runs of this workflow ID")] = None,
    status: Annotated[str | None, typer.Option(help="queued, running, paused, completed, failed, cancelled")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Your runs, newest first."""
    out = Out(as_json)
    with reporting(out), client() as echo:
        page = echo.list_runs(workflow, status, limit=limit)
        if as_json:
            out.doc(page.items)
            return
        rows = [(r.run_id, r.workflow_id, r.status, when(r.created_at)) for r in page.items]
        out.console.print(table(["RUN", "WORKFLOW", "STATUS", "CREATED"], rows))
