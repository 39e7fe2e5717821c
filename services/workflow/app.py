from __future__ import annotations

from fastapi import FastAPI

from shared.service import create_service_app


def create_app() -> FastAPI:
    return create_service_app("workflow", routers=[])
