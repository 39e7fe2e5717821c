"""What the built-in `echo` model answers: offline, deterministic, derived from the prompt.

- The final answer names the agent's role and repeats the first line of its task, then names the earlier steps
  whose results the prompt carried (`built on: ...`) and every tool observation it got.
- With `repeat_context` (llm option) it also repeats, on one line, what the prompt carried from earlier steps:
  a test can see exactly which text a step was given (an edited checkpoint's, never the original).
- `use <tool>: <input>` in the task makes it call that tool first, ReAct style (`Action:` / `Action Input:`),
  one directive per turn, then answer with the observations: a test can see the tool really ran.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from services.executor.domain.plan import CONTEXT_HEADER

_DIRECTIVE = re.compile(r"\buse ([A-Za-z0-9_.\-]+)\s*:\s*([^\n]+)", re.IGNORECASE)
_EARLIER = re.compile(r"^--- (.+?) \([^()\n]*\) ---$", re.MULTILINE)
_ROLE = re.compile(r"You are ([^.\n]+)\.")
_TASK_END = ("\n\nThis is the expected criteria", "\nThis is the expected criteria")
MAX_LINE = 200
MAX_CONTEXT = 2000


def _content(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal blocks
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


def task_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The task as the agent was given it (from the first user message), without CrewAI's framing."""
    first = next((_content(m) for m in messages if m.get("role") == "user"), "")
    text = first.split("Current Task:", 1)[1] if "Current Task:" in first else first
    for end in _TASK_END:
        text = text.split(end, 1)[0]
    return text.strip()


def role_of(messages: Sequence[Mapping[str, Any]]) -> str:
    for m in messages:
        if m.get("role") == "system":
            match = _ROLE.search(_content(m))
            if match:
                return match.group(1).strip()
    return "Assistant"


def observations(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    found: list[str] = []
    for m in messages:
        if m.get("role") == "assistant" and "Observation:" in _content(m):
            found.append(_content(m).rsplit("Observation:", 1)[1].strip())
    return found


def directives(task: str, available: Mapping[str, str]) -> list[tuple[str, str]]:
    """`(tool name, input)` for each `use <tool>: <input>` whose tool the agent has (`available`: name → arg)."""
    own = task.split(CONTEXT_HEADER, 1)[0]
    lowered = {name.lower(): name for name in available}
    out = []
    for match in _DIRECTIVE.finditer(own):
        name = lowered.get(match.group(1).lower())
        if name is not None:
            out.append((name, match.group(2).strip().rstrip(".")))
    return out


def reply(
    messages: Sequence[Mapping[str, Any]],
    *,
    role: str | None = None,
    tools: Mapping[str, str] | None = None,
    repeat_context: bool = False,
) -> str:
    """One turn of the echo model. `tools` maps each tool the agent holds to the name of its input argument."""
    task = task_text(messages)
    role = role or role_of(messages)
    wanted = directives(task, tools or {})
    seen = observations(messages)
    if len(seen) < len(wanted):
        name, arg = wanted[len(seen)]
        payload = json.dumps({(tools or {})[name]: arg})
        return f"Thought: I should use the {name} tool.\nAction: {name}\nAction Input: {payload}"
    own = task.split(CONTEXT_HEADER, 1)[0].strip()
    line = (own.splitlines() or [""])[0][:MAX_LINE]
    answer = f"{role}: {line}"
    context = task.split(CONTEXT_HEADER, 1)[1] if CONTEXT_HEADER in task else ""
    earlier = _EARLIER.findall(context)
    if earlier:
        answer += f" [built on: {', '.join(earlier)}]"
    if repeat_context and context.strip():
        answer += f" [context: {' '.join(context.split())[:MAX_CONTEXT]}]"
    for (name, arg), result in zip(wanted, seen, strict=False):
        answer += f" [{name}({arg}) = {result}]"
    return f"Thought: I now know the final answer\nFinal Answer: {answer}"
