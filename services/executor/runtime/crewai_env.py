"""CrewAI reads its switches when it is imported: set them first, so it never reaches for the internet
(telemetry, tracing, version checks) and keeps its storage under var/ instead of the home directory."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_OFF = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "CREWAI_DISABLE_VERSION_CHECK": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "OTEL_SDK_DISABLED": "true",
}


def configure() -> None:
    os.environ.update(_OFF)
    # An absolute path: CrewAI joins it onto the user data dir, and an absolute path wins that join.
    os.environ.setdefault("CREWAI_STORAGE_DIR", str(ROOT / "var" / "crewai"))


configure()
