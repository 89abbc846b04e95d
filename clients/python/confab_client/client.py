"""The two clients. `Confab` (httpx.Client) and `AsyncConfab` (httpx.AsyncClient) have the
same methods, defined once in `UserApi` and `TenantApi`; only the runner differs."""

from __future__ import annotations

from types import TracebackType

import httpx

from .runners import AsyncRunner, SyncRunner
from .tenant_api import TenantApi
from .user_api import UserApi

DEFAULT_TIMEOUT = 30.0
"""Seconds; a reply stream sends a keep-alive comment every 15 s, so a quiet reply does
not trip the read timeout."""


def _api_key_header(api_key: str | None) -> dict[str, str]:
    # only the tenant API's requests carry the key; the user API's carry the cookie
    return {"X-API-Key": api_key} if api_key is not None else {}


class TenantClient(TenantApi, SyncRunner):
    """The tenant API of a `Confab`: `client.tenant`."""


class AsyncTenantClient(TenantApi, AsyncRunner):
    """The tenant API of an `AsyncConfab`: `client.tenant`."""


class Confab(UserApi, SyncRunner):
    """confab's user API (after `sign_up` or `log_in`) and, with `api_key`, its tenant
    API as `tenant`. Use it as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        http = httpx.Client(base_url=base_url, timeout=timeout)
        super().__init__(http)
        self.tenant = TenantClient(http, _api_key_header(api_key))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Confab:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncConfab(UserApi, AsyncRunner):
    """`Confab` for asyncio (or trio): every method returns an awaitable, every stream
    is an async iterator. Use `async with`, or `await close()`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        http = httpx.AsyncClient(base_url=base_url, timeout=timeout)
        super().__init__(http)
        self.tenant = AsyncTenantClient(http, _api_key_header(api_key))

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncConfab:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
