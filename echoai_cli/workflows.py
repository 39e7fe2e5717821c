"""`echoai workflows push|ls|show|versions`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from echoai_cli.common import client, table, when
from echoai_cli.output import JsonOpt, Out, reporting
from echoai_client import Client, load_definition

app = typer.Typer(help="Workflow definitions: push JSON files, list them, see their versions.", no_args_is_help=True)


def target(echo: Client, definition: dict[str, Any]) -> str | None:
    """The workflow a pushed file updates: its `workflow_id` if it names one, else your one workflow with the
    same `name`; None (create) when you have none of that name. Several of that name: an error."""
    named = definition.pop("workflow_id", None)
    if named:
        return str(named)
    name = definition.get("name")
    same = [w for w in echo.paginate(echo.list_workflows, limit=200) if w.name == name]
    if len(same) > 1:
        ids = ", ".join(w.workflow_id for w in same)
        raise typer.BadParameter(f"several of your workflows are named {name!r} ({ids}); put a workflow_id in the file")
    return same[0].workflow_id if same else None


@app.command()
def push(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A definition as JSON.")],
    final: Annotated[bool, typer.Option("--final", help="Save as final (a new immutable version).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create the workflow, or update it when the file has a `workflow_id` or you already have one of that name."""
    out = Out(as_json)
    try:
        definition = load_definition(file)
    except ValueError as exc:
        raise typer.BadParameter(f"{file} is not a JSON workflow definition ({exc})") from None
    with reporting(out), client() as echo:
        workflow_id = target(echo, definition)
        saved = echo.save_workflow(definition, save_as="final" if final else "draft", workflow_id=workflow_id)
        if as_json:
            out.doc({**saved.model_dump(mode="json"), "action": "updated" if workflow_id else "created"})
            return
        verb = "updated" if workflow_id else "created"
        out.console.print(
            f"{verb} {saved.name!r}: {saved.workflow_id} ({saved.status}, version {saved.version})", markup=False
        )


@app.command("ls")
def list_(
    status: Annotated[str | None, typer.Option(help="draft or final")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Your workflows, newest first."""
    out = Out(as_json)
    with reporting(out), client() as echo:
        items = list(echo.paginate(echo.list_workflows, status=status, limit=200))
        if as_json:
            out.doc(items)
            return
        rows = [(w.workflow_id, w.name, w.status, w.version, when(w.updated_at)) for w in items]
        out.console.print(table(["ID", "NAME", "STATUS", "VERSION", "UPDATED"], rows))


@app.command()
def show(workflow: Annotated[str, typer.Argument(help="ID or name")], as_json: JsonOpt = False) -> None:
    """One workflow: its agents and versions."""
    out = Out(as_json)
    with reporting(out), client() as echo:
        found = echo.find_workflow(workflow)
        versions = list(echo.paginate(echo.list_versions, found.workflow_id, limit=200))
        if as_json:
            out.doc({**found.model_dump(mode="json"), "versions": versions})
            return
        out.console.print(f"{found.name} ({found.workflow_id}) {found.status}, version {found.version}", markup=False)
        rows = [
            (a.get("agent_id"), a.get("name"), a.get("role"), (a.get("llm") or {}).get("provider"))
            for a in found.agents
        ]
        out.console.print(table(["AGENT", "NAME", "ROLE", "LLM"], rows))


@app.command()
def versions(workflow: Annotated[str, typer.Argument(help="ID or name")], as_json: JsonOpt = False) -> None:
    """The immutable versions of a workflow (one per final save)."""
    out = Out(as_json)
    with reporting(out), client() as echo:
        found = echo.find_workflow(workflow)
        items = list(echo.paginate(echo.list_versions, found.workflow_id, limit=200))
        if as_json:
            out.doc(items)
            return
        out.console.print(
            table(["VERSION", "NAME", "CREATED"], [(v.version, v.name, when(v.created_at)) for v in items])
        )
