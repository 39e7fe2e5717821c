from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.session.schemas import ContextIn, MessageIn, SessionCreate, TitleIn, ToolConfigIn


@pytest.mark.parametrize(
    ("ctype", "cid", "ok"),
    [
        ("general", None, True),
        ("general", "w1", False),
        ("workflow", "w1", True),
        ("workflow", None, False),
        ("agent", "a1", True),
        ("agent", None, False),
        ("workflow_design", None, True),
        ("workflow_design", "w1", True),
        ("other", None, False),
    ],
)
def test_context_rules(ctype: str, cid: str | None, ok: bool) -> None:
    if ok:
        assert ContextIn(context_type=ctype, context_id=cid).context_type == ctype  # type: ignore[arg-type]
    else:
        with pytest.raises(ValidationError):
            ContextIn(context_type=ctype, context_id=cid)  # type: ignore[arg-type]


@pytest.mark.parametrize("role", ["user", "assistant", "system", "tool"])
def test_the_four_roles(role: str) -> None:
    assert MessageIn(role=role, content="").role == role  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        {"role": "moderator", "content": "x"},
        {"role": "user", "content": "a\u0000b"},
        {"role": "user", "content": "x", "metadata": {"k\u0000": 1}},
        {"role": "user", "content": "x", "metadata": {"k": ["\u0000"]}},
        {"role": "user", "content": "x", "unknown": True},
    ],
)
def test_bad_messages(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MessageIn.model_validate(body)


def test_nul_is_refused_everywhere_postgres_would_choke() -> None:
    for model, body in [
        (TitleIn, {"title": "a\u0000"}),
        (ToolConfigIn, {"config": {"a": "\u0000"}}),
        (SessionCreate, {"variables": {"a": "\u0000"}}),
        (SessionCreate, {"selected_tool_ids": ["\u0000"]}),
    ]:
        with pytest.raises(ValidationError):
            model.model_validate(body)


def test_titles_are_trimmed_and_bounded() -> None:
    assert TitleIn(title="  x  ").title == "x"
    for bad in ["", "   ", "x" * 201]:
        with pytest.raises(ValidationError):
            TitleIn(title=bad)
