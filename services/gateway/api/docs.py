"""`/openapi.json`: the whole public API in one document (`/docs` renders it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from services.gateway.openapi import ApiDocument

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
async def api_document(request: Request) -> dict[str, Any]:
    document: ApiDocument = request.app.state.api_document
    return await document.document()
