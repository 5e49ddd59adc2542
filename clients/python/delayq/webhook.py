"""Verifying delayq's signed callbacks, and a ready handler for http.server."""

import hashlib
import hmac
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Callable, Mapping, Optional


class BadSignature(Exception):
    """X-Delayq-Signature is missing, malformed or does not match."""


class StaleTimestamp(Exception):
    """X-Delayq-Timestamp is further from now than the tolerance (a replay)."""


@dataclass
class Webhook:
    task_id: str  # de-duplicate on (task_id, attempt): delivery is at-least-once
    topic: str
    attempt: int
    due_at_ms: int
    timestamp: int
    body: bytes


def _header(headers: Mapping[str, str], name: str) -> str:
    getter = getattr(headers, "get", None)
    value = getter(name) if getter else None
    if value is None:
        lower = name.lower()
        for key, v in headers.items():
            if key.lower() == lower:
                return v
        return ""
    return value


def verify_webhook(key: bytes, headers: Mapping[str, str], body: bytes,
                   tolerance_s: float = 300.0, now: Optional[float] = None) -> Webhook:
    """Checks v1=hex(HMAC-SHA256(key, timestamp + "." + body)) in constant time and the
    timestamp's distance from now; returns the webhook or raises BadSignature/StaleTimestamp."""
    ts_text = _header(headers, "X-Delayq-Timestamp")
    if not ts_text.isdigit():
        raise BadSignature("missing or malformed X-Delayq-Timestamp")
    mac = hmac.new(key, ts_text.encode() + b"." + body, hashlib.sha256)
    if not hmac.compare_digest("v1=" + mac.hexdigest(), _header(headers, "X-Delayq-Signature")):
        raise BadSignature("signature does not match")
    now = time.time() if now is None else now
    if abs(now - int(ts_text)) > tolerance_s:
        raise StaleTimestamp(f"timestamp {ts_text} is more than {tolerance_s} s from now")
    attempt = _header(headers, "X-Delayq-Attempt")
    due = _header(headers, "X-Delayq-Due-At")
    return Webhook(_header(headers, "X-Delayq-Task-Id"), _header(headers, "X-Delayq-Topic"),
                   int(attempt) if attempt.isdigit() else 0, int(due) if due.isdigit() else 0,
                   int(ts_text), body)


def webhook_handler(key: bytes, on_webhook: Callable[[Webhook], int],
                    tolerance_s: float = 300.0) -> type:
    """A BaseHTTPRequestHandler class for http.server: verifies each POST/PUT/PATCH, answers
    401 to a bad or stale signature, else the status on_webhook returns (2xx completes
    the task, anything else makes delayq retry)."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                hook = verify_webhook(key, self.headers, body, tolerance_s)
            except (BadSignature, StaleTimestamp) as e:
                status, text = 401, str(e).encode()
            else:
                status, text = on_webhook(hook), b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = _handle

        def log_message(self, *args):  # quiet
            pass

    return Handler
