"""Client of the delayq delay-queue server: standard library only."""

from .client import Callback, Client, Leased, NewTask, Task
from .consumer import Consumer
from .errors import (
    ConflictError,
    DelayqError,
    InvalidError,
    NotFoundError,
    OverloadedError,
    ServerError,
    UnauthorizedError,
)
from .schedules import Schedule, ScheduleSpec, ScheduleTask, Triggered
from .settle_batch import Settled
from .webhook import BadSignature, StaleTimestamp, Webhook, verify_webhook, webhook_handler

__version__ = "0.1.0"

__all__ = [
    "BadSignature", "Callback", "Client", "ConflictError", "Consumer", "DelayqError",
    "InvalidError", "Leased", "NewTask", "NotFoundError", "OverloadedError", "Schedule",
    "ScheduleSpec", "ScheduleTask", "ServerError", "Settled", "StaleTimestamp", "Task", "Triggered",
    "UnauthorizedError", "Webhook", "verify_webhook", "webhook_handler",
]
