from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from services.workflow.domain.nesting import MAX_DEPTH, too_deep
from services.workflow.schemas import AgentSpec, SaveIn, ToolIn
from shared.errors import describe_validation_errors


def _nested(levels: int, container: str = "object") -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"k": value} if container == "object" else [value]
    return value


@pytest.mark.parametrize("container", ["object", "list"])
def test_the_bound_is_inclusive_and_counts_objects_and_lists(container: str) -> None:
    assert not too_deep(_nested(MAX_DEPTH, container))
    assert too_deep(_nested(MAX_DEPTH + 1, container))


def test_scalars_and_empty_containers() -> None:
    assert not too_deep(1, limit=0) and not too_deep("x", limit=0) and not too_deep(None, limit=0)
    assert too_deep({}, limit=0) and not too_deep({}, limit=1) and not too_deep([[]], limit=2)


def test_mixed_nesting_counts_the_deepest_branch() -> None:
    value = {"shallow": 1, "deep": [{"a": [_nested(3)]}]}  # 1 + 1 + 1 + 1 + 3 levels
    assert not too_deep(value, limit=7)
    assert too_deep(value, limit=6)


def test_far_past_the_interpreters_recursion_limit_is_measured_without_recursing() -> None:
    assert too_deep(_nested(200_000))


def _errors(model: type[BaseModel], data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return describe_validation_errors(list(caught.value.errors()))


def test_the_schemas_refuse_past_the_bound_naming_the_value() -> None:
    ok, over = _nested(MAX_DEPTH - 1), _nested(MAX_DEPTH)  # inside a definition, agent or tool definition
    SaveIn.model_validate({"save_as": "draft", "definition": {"name": "d", "deep": ok}})
    AgentSpec.model_validate({"name": "a", "deep": ok})
    ToolIn.model_validate({"name": "t", "tool_type": "custom", "definition": {"deep": ok}})
    assert _errors(SaveIn, {"save_as": "draft", "definition": {"name": "d", "deep": over}}) == (
        "definition: the definition nests objects and lists more than 64 levels deep; flatten it."
    )
    assert "the agent nests" in _errors(AgentSpec, {"name": "a", "deep": over})
    assert _errors(ToolIn, {"name": "t", "tool_type": "custom", "definition": {"deep": over}}).startswith(
        "definition: the tool's definition nests"
    )
