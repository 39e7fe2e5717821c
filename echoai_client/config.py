"""Where the gateway is and which token to send: arguments, then `ECHOAI_URL` / `ECHOAI_TOKEN`, then the
credentials file written by `echoai login` (`$ECHOAI_CREDENTIALS`, else `~/.config/echoai/credentials.json`,
mode 0600, one token per gateway URL)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8000"


def base_url(explicit: str | None = None) -> str:
    return (explicit or os.environ.get("ECHOAI_URL") or DEFAULT_URL).rstrip("/")


def credentials_path() -> Path:
    explicit = os.environ.get("ECHOAI_CREDENTIALS")
    if explicit:
        return Path(explicit)
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "echoai" / "credentials.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def saved_token(url: str, path: Path | None = None) -> str | None:
    entry = _read(path or credentials_path()).get("gateways", {}).get(url)
    token = entry.get("access_token") if isinstance(entry, dict) else None
    return token if isinstance(token, str) and token else None


def resolve_token(url: str, explicit: str | None = None) -> str | None:
    return explicit or os.environ.get("ECHOAI_TOKEN") or saved_token(url)


def save_token(url: str, token: str, email: str | None = None, path: Path | None = None) -> Path:
    """Write the token for `url`, keeping others; the file is created 0600 and never readable by others."""
    path = path or credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = _read(path)
    found = body.get("gateways")
    gateways: dict[str, Any] = found if isinstance(found, dict) else {}
    gateways[url] = {"access_token": token, "email": email}
    body["gateways"] = gateways
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(body, f, indent=2)
    os.chmod(tmp, 0o600)  # an existing tmp file keeps its old mode through O_CREAT
    os.replace(tmp, path)
    return path


def forget_token(url: str, path: Path | None = None) -> None:
    path = path or credentials_path()
    body = _read(path)
    with contextlib.suppress(KeyError, TypeError, AttributeError):
        del body["gateways"][url]
        save_raw(path, body)


def save_raw(path: Path, body: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(body, f, indent=2)
