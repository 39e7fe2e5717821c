"""The console's static files: plain modules from this origin only, and no way to inject HTML."""

from __future__ import annotations

import re

from services.gateway.console import CONSOLE_DIR, CSP

FILES = sorted(p for p in CONSOLE_DIR.iterdir() if p.suffix in {".js", ".html", ".css"})


def test_no_html_sinks_in_scripts() -> None:
    scripts = [p for p in FILES if p.suffix == ".js"]
    assert {p.name for p in scripts} >= {"app.js", "api.js", "stream.js", "run.js"}
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function")
    for path in scripts:
        assert not sinks.search(path.read_text()), path.name


def test_nothing_is_loaded_from_elsewhere() -> None:
    for path in FILES:
        text = path.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path.name
        assert "@import" not in text and "url(http" not in text, path.name
    index = (CONSOLE_DIR / "index.html").read_text()
    assert '<script type="module" src="app.js"></script>' in index and "onclick" not in index


def test_token_never_goes_in_a_url() -> None:
    stream = (CONSOLE_DIR / "stream.js").read_text()
    assert "token=" not in stream and '"auth"' in stream


def test_policy() -> None:
    assert "default-src 'none'" in CSP and "script-src 'self'" in CSP and "'unsafe" not in CSP
