"""User-API chats: create, organise, list, delete, and the errors they answer."""

from __future__ import annotations

import httpx
import pytest
from helpers import run

from confab_client import AsyncConfab, BadRequestError, Confab, NotFoundError

pytestmark = pytest.mark.anyio


async def test_chat_lifecycle(client: Confab | AsyncConfab) -> None:
    assert client.user is not None
    chat = await run(client.create_chat("  Plans  ", model="gpt-4o"))
    assert (chat.name, chat.model) == ("Plans", "gpt-4o")
    assert chat.neptun_user_id == client.user.id
    assert chat.current_message_id is None and chat.tags == [] and not chat.pinned

    updated = await run(
        client.update_chat(chat.id, name="Renamed", pinned=True, tags=[" work ", "py", "work"])
    )
    assert (updated.id, updated.name, updated.pinned) == (chat.id, "Renamed", True)
    assert updated.tags == ["work", "py"]
    assert updated.updated_at >= chat.updated_at
    tagged = await run(client.chats(tag="work"))
    assert chat.id in [c.id for c in tagged]
    assert all("work" in c.tags for c in tagged)

    await run(client.update_chat(chat.id, archived=True))
    assert chat.id not in [c.id for c in await run(client.chats())]
    archived = await run(client.chats(archived="true"))
    assert [c.id for c in archived if c.id == chat.id] == [chat.id]
    assert all(c.archived for c in archived)

    assert await run(client.delete_chat(chat.id)) is True
    with pytest.raises(NotFoundError) as gone:
        await run(client.messages(chat.id))
    assert (gone.value.status, gone.value.code) == (404, None)
    assert gone.value.message == "Chat not found"
    assert gone.value.body == {
        "data": {"message": "Chat not found"},
        "statusCode": 404,
        "statusMessage": "Not Found",
    }


async def test_chat_list_order_and_pages(client: Confab | AsyncConfab) -> None:
    first = await run(client.create_chat("order one"))
    second = await run(client.create_chat("order two"))
    by_id = await run(client.chats(order_by="id:asc"))
    ids = [c.id for c in by_id]
    assert ids == sorted(ids) and ids.index(first.id) < ids.index(second.id)
    page = await run(client.chats(order_by="id:asc", after=first.id, limit=1))
    assert [c.id for c in page] == [second.id]


async def test_share_link(client: Confab | AsyncConfab) -> None:
    chat = await run(client.create_chat("shared"))
    await run(client.post_message(chat.id, "read me without a session"))
    share = await run(client.share(chat.id))
    assert len(share.share_id) == 32 and share.url.endswith(f"/api/shared/{share.share_id}")
    # anyone with the link reads the snapshot, without credentials
    snapshot = httpx.get(share.url).json()
    assert snapshot["chat"]["name"] == "shared"
    assert [m["message"] for m in snapshot["chatMessages"]] == ["read me without a session"]


async def test_bad_requests(client: Confab | AsyncConfab) -> None:
    with pytest.raises(BadRequestError) as blank:
        await run(client.create_chat("   "))
    assert blank.value.status == 400 and blank.value.message

    chat = await run(client.create_chat("errors"))
    with pytest.raises(BadRequestError) as nothing:
        await run(client.update_chat(chat.id))
    assert "at least one" in nothing.value.message

    with pytest.raises(BadRequestError) as bad_id:
        await run(client.messages(0))
    assert bad_id.value.status == 400

    # delete-last on an empty chat: the contract's special body, `data` a plain string
    with pytest.raises(BadRequestError) as empty:
        await run(client.delete_last(chat.id))
    assert empty.value.message == "No messages found, for chat."
    assert empty.value.body["statusMessage"] == "Bad Request."

    with pytest.raises(NotFoundError):
        await run(client.post_message(chat.id + 10_000_000, "to nowhere"))
