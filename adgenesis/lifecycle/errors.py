"""One error type for the lifecycle services: an HTTP status and a message that is safe to return."""

from __future__ import annotations


class LifecycleError(Exception):
    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers or {}

    def __str__(self) -> str:
        return f"{self.status_code}: {self.message}"
