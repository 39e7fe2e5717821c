"""How deep a JSON value nests. Definitions, agents and tools are stored as sent, but a value nested a few
hundred levels deep cannot be serialised back (pydantic's serialiser stops at about 255), so it is refused as
it arrives, with a 422, rather than failing as a 500 on the way out."""

from __future__ import annotations

MAX_DEPTH = 64


def too_deep(value: object, limit: int = MAX_DEPTH) -> bool:
    """True when objects and lists nest more than `limit` levels (`{"a": 1}` is one level, a scalar none).
    Iterative, so no input can exhaust the interpreter's stack while it is being measured."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: list[object] = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def depth_error(what: str) -> str:
    return f"{what} nests objects and lists more than {MAX_DEPTH} levels deep; flatten it"
