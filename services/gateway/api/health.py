"""`/health/services`: the gateway asks each service behind it, so one call tells an operator what is down."""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway.api.deps import ServicesHealthDep
from services.gateway.schemas import ServicesHealthOut

router = APIRouter()


@router.get("/health/services", tags=["health"], response_model=ServicesHealthOut, response_model_exclude_none=True)
async def services_health(health: ServicesHealthDep) -> ServicesHealthOut:
    return await health.report()
