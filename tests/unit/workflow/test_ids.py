from __future__ import annotations

import uuid

import pytest

from shared.ids import ID_NAMESPACE, parse_uuid

U = uuid.UUID("3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b")


@pytest.mark.parametrize(
    "value",
    [str(U), U.hex, f"agt_{U.hex}", f"agt_{U}", f"  agt_{U}  ", str(U).upper(), U],
)
def test_uuid_shaped_ids_keep_their_uuid(value: object) -> None:
    assert parse_uuid(value, "agt") == U  # type: ignore[arg-type]
    assert parse_uuid(value, "agt", scope="someone") == U  # type: ignore[arg-type]


def test_other_strings_map_to_a_stable_uuid5() -> None:
    assert parse_uuid("agt_reviewer", "agt") == uuid.uuid5(ID_NAMESPACE, "agt:agt_reviewer")
    assert parse_uuid("agt_reviewer", "agt") == parse_uuid("agt_reviewer", "agt")
    assert parse_uuid("agt_reviewer", "agt").version == 5
    # The kind is part of the name: the same text as a tool is another ID.
    assert parse_uuid("calc", "agt") != parse_uuid("calc", "tool")
    # Another prefix's UUID is not unwrapped.
    assert parse_uuid(f"wf_{U.hex}", "agt") != U
    assert parse_uuid(f"wf_{U.hex}", "wf") == U


def test_scope_separates_free_form_ids_of_different_owners() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    assert parse_uuid("writer", "agt", scope=a) != parse_uuid("writer", "agt", scope=b)
    assert parse_uuid("writer", "agt", scope=a) == parse_uuid("writer", "agt", scope=str(a))
    assert parse_uuid("writer", "agt", scope=a) != parse_uuid("writer", "agt")


def test_the_namespace_never_changes() -> None:
    # Every free-form ID already stored depends on it.
    assert parse_uuid("sess_legacy-42", "sess") == uuid.UUID(str(uuid.uuid5(ID_NAMESPACE, "sess:sess_legacy-42")))
    assert str(ID_NAMESPACE) == "4d1b7f3e-8c2a-5e6f-9a0b-ec4a1d0e5f00"


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_uuid(value, "agt")
