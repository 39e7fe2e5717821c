"""`echoai inbox`, `echoai approve|reject|edit CHECKPOINT_ID`: decisions on paused runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from echoai_cli.common import client, table, when
from echoai_cli.output import JsonOpt, Out, reporting, short
from echoai_client.calls import Decision

CommentOpt = Annotated[str | None, typer.Option("--comment", "-m", help="Why (kept with the decision)")]


def inbox(
    every: Annotated[bool, typer.Option("--all", help="Decided ones too, not only pending")] = False,
    workflow: Annotated[str | None, typer.Option(help="Only this workflow ID")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Steps waiting for your decision, newest first."""
    out = Out(as_json)
    with reporting(out), client() as echo:
        items = list(echo.paginate(echo.inbox, None if every else "pending", workflow, limit=200))
        if as_json:
            out.doc(items)
            return
        if not items:
            out.console.print("nothing waits for you", markup=False)
            return
        rows = [
            (
                c.checkpoint_id,
                c.workflow_name,
                c.agent_name or c.step_id,
                c.status,
                when(c.created_at),
                short(c.output, 60),
            )
            for c in items
        ]
        out.console.print(table(["CHECKPOINT", "WORKFLOW", "STEP", "STATUS", "CREATED", "OUTPUT"], rows))


def _decide(checkpoint_id: str, action: Decision, output: str | None, comment: str | None, as_json: bool) -> None:
    out = Out(as_json)
    with reporting(out), client() as echo:
        answer = echo.decide(checkpoint_id, action, output=output, comment=comment)
        if as_json:
            out.doc(answer)
        else:
            done = {
                "approve": "approved; the run goes on",
                "edit": "edited; the run goes on with your output",
                "reject": "rejected; the run ends failed",
            }[action]
            out.console.print(f"{checkpoint_id} {done}", markup=False)


def approve(checkpoint_id: str, comment: CommentOpt = None, as_json: JsonOpt = False) -> None:
    """Approve a paused step: the run continues with its output."""
    _decide(checkpoint_id, "approve", None, comment, as_json)


def reject(checkpoint_id: str, comment: CommentOpt = None, as_json: JsonOpt = False) -> None:
    """Reject a paused step: the run ends failed, with your comment."""
    _decide(checkpoint_id, "reject", None, comment, as_json)


def edit(
    checkpoint_id: str,
    output_file: Annotated[Path, typer.Option("--output-file", exists=True, dir_okay=False, help="The new output")],
    comment: CommentOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace a paused step's output with a file's text; the run continues with it."""
    _decide(checkpoint_id, "edit", output_file.read_text(encoding="utf-8"), comment, as_json)
