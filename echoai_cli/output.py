"""How the command speaks: rich text for people (no colour when stdout is not a terminal), one JSON document
(or JSON lines) with `--json`, errors on stderr, and the exit status."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console

from echoai_client import EchoAIError, EchoAPIError, Unauthorized

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PAUSED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (one document; JSON lines with --follow).")]


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Off a terminal rich emits no colour; a wide fixed width keeps IDs and table rows on one line for scripts.
    return Console(file=stream, highlight=False, soft_wrap=True, width=None if stream.isatty() else 200)


class Out:
    def __init__(self, as_json: bool = False):
        self.as_json = as_json
        self.console = _console()
        self.err = _console(stderr=True)

    @property
    def live(self) -> bool:
        return self.console.is_terminal and not self.as_json

    def doc(self, value: Any) -> None:
        """One JSON document on stdout."""
        sys.stdout.write(json.dumps(jsonable(value), indent=2, ensure_ascii=False) + "\n")

    def line(self, value: Any) -> None:
        """One JSON line on stdout, flushed at once (for `--follow`)."""
        sys.stdout.write(json.dumps(jsonable(value), ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def say(self, text: str) -> None:
        """A message for the person (stderr when stdout carries JSON)."""
        (self.err if self.as_json else self.console).print(text)

    def fail(self, message: str, code: int = EXIT_FAILED) -> NoReturn:
        if self.as_json:
            self.doc({"error": "cli_error", "detail": message})
        else:
            self.err.print(f"[red]error:[/red] {message}")
        raise typer.Exit(code)


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


@contextmanager
def reporting(out: Out) -> Iterator[None]:
    """API and connection errors become one sentence and exit status 1."""
    try:
        yield
    except Unauthorized as exc:
        hint = " Log in with `echoai login` (or set ECHOAI_TOKEN)."
        _api_failure(out, exc, hint)
    except EchoAPIError as exc:
        _api_failure(out, exc, "")
    except EchoAIError as exc:
        out.fail(str(exc))


def _api_failure(out: Out, exc: EchoAPIError, hint: str) -> NoReturn:
    if out.as_json:
        out.doc({"error": exc.error, "detail": exc.detail, "status": exc.status})
    else:
        out.err.print(f"[red]error:[/red] {exc.detail} ({exc.error}, HTTP {exc.status}).{hint}", markup=True)
    raise typer.Exit(EXIT_FAILED)


def short(text: str | None, limit: int = 100) -> str:
    """First line of `text`, cut to `limit` characters."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"
