"""One way to turn the IDs clients and legacy files carry into UUIDs, shared by the services and the tools.

Legacy IDs look like `agt_<32 hex>`, `agt_<uuid>`, `wf_...`, `tool_...`, `sess_...`, or are free-form strings
(`agt_reviewer`). A UUID (bare or behind the prefix) is kept as that UUID; anything else maps to a uuid5 in
`ID_NAMESPACE`, so the same input always gives the same UUID.
"""

from __future__ import annotations

import uuid

# Fixed forever: changing it would re-map every free-form ID already stored.
ID_NAMESPACE = uuid.UUID("4d1b7f3e-8c2a-5e6f-9a0b-ec4a1d0e5f00")


def parse_uuid(value: str | uuid.UUID, prefix: str, *, scope: uuid.UUID | str | None = None) -> uuid.UUID:
    """The UUID behind `value`, an ID of the kind named by `prefix` ("agt", "wf", "tool", "sess").

    `scope` (usually the owner's user id) keeps free-form IDs of different owners apart: two users who both
    call an agent "writer" get two agents, not a clash. UUID-shaped IDs ignore the scope; they already are
    globally unique. Raises ValueError for an empty value (a missing ID is the caller's to assign).
    """
    if isinstance(value, uuid.UUID):
        return value
    text = value.strip()
    if not text:
        raise ValueError("an empty string is not an id")
    head = f"{prefix}_"
    candidate = text[len(head) :] if text.startswith(head) else text
    try:
        return uuid.UUID(candidate)
    except ValueError:
        pass
    name = f"{prefix}:{text}" if scope is None else f"{scope}:{prefix}:{text}"
    return uuid.uuid5(ID_NAMESPACE, name)
