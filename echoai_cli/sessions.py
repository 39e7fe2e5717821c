"""`echoai sessions ls|show`."""

from __future__ import annotations

import typer
from rich.text import Text

from echoai_cli.common import client, table, when
from echoai_cli.output import JsonOpt, Out, reporting

app = typer.Typer(help="Chat sessions and their history.", no_args_is_help=True)


@app.command("ls")
def list_(as_json: JsonOpt = False) -> None:
    """Your chat sessions, most recently active first."""
    out = Out(as_json)
    with reporting(out), client() as echo:
        items = list(echo.paginate(echo.list_sessions, limit=200))
        if as_json:
            out.doc(items)
            return
        rows = [(s.session_id, s.title, s.message_count, len(s.run_ids), when(s.updated_at)) for s in items]
        out.console.print(table(["ID", "TITLE", "MESSAGES", "RUNS", "UPDATED"], rows))


@app.command()
def show(session_id: str, as_json: JsonOpt = False) -> None:
    """A session's chat history."""
    out = Out(as_json)
    with reporting(out), client() as echo:
        session = echo.get_session(session_id)
        if as_json:
            out.doc(session)
            return
        out.console.print(f"{session.title} ({session.session_id})", markup=False, style="bold")
        for message in session.messages:
            out.console.print(Text.assemble((f"{message.seq:>3} {message.role}: ", "bold"), message.content))
