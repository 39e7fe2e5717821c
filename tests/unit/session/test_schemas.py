from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.session.schemas import ContextIn, MessageIn, MessageOut, SessionCreate, TitleIn, ToolConfigIn, check


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


GOOD_MESSAGE = {
    "message_id": "6f1c1f43-5a43-4a7e-9d0e-3c1ad0f6a001",
    "seq": 1,
    "role": "user",
    "content": "hi",
    "metadata": {},
    "run_id": None,
    "created_at": "2026-11-27T10:00:00.000001Z",
}


def test_check_passes_a_body_of_the_model_through_unchanged() -> None:
    raw = json.dumps(GOOD_MESSAGE)
    assert check(MessageOut, raw).body == raw.encode()


@pytest.mark.parametrize(
    "change",
    [
        {"surprise": 1},  # a key the API does not declare
        {"role": "robot"},
        {"seq": "one"},
        {"created_at": "yesterday"},
        {"message_id": "m-1"},
    ],
)
def test_check_refuses_a_body_that_is_not_the_model(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        check(MessageOut, json.dumps({**GOOD_MESSAGE, **change}))
    missing = {k: v for k, v in GOOD_MESSAGE.items() if k != "content"}
    with pytest.raises(ValidationError):
        check(MessageOut, json.dumps(missing))


def test_timestamps_dump_with_six_digits_and_z() -> None:
    dumped = json.loads(
        MessageOut.model_validate({**GOOD_MESSAGE, "created_at": "2026-01-30T10:00:00Z"}).model_dump_json()
    )
    assert dumped["created_at"] == "2026-01-30T10:00:00.000000Z"
