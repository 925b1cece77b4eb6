"""What the ingress adds to every request: product request metrics, and the request id in error bodies.

The request id is Serve's own: the proxy takes the caller's `x-request-id` (or makes one), returns it in
the `x-request-id` response header, and Serve stamps it on the log lines the request causes in the ingress
and in every replica it reaches (the request context travels with handle calls). Here it also goes into
every error body, so a user's error report leads to those log lines.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import Request

from adgenesis import metrics

REQUEST_ID_HEADER = "x-request-id"
CLIENT_CLOSED = 499  # nginx's status for a caller that went away before the answer


def request_id(request: Request) -> str | None:
    # `state.request_id` is set by ray.serve.llm's SetRequestIdMiddleware from the proxy's header.
    return getattr(request.state, "request_id", None) or request.headers.get(REQUEST_ID_HEADER)


class RequestMetrics:
    """ASGI middleware: `adgenesis_requests_total` and `adgenesis_request_duration_seconds` per route template
    (`/v1/training/jobs/{job_id}`, never the raw path, so the label set stays bounded)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status, first_byte = 500, None

        async def send_and_watch(message):
            nonlocal status, first_byte
            if message["type"] == "http.response.start":
                status, first_byte = message["status"], time.perf_counter() - start
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            raise
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            seconds = first_byte if first_byte is not None else time.perf_counter() - start
            metrics.record_request(route, scope.get("method", ""), status, seconds)
