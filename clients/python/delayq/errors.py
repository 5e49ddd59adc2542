"""Typed errors: one class per kind of error answer."""

from typing import Optional


class DelayqError(Exception):
    """An error answer of the server: HTTP status, dm_error, the server's message."""

    def __init__(self, status: int, code: int, message: str, request_id: Optional[str] = None):
        super().__init__(f"HTTP {status} (dm_error {code}): {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id


class InvalidError(DelayqError):
    """400, 405, 413: the request was refused; the message names the field."""


class NotFoundError(DelayqError):
    """404."""


class ConflictError(DelayqError):
    """409: a stale or expired lease, or a task in the wrong state."""


class UnauthorizedError(DelayqError):
    """401 or 403."""


class OverloadedError(DelayqError):
    """429 or 503: the server is overloaded or its storage unavailable."""


class ServerError(DelayqError):
    """Any other 5xx."""


def error_for(status: int, code: int, message: str, request_id: Optional[str]) -> DelayqError:
    if status == 404:
        cls = NotFoundError
    elif status == 409:
        cls = ConflictError
    elif status in (401, 403):
        cls = UnauthorizedError
    elif status in (429, 503):
        cls = OverloadedError
    elif status >= 500:
        cls = ServerError
    else:
        cls = InvalidError
    return cls(status, code, message, request_id)
