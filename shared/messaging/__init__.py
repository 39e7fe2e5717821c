"""RabbitMQ with aio-pika: one robust connection per process, topology and message models declared once."""

from shared.messaging.broker import Broker
from shared.messaging.delivery import death_reason, delivery_attempt, settle
from shared.messaging.messages import (
    RunControlV1,
    RunFinishedV1,
    RunQueuedV1,
    RunRequestV1,
    StepEventV1,
    decode_message,
)

__all__ = [
    "Broker",
    "RunControlV1",
    "RunFinishedV1",
    "RunQueuedV1",
    "RunRequestV1",
    "StepEventV1",
    "death_reason",
    "decode_message",
    "delivery_attempt",
    "settle",
]
