"""Errors a client can cause, each with the HTTP status it is answered with.

They live outside ``web/`` because ``domain/`` raises them too; the web layer
turns any of them into ``{"error": message}`` with ``status``.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request that cannot be served as asked; never logged as a bug."""

    status = 400

    def __init__(
        self, message: str, *, status: int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.headers = headers or {}

    def body(self) -> Any:
        return {"error": self.message}


class BadRequest(ApiError):
    status = 400


class Forbidden(ApiError):
    status = 403


RECORD_NOT_FOUND = "Record not found"


class NotFound(ApiError):
    """What was named does not exist, or the reader may not know that it does."""

    status = 404

    def __init__(self, message: str = RECORD_NOT_FOUND) -> None:
        super().__init__(message)


class MissingField(BadRequest):
    def __init__(self, name: str) -> None:
        super().__init__(f"Missing field: {name}")
