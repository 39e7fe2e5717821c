"""`echoai login`, `echoai register`, `echoai logout`, `echoai whoami`."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

from echoai_cli.common import client
from echoai_cli.output import JsonOpt, Out, reporting
from echoai_client import Conflict, config

EmailOpt = Annotated[str | None, typer.Option("--email", help="Prompted for when missing")]
PasswordOpt = Annotated[str | None, typer.Option("--password", help="Prompted for (hidden) when missing")]


def _ask(email: str | None, password: str | None, *, confirm: bool = False) -> tuple[str, str]:
    email = email or typer.prompt("Email")
    password = password or typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return email, password


def _log_in(out: Out, email: str, password: str) -> None:
    with client() as echo:
        token = echo.login(email, password)
        path = echo.save_credentials(email)
        if out.as_json:
            out.doc({"email": email, "url": echo.base_url, "credentials": path, "expires_in": token.expires_in})
        else:
            out.console.print(f"logged in to {echo.base_url} as {email}; token kept in {path}", markup=False)


def login(
    email: EmailOpt = None,
    password: PasswordOpt = None,
    register: Annotated[bool, typer.Option("--register", help="Create the account first (if it is new)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Log in and keep the token in the credentials file (mode 0600), one per gateway URL."""
    out = Out(as_json)
    email, password = _ask(email, password, confirm=register and password is None)
    with reporting(out):
        if register:
            with client() as echo, contextlib.suppress(Conflict):  # an account that exists already is fine
                echo.register(email, password)
        _log_in(out, email, password)


def register(
    email: EmailOpt = None,
    password: PasswordOpt = None,
    display_name: Annotated[str | None, typer.Option("--name", help="Display name")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an account, then log in with it."""
    out = Out(as_json)
    email, password = _ask(email, password, confirm=password is None)
    with reporting(out):
        with client() as echo:
            echo.register(email, password, display_name)
        _log_in(out, email, password)


def logout(as_json: JsonOpt = False) -> None:
    """Forget the token saved for this gateway."""
    out = Out(as_json)
    url = config.base_url()
    config.forget_token(url)
    if as_json:
        out.doc({"url": url, "logged_out": True})
    else:
        out.console.print(f"forgot the token for {url}", markup=False)


def whoami(as_json: JsonOpt = False) -> None:
    """The account the token belongs to."""
    out = Out(as_json)
    with reporting(out), client() as echo:
        user = echo.me()
        if as_json:
            out.doc(user)
        else:
            out.console.print(f"{user.email} ({user.user_id}) at {echo.base_url}", markup=False)
