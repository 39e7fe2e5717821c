"""A Python client of EchoAI's public API, reached through the gateway.

    from echoai_client import Client
    with Client() as echo:                      # ECHOAI_URL, ECHOAI_TOKEN or `echoai login`'s credentials
        run = echo.send(workflow_id, "the tides")
        for event in echo.stream(run.run_id):   # reconnects by itself; never a duplicate, never a gap
            print(event.seq, event.type)

Depends only on httpx, pydantic and websockets.
"""

from echoai_client.async_client import AsyncClient, AsyncEventStream
from echoai_client.calls import load_definition
from echoai_client.client import Client, EventStream
from echoai_client.errors import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    EchoAIError,
    EchoAPIError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    StreamError,
    StreamGap,
    StreamRefused,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from echoai_client.models import (
    Agent,
    Checkpoint,
    Event,
    Message,
    Page,
    Run,
    RunSteps,
    SendResult,
    Session,
    SessionSummary,
    Step,
    Token,
    Tool,
    User,
    Version,
    VersionSummary,
    Workflow,
    WorkflowSummary,
)

__all__ = [
    "Agent",
    "AsyncClient",
    "AsyncEventStream",
    "BadRequest",
    "Checkpoint",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "EchoAIError",
    "EchoAPIError",
    "Event",
    "EventStream",
    "Message",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "RateLimited",
    "Run",
    "RunSteps",
    "SendResult",
    "Session",
    "SessionSummary",
    "Step",
    "StreamError",
    "StreamGap",
    "StreamRefused",
    "Token",
    "Tool",
    "Unauthorized",
    "Unavailable",
    "User",
    "ValidationFailed",
    "Version",
    "VersionSummary",
    "Workflow",
    "WorkflowSummary",
    "load_definition",
]
