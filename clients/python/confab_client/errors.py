"""`ConfabError`: any non-2xx answer of either API, in one shape.

The user API answers `{"statusCode", "statusMessage", "data": {"message"}}` (delete-last
on an empty chat: `data` is a plain string); the tenant API answers
`{"success": false, "error": {"code", "message"}}`. Both become `status`, `code` (the
tenant API's stable code; None for the user API, which has none) and `message`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx


class ConfabError(Exception):
    """A non-2xx answer. `body` is the parsed JSON body (or the raw text when it was not
    JSON); `retry_after` the seconds of a `Retry-After` header (429, 503), if any."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}" if code else f"{status}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body
        self.retry_after = retry_after


class BadRequestError(ConfabError):
    """400"""


class UnauthorizedError(ConfabError):
    """401: no valid session cookie or API key, or a wrong email or password."""


class ForbiddenError(ConfabError):
    """403"""


class NotFoundError(ConfabError):
    """404: also another user's or tenant's chat, which looks exactly like a missing one."""


class ConflictError(ConfabError):
    """409: an email taken, a chat with live connections, too many shares."""


class RateLimitedError(ConfabError):
    """429: see `retry_after`."""


_BY_STATUS: dict[int, type[ConfabError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}


def error_from_response(response: httpx.Response) -> ConfabError:
    """The error a read (`response.read()` done) non-2xx response stands for."""
    text = response.text
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = text
    code, message = _code_and_message(body)
    if message is None:
        message = response.reason_phrase or f"HTTP {response.status_code}"
    kind = _BY_STATUS.get(response.status_code, ConfabError)
    return kind(
        response.status_code, code, message, body, _retry_after(response.headers)
    )


def _code_and_message(body: Any) -> tuple[str | None, str | None]:
    if not isinstance(body, dict):
        return None, body if isinstance(body, str) and body else None
    tenant_error = body.get("error")
    if isinstance(tenant_error, dict):
        return _str(tenant_error.get("code")), _str(tenant_error.get("message"))
    data = body.get("data")
    if isinstance(data, dict):
        return None, _str(data.get("message"))
    if isinstance(data, str):
        return None, data
    return None, _str(body.get("statusMessage"))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: confab sends seconds, a proxy might not
