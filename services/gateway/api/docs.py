"""`/openapi.json`: the whole public API in one document (`/docs` renders it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.gateway.openapi import ApiDocument

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
async def api_document(request: Request) -> JSONResponse:
    document: ApiDocument = request.app.state.api_document
    return JSONResponse(await document.document())
