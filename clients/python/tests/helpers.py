"""Helpers that let one test body drive both clients.

The sync client returns results and iterators, the async one awaitables and async
iterators; `run` and `each` accept either, so every server test runs against `Confab`
and `AsyncConfab` alike (the sync client simply blocks inside the test's event loop).
"""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import anyio

from confab_client import AsyncConfab, Confab, ConfabError, User

T = TypeVar("T")

PASSWORD = "correct horse battery"
AUTH_RETRY_SECONDS = 60.0


async def run(result: T | Awaitable[T]) -> T:
    """The result of a client call, whichever client made it."""
    if inspect.isawaitable(result):
        return await result
    return result


async def each(stream: Iterator[T] | AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """Iterate a stream of either client; closes it when the loop is left early."""
    if isinstance(stream, Iterator):
        try:
            for item in stream:
                yield item
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    else:
        try:
            async for item in stream:
                yield item
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()


async def collect(stream: Iterator[T] | AsyncIterator[T]) -> list[T]:
    return [item async for item in each(stream)]


def make_client(mode: str, base_url: str, api_key: str | None = None) -> Confab | AsyncConfab:
    if mode == "sync":
        return Confab(base_url, api_key=api_key)
    return AsyncConfab(base_url, api_key=api_key)


def new_email() -> str:
    return f"py-client-{uuid.uuid4().hex[:16]}@example.com"


def unique_word() -> str:
    """A word no other message holds (search words are runs of letters and digits)."""
    return "zq" + uuid.uuid4().hex[:14]


async def auth(attempt: Callable[[], Any]) -> User:
    """Sign-up and login share a per-address allowance (10 a minute by default), which
    this suite's sign-ups can exceed: wait as `Retry-After` says and try again."""
    deadline = time.monotonic() + AUTH_RETRY_SECONDS
    while True:
        try:
            user: User = await run(attempt())
            return user
        except ConfabError as error:
            # 429 rate_limited; 503 server_busy (password hashing saturated)
            if error.status not in (429, 503) or time.monotonic() > deadline:
                raise
            await anyio.sleep(error.retry_after or 1.0)
