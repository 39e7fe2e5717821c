"""`shared.db.DriverStatement`: a `text()` statement turned into asyncpg's `$n` form, a name used twice bound once."""

from __future__ import annotations

from sqlalchemy import text

from shared.db import DriverStatement


def test_placeholders_follow_first_use_and_a_repeated_name_is_one_parameter() -> None:
    statement = DriverStatement.of(
        text("SELECT CAST(:b AS text) AS b, CAST(:a AS int) + CAST(:b AS int) AS total, :a AS again, '{}'::jsonb AS j")
    )
    assert statement.names == ("b", "a")
    assert statement.sql == (
        "SELECT CAST($1 AS text) AS b, CAST($2 AS int) + CAST($1 AS int) AS total, $2 AS again, '{}'::jsonb AS j"
    )
    assert statement.args({"a": 2, "b": "3", "unused": 9}) == ["3", 2]
