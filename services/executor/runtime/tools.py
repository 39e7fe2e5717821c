"""The tools a step's agent can use, as CrewAI tools: the builtins and `api` tools (an HTTP endpoint).

Every call is reported to an observer, so the run's step events show which tool ran with what and got what.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from crewai.tools import BaseTool
from pydantic import BaseModel, Field

from services.executor.domain.arith import ArithmeticError_, evaluate

log = logging.getLogger("echoai.executor.tools")

Observer = Callable[[str, dict[str, Any], str], None]
MAX_RESULT = 4000
MAX_TIMEOUT = 60.0


class _ObservedTool(BaseTool):
    observer: Observer | None = Field(default=None, exclude=True)

    def _report(self, args: dict[str, Any], result: str) -> str:
        if self.observer is not None:
            try:
                self.observer(self.name, args, result)
            except Exception:  # an observer must never break the tool
                log.exception("tool observer failed")
        return result


class CalculatorInput(BaseModel):
    expression: str = Field(description="An arithmetic expression such as 2+3*4 or (7-2)**2.")


class CalculatorTool(_ObservedTool):
    name: str = "calculator"
    description: str = "Evaluates an arithmetic expression (numbers, + - * / // % ** and parentheses)."
    args_schema: type[BaseModel] = CalculatorInput

    def _run(self, expression: str) -> str:
        try:
            result = str(evaluate(expression))
        except ArithmeticError_ as exc:
            result = f"Error: {exc}"
        return self._report({"expression": expression}, result)


class CurrentTimeInput(BaseModel):
    timezone: str = Field(default="UTC", description="An IANA time zone such as UTC or Europe/Paris.")


class CurrentTimeTool(_ObservedTool):
    name: str = "current_time"
    description: str = "Returns the current date and time (ISO-8601) in a time zone."
    args_schema: type[BaseModel] = CurrentTimeInput

    def _run(self, timezone: str = "UTC") -> str:
        try:
            zone = ZoneInfo(timezone) if timezone and timezone.upper() != "UTC" else UTC
            result = datetime.now(zone).isoformat()
        except (ZoneInfoNotFoundError, ValueError):
            result = f"Error: unknown time zone '{timezone}'; use an IANA name such as Europe/Paris."
        return self._report({"timezone": timezone}, result)


class ApiInput(BaseModel):
    input: str = Field(description="What to send to the endpoint.")


class ApiTool(_ObservedTool):
    """`definition`: `{url, method: GET|POST, headers?, query_param?, body?, timeout_s?, description?}`.
    GET sends the input as the query parameter `query_param` (default `input`); POST sends `{**body, "input": ...}`."""

    args_schema: type[BaseModel] = ApiInput
    spec: dict[str, Any] = Field(default_factory=dict, exclude=True)

    def _run(self, input: str) -> str:
        spec = self.spec
        method = str(spec.get("method") or "GET").upper()
        timeout = min(float(spec.get("timeout_s") or 10.0), MAX_TIMEOUT)
        headers = {str(k): str(v) for k, v in (spec.get("headers") or {}).items()}
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False) as client:
                if method == "GET":
                    resp = client.get(spec["url"], params={spec.get("query_param") or "input": input}, headers=headers)
                else:
                    body = {**(spec.get("body") or {}), "input": input}
                    resp = client.request(method, spec["url"], json=body, headers=headers)
            text = resp.text[:MAX_RESULT]
            result = text if resp.is_success else f"Error: HTTP {resp.status_code}: {text}"
        except httpx.HTTPError as exc:
            result = f"Error: the endpoint could not be reached ({type(exc).__name__})."
        return self._report({"input": input}, result)


BUILTINS: dict[str, type[_ObservedTool]] = {"calculator": CalculatorTool, "current_time": CurrentTimeTool}


def tool_name(spec: Mapping[str, Any]) -> str:
    return str(spec.get("name") or spec.get("tool_id") or "tool").strip().replace(" ", "_")


def build_tool(spec: Mapping[str, Any], observer: Observer | None) -> BaseTool | None:
    """A CrewAI tool for a resolved tool spec; None for kinds the executor cannot run (logged)."""
    kind = spec.get("tool_type")
    definition = spec.get("definition") or {}
    if kind == "builtin":
        cls = BUILTINS.get(str(definition.get("builtin") or spec.get("name")))
        if cls is None:
            log.warning("unknown builtin tool %r skipped", spec.get("name"))
            return None
        return cls(observer=observer)  # type: ignore[call-arg]  # name and description have class defaults
    if kind == "api":
        if not definition.get("url"):
            log.warning("api tool %r has no url; skipped", spec.get("name"))
            return None
        return ApiTool(
            name=tool_name(spec),
            description=str(definition.get("description") or f"Calls the HTTP endpoint {definition['url']}."),
            spec=dict(definition),
            observer=observer,
        )
    log.warning("tool %r of type %r cannot run in the executor; skipped", spec.get("name"), kind)
    return None


def build_tools(specs: Iterable[Mapping[str, Any]], observer: Observer | None) -> list[BaseTool]:
    tools: dict[str, BaseTool] = {}
    for spec in specs:
        tool = build_tool(spec, observer)
        if tool is not None:
            tools.setdefault(tool.name, tool)  # one tool per name: a model calls tools by name
    return list(tools.values())


def input_arguments(tools: Iterable[Any]) -> dict[str, str]:
    """Tool name → the name of its first input argument (what the echo model fills)."""
    out = {}
    for tool in tools:
        fields = list(getattr(getattr(tool, "args_schema", None), "model_fields", {}) or {})
        out[str(tool.name)] = fields[0] if fields else "input"
    return out
