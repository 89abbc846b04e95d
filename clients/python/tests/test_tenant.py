"""The tenant API with the key: chats, messages, cursors, search, replies, the 409 rule."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest
from helpers import PASSWORD, auth, collect, each, make_client, new_email, run, unique_word

from confab_client import (
    AsyncConfab,
    BadRequestError,
    Confab,
    ConfabError,
    ConflictError,
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    NotFoundError,
    UnauthorizedError,
)

pytestmark = pytest.mark.anyio


async def test_chat_messages_and_cursor(client: Confab | AsyncConfab) -> None:
    metadata = {"order": 1234, "nested": {"list": [1, "two", None]}}
    chat = await run(client.tenant.create_chat(name="Order #1234", metadata=metadata))
    assert isinstance(chat.id, uuid.UUID)
    assert (chat.name, chat.model, chat.user_id, chat.metadata) == (
        "Order #1234", "", None, metadata,
    )

    posted = await run(
        client.tenant.post_messages(
            chat.id,
            [{"role": "user", "content": "Where is my order?"},
             {"role": "assistant", "content": "On its way."}],
        )
    )
    assert [(m.actor, m.message) for m in posted] == [
        ("user", "Where is my order?"), ("assistant", "On its way."),
    ]
    first = await run(client.tenant.messages(chat.id, limit=1))
    assert [m.id for m in first.data] == [posted[0].id] and first.next_cursor
    second = await run(client.tenant.messages(chat.id, after=first.next_cursor, limit=1))
    assert [m.id for m in second.data] == [posted[1].id] and second.next_cursor is None

    fetched = await run(client.tenant.get_chat(str(chat.id)))
    assert (fetched.id, fetched.message_count, fetched.active_connections) == (chat.id, 2, 0)
    assert fetched.current_message_id == posted[1].id

    updated = await run(client.tenant.update_chat(chat.id, archived=True, tags=["vip"]))
    assert (updated.archived, updated.tags, updated.metadata) == (True, ["vip"], metadata)
    archived = await run(client.tenant.chats(archived="true", tag="vip"))
    assert chat.id in [c.id for c in archived.data]


async def test_chat_list_walks_every_page(client: Confab | AsyncConfab) -> None:
    made = {(await run(client.tenant.create_chat(name=f"page {i}"))).id for i in range(3)}
    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        page = await run(client.tenant.chats(limit=2, cursor=cursor))
        assert 1 <= len(page.data) <= 2
        seen.extend(c.id for c in page.data)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert made <= set(seen) and len(seen) == len(set(seen))

    with pytest.raises(BadRequestError) as bad:
        await run(client.tenant.chats(cursor="not a cursor"))
    assert bad.value.code == "invalid_cursor"


async def test_search(client: Confab | AsyncConfab) -> None:
    word = unique_word()
    chat = await run(client.tenant.create_chat(name="searched"))
    (message,) = await run(
        client.tenant.post_messages(chat.id, [{"role": "user", "content": f"about {word}"}])
    )
    page = await run(client.tenant.search(word, chat_id=chat.id))
    assert [(h.chat_id, h.message_id, h.actor) for h in page.data] == [
        (chat.id, message.id, "user"),
    ]
    assert page.data[0].snippet == f"about {word}"
    assert (await run(client.tenant.search(word, actor="assistant"))).data == []
    with pytest.raises(BadRequestError) as bad:
        await run(client.tenant.search("***"))
    assert bad.value.code == "invalid_query"


@pytest.fixture(scope="session")
async def tenant_member(base_url: str) -> AsyncIterator[Confab | None]:
    """A user of the key's tenant, signed in; None without `$CONFAB_TENANT_ID`."""
    tenant_id = os.environ.get("CONFAB_TENANT_ID")
    if not tenant_id:
        yield None
        return
    member = Confab(base_url)
    await auth(lambda: member.sign_up(new_email(), PASSWORD, tenant_id=tenant_id))
    yield member
    member.close()


async def test_chat_for_a_user(client: Confab | AsyncConfab, tenant_member: Confab | None) -> None:
    if tenant_member is None or tenant_member.user is None:
        # The session user is in the default tenant, not the key's: not one of its users.
        assert client.user is not None
        with pytest.raises(NotFoundError) as refused:
            await run(client.tenant.create_chat(name="theirs", user_id=client.user.id))
        assert refused.value.code == "user_not_found"
        return
    user = tenant_member.user
    chat = await run(client.tenant.create_chat(name="theirs", user_id=user.id))
    assert chat.user_id == user.id
    assert chat.id in [c.uuid for c in tenant_member.chats()]
    lines = await collect(client.tenant.export(user_id=user.id))
    assert chat.id in [line.chat.id for line in lines]
    assert {line.chat.user_id for line in lines} == {user.id}


async def test_generate_and_the_409_rule(client: Confab | AsyncConfab) -> None:
    chat = await run(client.tenant.create_chat(name="replies", model="count-5-20"))
    events = await collect(client.tenant.generate(chat.id, "five"))
    end = events[-1]
    assert isinstance(end, MessageCompleted) and end.message.message == "w1 w2 w3 w4 w5 "
    assert [e.seq for e in events if isinstance(e, MessageDelta)] == [1, 2, 3, 4, 5]

    waited = await run(client.tenant.generate_and_wait(chat.id, "three", model="count-3-5"))
    assert (waited.status, waited.message, waited.model) == ("complete", "w1 w2 w3 ", "count-3-5")
    resumed = await collect(client.tenant.resume(chat.id, waited.id, after=1))
    assert [e.text for e in resumed if isinstance(e, MessageDelta)] == ["w2 ", "w3 "]
    # stopping a reply that already ended answers it as it ended
    assert (await run(client.tenant.stop(chat.id, waited.id))).status == "complete"

    # A reply being generated counts as a live connection: a plain delete is refused.
    stream = client.tenant.generate(chat.id, "long", model="count-200-20")
    async with aclosing(each(stream)) as events_so_far:
        async for event in events_so_far:
            if isinstance(event, MessageCreated) and event.message.actor == "assistant":
                break
    with pytest.raises(ConflictError) as busy:
        await run(client.tenant.delete_chat(chat.id))
    assert busy.value.code == "chat_has_active_connections"
    deleted = await run(client.tenant.delete_chat(chat.id, force=True))
    assert deleted.success and deleted.message == "Chat deleted successfully"
    with pytest.raises(NotFoundError) as gone:
        await run(client.tenant.get_chat(chat.id))
    assert gone.value.code == "chat_not_found"


async def test_errors_in_the_tenant_shape(
    mode: str, base_url: str, client: Confab | AsyncConfab
) -> None:
    with pytest.raises(BadRequestError) as bad_id:
        await run(client.tenant.get_chat("not-a-uuid"))
    assert (bad_id.value.status, bad_id.value.code) == (400, "invalid_chat_id")
    with pytest.raises(NotFoundError) as missing:
        await run(client.tenant.get_chat(uuid.uuid4()))
    assert missing.value.code == "chat_not_found"
    assert missing.value.body == {
        "error": {"code": "chat_not_found", "message": missing.value.message},
        "success": False,
    }

    stranger = make_client(mode, base_url, api_key="cfb_000000000000_not-a-real-key")
    try:
        with pytest.raises(UnauthorizedError) as refused:
            await run(stranger.tenant.chats())
        assert refused.value.code == "unauthorized"
        assert isinstance(refused.value, ConfabError) and refused.value.status == 401
    finally:
        await run(stranger.close())
