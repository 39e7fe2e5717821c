"""announce every change of a workflow row on the PostgreSQL channel `echoai_workflow_changed`

The executor keeps the definitions it ran recently and drops one as soon as this channel names it
(`services/executor/definitions.py`). A trigger rather than a call in the service: every writer of the table is
covered (the API, the legacy migration tool, an operator's SQL), and the notice goes out exactly when the change
commits, never for a change that rolled back.

Revision ID: 5c1f0a7e2b03
Revises: 5c1f0a7e2b02
Create Date: 2026-11-28 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5c1f0a7e2b03"
down_revision: str | None = "5c1f0a7e2b02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channel is `shared.contracts.WORKFLOW_CHANGED_CHANNEL`, written out here so that this revision never moves.
# The payload is the workflow's id; `*` (after a TRUNCATE) means every workflow.
ANNOUNCE_ROW = """
CREATE FUNCTION workflow.announce_workflow_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('echoai_workflow_changed', OLD.workflow_id::text);
    ELSE
        PERFORM pg_notify('echoai_workflow_changed', NEW.workflow_id::text);
        IF TG_OP = 'UPDATE' AND NEW.workflow_id <> OLD.workflow_id THEN
            PERFORM pg_notify('echoai_workflow_changed', OLD.workflow_id::text);
        END IF;
    END IF;
    RETURN NULL;
END;
$$
"""

ANNOUNCE_ALL = """
CREATE FUNCTION workflow.announce_workflows_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('echoai_workflow_changed', '*');
    RETURN NULL;
END;
$$
"""


def upgrade() -> None:
    op.execute(ANNOUNCE_ROW)
    op.execute(ANNOUNCE_ALL)
    op.execute(
        "CREATE TRIGGER announce_workflow_change AFTER INSERT OR UPDATE OR DELETE ON workflow.workflows "
        "FOR EACH ROW EXECUTE FUNCTION workflow.announce_workflow_change()"
    )
    op.execute(
        "CREATE TRIGGER announce_workflows_truncated AFTER TRUNCATE ON workflow.workflows "
        "FOR EACH STATEMENT EXECUTE FUNCTION workflow.announce_workflows_truncated()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER announce_workflows_truncated ON workflow.workflows")
    op.execute("DROP TRIGGER announce_workflow_change ON workflow.workflows")
    op.execute("DROP FUNCTION workflow.announce_workflows_truncated()")
    op.execute("DROP FUNCTION workflow.announce_workflow_change()")
