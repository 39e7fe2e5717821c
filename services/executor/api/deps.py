"""What the executor's endpoints take from the app: the broker, the event publisher, the upstream client."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.executor.clients import Upstream
from services.executor.events import RunEvents
from shared.auth import CurrentUser, get_current_user
from shared.messaging import Broker
from shared.settings import Settings


def get_broker(request: Request) -> Broker:
    return request.app.state.broker  # type: ignore[no-any-return]


def get_events(request: Request) -> RunEvents:
    return request.app.state.events  # type: ignore[no-any-return]


def get_settings_(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_upstream(request: Request, user: Annotated[CurrentUser, Depends(get_current_user)]) -> Upstream:
    return Upstream(request.app.state.http, request.app.state.settings, user)


BrokerDep = Annotated[Broker, Depends(get_broker)]
EventsDep = Annotated[RunEvents, Depends(get_events)]
SettingsDep = Annotated[Settings, Depends(get_settings_)]
UpstreamDep = Annotated[Upstream, Depends(get_upstream)]
