"""The documentation under docs/ keeps up with the code: every setting is documented, every link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.deploy.manifests import K8S, ROOT

DOCS = ROOT / "docs"
# Settings the platform documents ahead of, or beside, shared/settings.py.
DOCUMENTED_EXTRA = {"ECHO_LOGIN_MAX_FAILURES", "ECHO_LOGIN_WINDOW_SECONDS", "ECHO_CORS_ORIGINS"}
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def documented_variables() -> set[str]:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    return set(re.findall(r"`(ECHO_[A-Z0-9_]+)`", text))


def slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading (GitHub's rules, for the characters used here)."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")}


def test_every_setting_is_documented() -> None:
    variables = {f"ECHO_{name.upper()}" for name in Settings.model_fields}
    missing = sorted(variables - documented_variables())
    assert not missing, f"add these to docs/configuration.md: {', '.join(missing)}"


def test_the_platform_settings_beside_the_code_are_documented() -> None:
    assert documented_variables() >= DOCUMENTED_EXTRA


def test_every_configmap_key_is_documented() -> None:
    keys = set()
    for line in (K8S / "base" / "config.env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            keys.add(line.split("=", 1)[0])
    assert keys and keys <= documented_variables()


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_links_between_pages_resolve(page: str) -> None:
    path = DOCS / page
    for match in LINK.finditer(path.read_text(encoding="utf-8")):
        target = match["target"]
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        assert linked.is_file(), f"{page}: {target}"
        if anchor:
            assert anchor in anchors(linked), f"{page}: no heading for #{anchor} in {linked.name}"


def test_no_page_points_outside_the_repository() -> None:
    for path in [*DOCS.glob("*.md"), ROOT / "README.md"]:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "CONTRACT" not in text, path.name
