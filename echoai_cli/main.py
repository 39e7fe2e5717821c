"""The `echoai` command. Exit status: 0 done (a run completed), 1 failed (an API error, a failed or cancelled
run), 2 bad usage, 3 a followed run paused for approval, 130 detached with Ctrl-C."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from echoai_cli import approvals, auth, runs, sessions, workflows

app = typer.Typer(
    name="echoai",
    help="EchoAI from the command line: workflows, runs followed live, approvals, chat sessions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _options(
    url: Annotated[str | None, typer.Option("--url", help="Gateway URL (default $ECHOAI_URL, else :8000)")] = None,
) -> None:
    if url:
        os.environ["ECHOAI_URL"] = url


app.command()(auth.login)
app.command()(auth.register)
app.command()(auth.logout)
app.command()(auth.whoami)
app.add_typer(workflows.app, name="workflows")
app.command()(runs.run)
app.add_typer(runs.app, name="runs")
app.command()(approvals.inbox)
app.command()(approvals.approve)
app.command()(approvals.reject)
app.command()(approvals.edit)
app.add_typer(sessions.app, name="sessions")


@app.command(
    "migrate-json",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def migrate_json(ctx: typer.Context) -> None:
    """Move legacy JSON files into PostgreSQL (same as `echoai-migrate-json`; `--help` for its options)."""
    from tools.migrate_json.cli import main as migrate  # the server side, imported only for this command

    raise typer.Exit(migrate(ctx.args))


def main() -> None:
    app()
