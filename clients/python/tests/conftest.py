"""Fixtures for the tests against a running confab: `$CONFAB_URL` (no trailing slash)
and `$CONFAB_API_KEY` (a key of a tenant the tests may fill). Optional:
`$CONFAB_TENANT_ID`, that tenant's uuid, to test chats made for one of its users."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from helpers import PASSWORD, auth, make_client, new_email, run

from confab_client import AsyncConfab, Confab


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.fail(f"${name} is not set: these tests need a running confab server")
    return value


@pytest.fixture(scope="session")
def base_url() -> str:
    return _required("CONFAB_URL")


@pytest.fixture(scope="session")
def api_key() -> str:
    return _required("CONFAB_API_KEY")


@pytest.fixture(scope="session", params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Which client a test drives: every server test runs once with each."""
    return str(request.param)


@pytest.fixture(scope="session")
async def client(mode: str, base_url: str, api_key: str) -> AsyncIterator[Confab | AsyncConfab]:
    """A client of `mode`, signed up as a new user, with the tenant key."""
    confab = make_client(mode, base_url, api_key)
    await auth(lambda: confab.sign_up(new_email(), PASSWORD))
    yield confab
    await run(confab.close())
