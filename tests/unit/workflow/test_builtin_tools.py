from __future__ import annotations

import importlib.util
from pathlib import Path

from services.workflow.builtin_tools import BUILTIN_TOOL_IDS, BUILTIN_TOOLS
from shared.contracts import BUILTIN_TOOL_NAMES

MIGRATION = (
    Path(__file__).parents[3] / "services/workflow/migrations/versions/20261126_0210_builtin_tools_5c1f0a7e2b02.py"
)


def test_every_shared_builtin_name_has_one_catalogue_row_under_that_name() -> None:
    assert set(BUILTIN_TOOL_IDS) == set(BUILTIN_TOOL_NAMES)
    assert len(set(BUILTIN_TOOL_IDS.values())) == len(BUILTIN_TOOL_NAMES)
    for name in BUILTIN_TOOL_NAMES:
        row = BUILTIN_TOOLS[BUILTIN_TOOL_IDS[name]]
        assert row["name"] == row["definition"]["builtin"] == name
        assert row["tool_type"] == "builtin"


def test_the_seeding_migration_holds_the_same_rows() -> None:
    spec = importlib.util.spec_from_file_location("builtin_tools_migration", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seeded = {t["tool_id"]: {k: v for k, v in t.items() if k != "tool_id"} for t in module.TOOLS}
    assert seeded == {str(tool_id): row for tool_id, row in BUILTIN_TOOLS.items()}
