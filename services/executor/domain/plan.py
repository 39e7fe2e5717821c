"""A workflow definition turned into a plan of steps: which agent runs when, after what, with what prompt.

Pure: the API validates a definition with it before accepting a run, and the runner schedules from it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.contracts import EXECUTION_MODELS, ExecutionModel

MANAGER_STEP_ID = "manager"
MAX_AGENTS = 100
MAX_ID = 200
CONTEXT_HEADER = "Results of the earlier steps:"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class DefinitionError(ValueError):
    """The definition cannot be run; the message says what to fix."""


MAX_TIMEOUT_S = 30 * 24 * 3600


@dataclass(frozen=True)
class Hitl:
    """`"hitl": {"mode": "approval", "timeout_s"?, "on_timeout"?}`: the run pauses after this step for a person.
    Without `timeout_s` it waits as long as it takes; with it, the platform decides `on_timeout` (default
    `reject`, the cautious choice) once the time is up."""

    mode: str = "approval"
    timeout_s: float | None = None
    on_timeout: str = "reject"


@dataclass(frozen=True)
class StepSpec:
    step_id: str
    agent_id: str
    name: str
    role: str
    goal: str
    backstory: str
    description: str
    expected_output: str
    llm: dict[str, Any]
    tool_ids: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    position: int = 0
    hitl: Hitl | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    execution_model: ExecutionModel
    steps: tuple[StepSpec, ...]
    manager: StepSpec | None = None

    def step(self, step_id: str) -> StepSpec:
        for s in self.all_steps:
            if s.step_id == step_id:
                return s
        raise KeyError(step_id)

    @property
    def all_steps(self) -> tuple[StepSpec, ...]:
        return ((self.manager,) if self.manager else ()) + self.steps

    @property
    def sinks(self) -> tuple[StepSpec, ...]:
        """Steps no other step waits for: their outputs make the run's output."""
        needed = {dep for s in self.steps for dep in s.depends_on}
        return tuple(s for s in self.steps if s.step_id not in needed)


def interpolate(template: str, values: Mapping[str, Any]) -> str:
    """Fill `{name}` placeholders we know; leave every other brace as written (JSON in a prompt stays intact)."""

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            return match.group(0)
        value = values[key]
        return value if isinstance(value, str) else json.dumps(value, default=str)

    return _PLACEHOLDER.sub(fill, template)


def parse_llm(value: Any, default_llm: str) -> dict[str, Any]:
    """`{"provider": ..., "model": ..., ...}`; a missing or partial spec falls back to ECHO_DEFAULT_LLM."""
    provider, _, model = default_llm.partition("/")
    base: dict[str, Any] = {"provider": provider or "echo", "model": model or provider or "echo-1"}
    if value is None:
        return base
    if isinstance(value, str):
        p, _, m = value.partition("/")
        return {"provider": p, "model": m or p} if m else {**base, "model": value}
    if not isinstance(value, dict):
        raise DefinitionError('An agent\'s `llm` must be an object like {"provider": "echo", "model": "echo-1"}.')
    spec = {**value}
    if not spec.get("provider"):
        spec["provider"] = base["provider"]
        spec.setdefault("model", base["model"])
    spec.setdefault("model", "echo-1" if spec["provider"] == "echo" else "")
    return spec


def _text(agent: Mapping[str, Any], key: str) -> str | None:
    value = agent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DefinitionError(f"Agent field `{key}` must be a string.")
    return value


def _agents(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    agents = definition.get("agents")
    if not isinstance(agents, list) or not agents:
        raise DefinitionError("The workflow has no agents; add at least one agent to `agents` before running it.")
    if len(agents) > MAX_AGENTS:
        raise DefinitionError(f"The workflow has {len(agents)} agents; at most {MAX_AGENTS} can run in one workflow.")
    for index, agent in enumerate(agents):
        if not isinstance(agent, dict):
            raise DefinitionError(f"agents[{index}] must be an object.")
    return agents


def _step(
    agent: Mapping[str, Any], index: int, values: Mapping[str, Any], default_llm: str, extra_tools: Sequence[str]
) -> StepSpec:
    agent_id = str(agent.get("agent_id") or f"agent-{index + 1}")
    if len(agent_id) > MAX_ID:
        raise DefinitionError(f"agents[{index}].agent_id is longer than {MAX_ID} characters.")
    name = _text(agent, "name") or _text(agent, "role") or agent_id
    role = _text(agent, "role") or name
    task = agent.get("task") or {}
    if isinstance(task, str):
        task = {"description": task}
    if not isinstance(task, dict):
        raise DefinitionError(f"Agent '{name}': `task` must be an object with a `description`.")
    description = task.get("description") or "{message}"
    expected = task.get("expected_output") or "A complete answer to the task."
    if not isinstance(description, str) or not isinstance(expected, str):
        raise DefinitionError(f"Agent '{name}': task `description` and `expected_output` must be strings.")
    tools = agent.get("tools") or []
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        raise DefinitionError(f"Agent '{name}': `tools` must be a list of tool ids.")
    hitl = parse_hitl(agent.get("hitl"), name)
    options = {k: agent[k] for k in ("max_iter", "max_retry_limit") if isinstance(agent.get(k), int)}
    return StepSpec(
        step_id=agent_id,
        agent_id=agent_id,
        name=name,
        role=interpolate(role, values),
        goal=interpolate(_text(agent, "goal") or f"Do the work of the {role} well.", values),
        backstory=interpolate(_text(agent, "backstory") or "", values),
        description=interpolate(description, values),
        expected_output=interpolate(expected, values),
        llm=parse_llm(agent.get("llm"), default_llm),
        tool_ids=tuple(dict.fromkeys([*tools, *extra_tools])),
        position=index,
        hitl=hitl,
        options=options,
    )


def parse_hitl(value: Any, name: str) -> Hitl | None:
    if value is None:
        return None
    where = f"Agent '{name}': `hitl`"
    if not isinstance(value, dict):
        raise DefinitionError(f'{where} must be an object like {{"mode": "approval"}}.')
    if value.get("mode") != "approval":
        raise DefinitionError(f'{where}.mode must be "approval" (or leave `hitl` out).')
    timeout = value.get("timeout_s")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT_S
    ):
        raise DefinitionError(f"{where}.timeout_s must be a number of seconds above 0 and at most {MAX_TIMEOUT_S}.")
    on_timeout = value.get("on_timeout", "reject")
    if on_timeout not in ("approve", "reject"):
        raise DefinitionError(f'{where}.on_timeout must be "approve" or "reject".')
    return Hitl(timeout_s=float(timeout) if timeout is not None else None, on_timeout=on_timeout)


def _edges(definition: Mapping[str, Any], ids: set[str]) -> list[tuple[str, str]]:
    connections = definition.get("connections") or []
    if not isinstance(connections, list):
        raise DefinitionError('`connections` must be a list of {"from": agent_id, "to": agent_id}.')
    edges: list[tuple[str, str]] = []
    for index, conn in enumerate(connections):
        if not isinstance(conn, dict):
            raise DefinitionError(f"connections[{index}] must be an object with `from` and `to`.")
        src, dst = str(conn.get("from", "")), str(conn.get("to", ""))
        for end in (src, dst):
            if end not in ids:
                raise DefinitionError(f"connections[{index}] names agent '{end}', which is not in `agents`.")
        if src == dst:
            raise DefinitionError(f"connections[{index}] connects agent '{src}' to itself.")
        edges.append((src, dst))
    return edges


def topological_order(ids: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """Kahn's algorithm; ties keep list order. Raises DefinitionError on a cycle."""
    preds: dict[str, set[str]] = {i: set() for i in ids}
    for src, dst in edges:
        preds[dst].add(src)
    done: list[str] = []
    remaining = list(ids)
    while remaining:
        ready = next((i for i in remaining if preds[i] <= set(done)), None)
        if ready is None:
            raise DefinitionError(
                "The connections form a cycle (" + ", ".join(remaining) + "); a workflow must be able to finish."
            )
        done.append(ready)
        remaining.remove(ready)
    return done


def build_plan(
    definition: Mapping[str, Any],
    *,
    message: str = "",
    inputs: Mapping[str, Any] | None = None,
    default_llm: str = "echo/echo-1",
    extra_tool_ids: Sequence[str] = (),
) -> Plan:
    model = definition.get("execution_model") or "sequential"
    if model not in EXECUTION_MODELS:
        raise DefinitionError(
            f"execution_model '{model}' is not one of {', '.join(EXECUTION_MODELS)}; pick one of them."
        )
    values = {**(inputs or {}), "message": message}
    steps = [_step(a, i, values, default_llm, extra_tool_ids) for i, a in enumerate(_agents(definition))]
    ids = [s.step_id for s in steps]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DefinitionError(f"Agent ids must be unique; {', '.join(duplicates)} appears more than once.")
    if MANAGER_STEP_ID in ids and model == "hierarchical":
        raise DefinitionError(f"'{MANAGER_STEP_ID}' is reserved for the manager in a hierarchical workflow.")
    edges = _edges(definition, set(ids))
    by_id = {s.step_id: s for s in steps}
    order = topological_order(ids, edges)

    def with_deps(step: StepSpec, deps: Iterable[str]) -> StepSpec:
        return StepSpec(**{**step.__dict__, "depends_on": tuple(deps)})

    if model == "parallel":
        deps = {i: [src for src, dst in edges if dst == i] for i in ids}
        return Plan("parallel", tuple(with_deps(by_id[i], deps[i]) for i in order))
    chain = [with_deps(by_id[i], [order[n - 1]] if n else []) for n, i in enumerate(order)]
    if model == "sequential":
        return Plan("sequential", tuple(chain))
    manager = _manager(definition, chain, message, default_llm)
    workers = tuple(with_deps(s, [MANAGER_STEP_ID]) for s in chain)
    return Plan("hierarchical", workers, manager)


def _manager(definition: Mapping[str, Any], workers: Sequence[StepSpec], message: str, default_llm: str) -> StepSpec:
    spec = definition.get("manager") or {}
    if not isinstance(spec, dict):
        raise DefinitionError('`manager` must be an object, e.g. {"llm": {"provider": "echo"}}.')
    team = "\n".join(f"- {w.agent_id}: {w.role} ({w.goal})" for w in workers)
    description = (
        f"Plan how your team handles this request: {message}\n"
        f"Team members:\n{team}\n"
        "Answer with the ids of the team members who should work on it, one per line, first to last, "
        "each followed by a one-line instruction."
    )
    name = str(spec.get("name") or "Manager")
    return StepSpec(
        step_id=MANAGER_STEP_ID,
        agent_id=str(spec.get("agent_id") or MANAGER_STEP_ID),
        name=name,
        role=str(spec.get("role") or name),
        goal="Delegate the request to the right team members, in the right order.",
        backstory="You lead a team of specialists and decide who does what.",
        description=description,
        expected_output="The ordered list of team member ids, one per line, with an instruction each.",
        llm=parse_llm(spec.get("llm"), default_llm),
        position=-1,
    )


def delegation_order(manager_output: str, workers: Sequence[StepSpec]) -> list[StepSpec]:
    """Workers in the order the manager first names them (by id or role); unnamed workers follow in list order."""
    text = manager_output.lower()

    def first_mention(w: StepSpec) -> int:
        hits = [p for p in (text.find(w.agent_id.lower()), text.find(w.role.lower())) if p >= 0]
        return min(hits) if hits else len(text) + 1 + w.position

    return sorted(workers, key=lambda w: (first_mention(w), w.position))


def step_prompt(step: StepSpec, earlier: Sequence[tuple[StepSpec, str]]) -> str:
    """The task description plus what the steps before it produced (a step sees its predecessors' outputs)."""
    if not earlier:
        return step.description
    blocks = "\n".join(f"--- {s.name} ({s.agent_id}) ---\n{output}" for s, output in earlier)
    return f"{step.description}\n\n{CONTEXT_HEADER}\n{blocks}"


def run_output(plan: Plan, outputs: Mapping[str, str], order: Sequence[str]) -> str:
    """Sequential and hierarchical: the last step's output. Parallel: every final branch's output."""
    if plan.execution_model != "parallel":
        return outputs.get(order[-1], "") if order else ""
    sinks = [s for s in plan.sinks if s.step_id in outputs]
    if len(sinks) == 1:
        return outputs[sinks[0].step_id]
    return "\n\n".join(f"{s.name}:\n{outputs[s.step_id]}" for s in sinks)
