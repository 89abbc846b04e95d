"""Sign-up, logout and login, with the session cookie kept by httpx's jar."""

from __future__ import annotations

import pytest
from helpers import PASSWORD, auth, make_client, new_email, run

from confab_client import ConflictError, UnauthorizedError

pytestmark = pytest.mark.anyio


async def test_sign_up_log_out_log_in(mode: str, base_url: str) -> None:
    client = make_client(mode, base_url)
    try:
        email = new_email()
        user = await auth(lambda: client.sign_up(email, PASSWORD))
        assert user.email == email and user.id > 0
        assert client.user == user
        chat = await run(client.create_chat("kept across sessions"))

        assert await run(client.log_out()) is True
        assert client.user is None
        # The id alone opens nothing: the session was revoked and its cookie cleared.
        client.user = user
        with pytest.raises(UnauthorizedError) as refused:
            await run(client.chats())
        assert refused.value.status == 401 and refused.value.code is None

        again = await auth(lambda: client.log_in(email, PASSWORD))
        assert again.id == user.id
        assert [c.id for c in await run(client.chats())] == [chat.id]

        with pytest.raises(ConflictError) as taken:
            await auth(lambda: client.sign_up(email.upper(), PASSWORD))
        assert taken.value.status == 409 and taken.value.message
    finally:
        await run(client.close())


async def test_wrong_password(mode: str, base_url: str) -> None:
    client = make_client(mode, base_url)
    try:
        with pytest.raises(UnauthorizedError) as refused:
            await auth(lambda: client.log_in(new_email(), "not the password"))
        error = refused.value
        assert (error.status, error.code) == (401, None)
        assert error.message == "Invalid email or password"
        assert error.body["statusMessage"] == "Unauthorized"
        assert client.user is None
    finally:
        await run(client.close())
