"""The browser console in real headless Chromium (Debian's package, driven by Playwright) against the platform."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from echoai_client import Client
from tests.e2e.clientkit import echo_agent, new_user, pipeline
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs"
XSS = "<img src=x onerror=alert(1)>"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)")
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            yield launched
        finally:
            launched.close()


class User:
    def __init__(self, platform: Platform, gateway: httpx.Client, prefix: str):
        self.email, token = new_user(gateway, prefix)
        self.client = Client(platform.url, token)


@pytest.fixture
def user(platform: Platform, gateway: httpx.Client) -> Iterator[User]:
    u = User(platform, gateway, "console")
    yield u
    u.client.close()


@pytest.fixture
def page(browser: Any, platform: Platform, user: User) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    tab.dialogs = []  # type: ignore[attr-defined]
    tab.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.goto(f"{platform.url}/console/")
    tab.fill("#email", user.email)
    tab.fill("#password", PASSWORD)
    tab.click("#login")
    expect(tab.locator("h1")).to_have_text("Workflows")
    yield tab
    context.close()
    # Script errors and CSP violations end up here; a gateway restart's refused connections are expected.
    assert [e for e in errors if "ERR_CONNECTION_REFUSED" not in e and "WebSocket" not in e] == []


def visit(page: Any, route: str) -> None:
    """Go to a console route, rendering it afresh even when it is the current one."""
    script = (
        "r => { if (location.hash === r) dispatchEvent(new HashChangeEvent('hashchange')); else location.hash = r; }"
    )
    page.evaluate(script, route)


def start_run(page: Any, workflow_id: str, message: str) -> str:
    route = f"#/workflows/{workflow_id}"
    if page.evaluate("() => location.hash") != route:
        visit(page, route)
    expect(page.locator("#agents")).to_be_visible()
    page.fill("#message", message)
    expect(page.locator("#message")).to_have_value(message)
    page.click("#run")
    expect(page).to_have_url(re.compile(r"#/runs/[\w-]+$"), timeout=30_000)
    return str(page.url.rsplit("/", 1)[-1])


def assert_timeline(page: Any, names: list[str], status: str = "completed", timeout: float = 90_000) -> None:
    expect(page.locator("#run-status")).to_have_text(status, timeout=timeout)
    steps = page.locator("#timeline li.step")
    expect(steps).to_have_count(len(names))
    assert steps.locator(".step-name").all_text_contents() == names
    assert [s.get_attribute("data-status") for s in steps.all()] == ["completed"] * len(names)


def event_seqs(page: Any) -> list[int]:
    """The seqs the page received, checked to be in order and each once. (A gap is allowed here: the executor
    drops an event it cannot publish, and the page fills that from the recorded steps; the client's tests hold
    the stream itself to no gaps.)"""
    seqs = [int(s) for s in page.locator("#event-log li").evaluate_all("els => els.map(e => e.dataset.seq)")]
    assert seqs and seqs == sorted(set(seqs)), seqs
    return seqs


def test_console_is_served_with_a_content_security_policy(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url) as http:
        for path in ("/console/", "/console/app.js", "/console/style.css"):
            r = http.get(path)
            assert r.status_code == 200, path
            csp = r.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
        assert "javascript" in http.get("/console/run.js").headers["content-type"]
        r = http.get("/console")
        assert r.status_code == 308 and r.headers["location"] == "/console/"
        assert http.get("/console/nope.js").status_code == 404


def test_register_from_the_login_page(browser: Any, platform: Platform) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{platform.url}/console/")
    page.fill("#email", f"console-new-{threading.get_ident()}@example.com")
    page.fill("#password", PASSWORD)
    page.click("#register")
    expect(page.locator("h1")).to_have_text("Workflows")
    expect(page.locator("main")).to_contain_text("No workflows yet")
    assert page.evaluate("sessionStorage.getItem('echoai.token')")
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    context.close()


def test_a_run_live_with_tool_calls_and_its_screenshot(page: Any, user: User) -> None:
    agents = [
        echo_agent("res", "Researcher", "Research {message}\nuse calculator: 6*7", delay_ms=300),
        echo_agent("cri", "Critic", "Criticise the notes on {message}", delay_ms=300),
        echo_agent("wri", "Writer", "Write about {message}", delay_ms=300),
    ]
    agents[0]["tools"] = ["calculator"]
    workflow = user.client.save_workflow({"name": "Console research", "agents": agents}, save_as="final")
    visit(page, "#/workflows")
    row = page.locator(f"#workflows tr[data-workflow-id='{workflow.workflow_id}']")
    expect(row).to_contain_text("final")
    row.locator("a").click()
    expect(page.locator("#agents tbody tr")).to_have_count(3)
    expect(page.locator("#versions li")).to_have_count(1)

    run_id = start_run(page, workflow.workflow_id, "the tides")
    assert_timeline(page, ["Researcher", "Critic", "Writer"])
    expect(page.locator("#timeline li.step").first.locator(".tools")).to_contain_text("calculator")
    expect(page.locator("#final")).to_contain_text("Writer: Write about the tides")
    assert event_seqs(page)[-1] == user.client.get_run(run_id).last_seq
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "console-run.png"), full_page=True)


def test_run_content_is_text_never_html(page: Any, user: User) -> None:
    workflow = user.client.save_workflow(pipeline("Console xss", ["Echo", "Repeat"]), save_as="final")
    start_run(page, workflow.workflow_id, f"look {XSS} here")
    assert_timeline(page, ["Echo", "Repeat"])
    expect(page.locator("#final pre")).to_contain_text(XSS)
    expect(page.locator("#timeline li.step").first.locator("pre.output")).to_contain_text(XSS)
    assert page.locator("main img").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_reload_mid_run_keeps_the_whole_timeline(page: Any, user: User) -> None:
    roles = ["One", "Two", "Three", "Four"]
    workflow = user.client.save_workflow(pipeline("Console reload", roles, delay_ms=1200), save_as="final")
    run_id = start_run(page, workflow.workflow_id, "reload me")
    expect(page.locator("#timeline li.step[data-status='completed']")).to_have_count(1, timeout=60_000)
    page.evaluate("() => { window.staleDocument = true; }")
    page.reload()
    page.wait_for_function("() => !window.staleDocument && document.querySelector('#timeline')")
    assert user.client.get_run(run_id).status == "running"  # reloaded mid-run
    expect(page.locator("#timeline li.step[data-status='completed']").first).to_be_visible()
    assert_timeline(page, roles)
    assert event_seqs(page)[-1] == user.client.get_run(run_id).last_seq


def test_stream_resumes_after_a_gateway_restart(page: Any, user: User, platform: Platform) -> None:
    roles = ["Early", "Long", "Late"]
    definition = pipeline("Console restart", roles, delay_ms=500)
    definition["agents"][1]["llm"]["delay_ms"] = 15000  # spans the restart: nothing is published meanwhile
    workflow = user.client.save_workflow(definition, save_as="final")
    run_id = start_run(page, workflow.workflow_id, "hold on")
    expect(page.locator("#timeline li.step[data-status='running'] .step-name")).to_have_text("Long", timeout=60_000)
    down = time.monotonic()
    platform.stop("gateway")
    expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting", timeout=20_000)
    platform.start("gateway")
    platform.wait_healthy("gateway")
    print(f"gateway away for {time.monotonic() - down:.1f}s")  # shown with -s
    expect(page.locator("#conn")).to_have_attribute("data-state", "resumed", timeout=30_000)
    expect(page.locator("#conn")).to_contain_text("resumed after event #")
    assert_timeline(page, roles)
    assert event_seqs(page)[-1] == user.client.get_run(run_id).last_seq


def test_a_session_chat_gets_the_answer(page: Any, user: User) -> None:
    user.client.save_workflow(pipeline("Console chat", ["Helper"]), save_as="final")
    visit(page, "#/sessions")
    page.fill("#new-title", "Console talk")
    page.click("form.inline button")
    expect(page.locator("h1")).to_have_text("Console talk")
    page.fill("#chat-message", "what about the moon")
    page.click("#chat-send")
    expect(page.locator("#chat li.message.user")).to_contain_text("what about the moon")
    expect(page.locator("#chat li.message.assistant")).to_contain_text(
        "Helper: Helper works on what about the moon", timeout=60_000
    )
