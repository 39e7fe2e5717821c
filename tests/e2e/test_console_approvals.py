"""The console's approvals page: a paused run approved, edited or rejected from the inbox."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.clientkit import pipeline
from tests.e2e.test_console import (  # noqa: F401 - fixtures are used by name
    User,
    browser,
    expect,
    page,
    user,
    visit,
)

pytestmark = pytest.mark.e2e


def _paused_run(page: Any, user: User, name: str) -> str:  # noqa: F811
    definition = pipeline(name, ["Drafter", "Publisher"])
    definition["agents"][0]["hitl"] = {"mode": "approval"}
    workflow = user.client.save_workflow(definition, save_as="final")
    run_id = user.client.send(workflow.workflow_id, "the draft").run_id
    visit(page, f"#/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("paused", timeout=60_000)
    expect(page.locator("#timeline li.step[data-status='paused'] .step-name")).to_have_text("Drafter")
    return run_id


def test_approve_from_the_approvals_page(page: Any, user: User) -> None:  # noqa: F811
    run_id = _paused_run(page, user, "Console gated")
    page.click("#timeline a[href='#/approvals']")
    card = page.locator(f"article.checkpoint[data-run-id='{run_id}']")
    expect(card).to_contain_text("Drafter")
    expect(card.locator("pre.output")).to_contain_text("the draft")
    card.locator("button.approve").click()
    expect(card).to_have_count(0)
    visit(page, f"#/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("completed", timeout=60_000)
    assert [s.get_attribute("data-status") for s in page.locator("#timeline li.step").all()] == ["completed"] * 2


def test_edit_and_reject_from_the_approvals_page(page: Any, user: User) -> None:  # noqa: F811
    edited = _paused_run(page, user, "Console gated edit")
    visit(page, "#/approvals")
    card = page.locator(f"article.checkpoint[data-run-id='{edited}']")
    original = card.locator("pre.output").text_content()
    card.locator("button.edit").click()
    expect(card.locator("textarea.edit-output")).to_have_value(original or "")
    card.locator("textarea.edit-output").fill("a better draft")
    card.locator("button.save-edit").click()
    expect(card).to_have_count(0)
    assert user.client.wait(edited, timeout=60).status == "completed"

    rejected = _paused_run(page, user, "Console gated reject")
    visit(page, "#/approvals")
    card = page.locator(f"article.checkpoint[data-run-id='{rejected}']")
    card.locator("input.comment").fill("not good enough")
    card.locator("button.reject").click()
    expect(card).to_have_count(0)
    visit(page, f"#/runs/{rejected}")
    expect(page.locator("#run-status")).to_have_text("failed", timeout=60_000)
    expect(page.locator("#final")).to_contain_text("not good enough")
