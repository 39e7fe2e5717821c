"""One API document for the whole public API: the gateway's own routes and every route it proxies.

Built from the services' own `/openapi.json`, fetched over HTTP, so a field added to a service shows up here
without anyone copying it. What is kept from a service is exactly what the proxy routes to it (`proxy.ROUTES`),
minus the paths the gateway answers itself; the services' health, metrics and anything else outside those
prefixes stay private. Component names that two documents define differently are prefixed with the service's
name (`executor_StepOut`) and every `$ref` to them rewritten; identical ones are shared.

A service's part is fetched again when it is older than `refresh_seconds` (a restarted service with a new
version is seen within that) or when the last fetch failed. A service that cannot be reached keeps its last
known part; one that was never reached is left out; both are named in `info.description`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from services.gateway.proxy import ROUTES, Upstream, upstream_for
from shared.http import FAILURES

log = logging.getLogger("echoai.gateway.openapi")
# A part that cannot be read: the service cannot be asked, or what it answers is not an OpenAPI document.
_UNREADABLE: tuple[type[Exception], ...] = (*FAILURES, ValueError)

GATEWAY = "gateway"
# The methods the catch-all proxy route forwards.
PROXIED_METHODS = frozenset({"get", "post", "put", "patch", "delete"})
_OPERATION_KEYS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

Doc = dict[str, Any]
Renames = dict[tuple[str, str], str]  # (components section, name) -> name in the merged document


def upstreams() -> tuple[Upstream, ...]:
    return tuple(dict.fromkeys(upstream for _, upstream in ROUTES))


def public_part(service: Upstream, doc: Mapping[str, Any], own_paths: Iterable[str]) -> Doc:
    """The paths and operations of one service's document that the gateway routes to it."""
    own = set(own_paths)
    paths: Doc = {}
    for path, item in doc.get("paths", {}).items():
        if path in own or upstream_for(path) != service:
            continue
        kept = {key: value for key, value in item.items() if key not in _OPERATION_KEYS or key in PROXIED_METHODS}
        if any(key in PROXIED_METHODS for key in kept):
            paths[path] = kept
    return {**doc, "paths": paths}


def _rewrite(node: Any, renames: Renames) -> Any:
    """A copy of `node` with `$ref`s and security requirements pointing at renamed components."""
    if isinstance(node, list):
        return [_rewrite(value, renames) for value in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
            section, _, name = value.removeprefix("#/components/").partition("/")
            out[key] = f"#/components/{section}/{renames.get((section, name), name)}"
        elif key == "security" and isinstance(value, list):
            out[key] = [
                {renames.get(("securitySchemes", n), n): scopes for n, scopes in req.items()}
                for req in value
                if isinstance(req, dict)
            ]
        else:
            out[key] = _rewrite(value, renames)
    return out


def _canonical(node: Any) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"))


def component_renames(parts: Mapping[str, Doc]) -> dict[str, Renames]:
    """Per part, the components to prefix: those defined differently by another part once references are
    rewritten (so a schema that only refers to a clashing one clashes too). The gateway keeps its own names."""
    clashing: set[tuple[str, str]] = set()

    def renames_of(part: str) -> Renames:
        if part == GATEWAY:
            return {}
        return {(section, name): f"{part}_{name}" for section, name in clashing}

    while True:
        seen: dict[tuple[str, str], set[str]] = {}
        for part, doc in parts.items():
            renames = renames_of(part)
            for section, items in doc.get("components", {}).items():
                for name, definition in items.items():
                    key = (section, name)
                    seen.setdefault(key, set()).add(_canonical(_rewrite(definition, renames)))
        new = {key for key, variants in seen.items() if len(variants) > 1} - clashing
        if not new:
            return {part: renames_of(part) for part in parts}
        clashing |= new


def merge(own: Doc, parts: Mapping[str, Doc], notes: Iterable[str] = ()) -> Doc:
    """The gateway's own document with the services' public parts merged in."""
    every: dict[str, Doc] = {GATEWAY: own, **parts}
    renames = component_renames(every)
    merged = copy.deepcopy(own)
    merged["info"] = {**own.get("info", {}), "title": "EchoAI"}
    description = merged["info"].get("description", "")
    note_text = " ".join(notes)
    if note_text:
        merged["info"]["description"] = f"{description}\n\n{note_text}".strip()
    components: dict[str, dict[str, Any]] = merged.setdefault("components", {})
    tags = {tag["name"]: tag for tag in merged.get("tags", [])}
    for part, doc in parts.items():
        rename = renames[part]
        for path, item in doc.get("paths", {}).items():
            merged.setdefault("paths", {})[path] = _rewrite(item, rename)
        for section, items in doc.get("components", {}).items():
            target = components.setdefault(section, {})
            for name, definition in items.items():
                target.setdefault(rename.get((section, name), name), _rewrite(definition, rename))
        for tag in doc.get("tags", []):
            tags.setdefault(tag["name"], tag)
    if tags:
        merged["tags"] = list(tags.values())
    merged["paths"] = dict(sorted(merged.get("paths", {}).items()))
    return merged


@dataclass
class _Part:
    doc: Doc | None = None
    fetched_at: float = float("-inf")
    failed: bool = False


class ApiDocument:
    """The merged document, refreshed on request when a part is stale."""

    def __init__(
        self,
        own: Callable[[], Doc],
        http: aiohttp.ClientSession,
        service_url: Callable[[Upstream], str],
        *,
        refresh_seconds: float = 5.0,
        fetch_timeout: float = 3.0,
    ):
        self.own = own
        self.http = http
        self.service_url = service_url
        self.refresh_seconds = refresh_seconds
        self.fetch_timeout = fetch_timeout
        self._parts: dict[Upstream, _Part] = {name: _Part() for name in upstreams()}
        self._lock = asyncio.Lock()

    async def document(self) -> Doc:
        async with self._lock:  # one refresh at a time; waiters then find fresh parts
            stale = [
                name
                for name, part in self._parts.items()
                if part.failed or time.monotonic() - part.fetched_at >= self.refresh_seconds
            ]
            if stale:
                await asyncio.gather(*(self._fetch(name) for name in stale))
        own = self.own()
        own_paths = own.get("paths", {}).keys()
        parts: dict[str, Doc] = {}
        notes: list[str] = []
        for name, part in self._parts.items():
            if part.doc is not None:
                parts[name] = public_part(name, part.doc, own_paths)
                if part.failed:
                    notes.append(f"The {name} service is unreachable now; its part is the last one it served.")
            else:
                notes.append(f"The {name} service has not been reachable yet; its paths are missing here.")
        return merge(own, parts, notes)

    async def _fetch(self, name: Upstream) -> None:
        part = self._parts[name]
        url = f"{self.service_url(name)}/openapi.json"
        try:
            async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=self.fetch_timeout)) as resp:
                resp.raise_for_status()
                doc = json.loads(await resp.read())
            if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
                raise ValueError("not an OpenAPI document")
        except _UNREADABLE as exc:
            if not part.failed:
                log.warning("cannot read the %s service's API document: %s", name, type(exc).__name__)
            part.failed = True
            return
        part.doc, part.failed, part.fetched_at = doc, False, time.monotonic()
