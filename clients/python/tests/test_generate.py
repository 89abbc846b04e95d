"""Generated replies through the user API: streaming, waiting, resuming, stopping. The
server's provider is the LLM double: `count-N-D` streams `w1 `, `w2 `, ... D ms apart."""

from __future__ import annotations

from contextlib import aclosing

import pytest
from helpers import collect, each, run

from confab_client import (
    AsyncConfab,
    Confab,
    ConflictError,
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    NotFoundError,
    ReplyEvent,
)

pytestmark = pytest.mark.anyio


def counted(n: int) -> str:
    return "".join(f"w{i} " for i in range(1, n + 1))


async def test_generate_streams_deltas_in_order(client: Confab | AsyncConfab) -> None:
    chat = await run(client.create_chat("generate"))
    events = await collect(client.generate(chat.id, "Count to five", model="count-5-20"))

    asked, started = events[0], events[1]
    assert isinstance(asked, MessageCreated) and isinstance(started, MessageCreated)
    assert (asked.message.actor, asked.message.message) == ("user", "Count to five")
    reply = started.message
    assert (reply.actor, reply.status, reply.parent_id) == (
        "assistant", "generating", asked.message.id,
    )
    deltas = [e for e in events if isinstance(e, MessageDelta)]
    assert [d.seq for d in deltas] == [1, 2, 3, 4, 5]
    assert {d.message_id for d in deltas} == {reply.id}
    end = events[-1]
    assert isinstance(end, MessageCompleted) and events[2:-1] == deltas
    assert end.message.id == reply.id and end.message.status == "complete"
    assert end.message.message == "".join(d.text for d in deltas) == counted(5)
    assert end.message.model == "count-5-20"

    stored = await run(client.messages(chat.id))
    assert [(m.id, m.message) for m in stored] == [
        (asked.message.id, "Count to five"), (reply.id, counted(5)),
    ]


async def test_generate_and_wait(client: Confab | AsyncConfab) -> None:
    chat = await run(client.create_chat("wait", model="count-3-5"))
    reply = await run(client.generate_and_wait(chat.id, "three please"))
    assert (reply.actor, reply.status, reply.message) == ("assistant", "complete", counted(3))
    assert reply.model == "count-3-5"
    # regenerate: no new message, a sibling of the first reply under the same question
    again = await run(client.generate_and_wait(chat.id, parent_id=reply.parent_id))
    assert again.id != reply.id and again.parent_id == reply.parent_id
    assert again.sibling_ids == [reply.id, again.id]


async def test_resume_after_two_deltas(client: Confab | AsyncConfab) -> None:
    chat = await run(client.create_chat("resume"))
    seen: list[ReplyEvent] = []
    async with aclosing(each(client.generate(chat.id, "go", model="count-5-20"))) as events:
        async for event in events:
            seen.append(event)
            if sum(isinstance(e, MessageDelta) for e in seen) == 2:
                break  # the stream is closed here; the reply goes on without it
    first = [e for e in seen if isinstance(e, MessageDelta)]
    reply_id = first[0].message_id

    rest = await collect(client.resume(chat.id, reply_id, after=2))
    later = [e for e in rest if isinstance(e, MessageDelta)]
    assert [d.seq for d in later] == [3, 4, 5]
    end = rest[-1]
    assert isinstance(end, MessageCompleted) and end.message.status == "complete"
    assert "".join(d.text for d in first + later) == end.message.message == counted(5)

    # from the start, a finished reply's stream is replayed whole
    replay = await collect(client.resume(chat.id, reply_id))
    assert [e.seq for e in replay if isinstance(e, MessageDelta)] == [1, 2, 3, 4, 5]


async def test_stop_a_running_reply(client: Confab | AsyncConfab) -> None:
    chat = await run(client.create_chat("stop"))
    events: list[ReplyEvent] = []
    stopped = None
    async for event in each(client.generate(chat.id, "long", model="count-200-20")):
        events.append(event)
        if stopped is None and isinstance(event, MessageDelta):
            stopped = await run(client.stop(chat.id, event.message_id))
    assert stopped is not None and stopped.status == "stopped"

    end = events[-1]
    assert isinstance(end, MessageCompleted) and end.message.status == "stopped"
    deltas = [e for e in events if isinstance(e, MessageDelta)]
    assert 1 <= len(deltas) < 200
    assert end.message.message == "".join(d.text for d in deltas)
    assert stopped.message == end.message.message
    # stopping again answers the reply as it ended
    assert (await run(client.stop(chat.id, stopped.id))).status == "stopped"


async def test_a_chat_with_a_running_reply_is_checked_before_deletion(
    client: Confab | AsyncConfab,
) -> None:
    chat = await run(client.create_chat("busy"))
    refused = None
    async for event in each(client.generate(chat.id, "long", model="count-200-20")):
        if refused is None and isinstance(event, MessageDelta):
            # A running reply counts as the chat being in use.
            with pytest.raises(ConflictError) as caught:
                await run(client.delete_chat(chat.id, check_connections=True))
            refused = caught.value
            await run(client.stop(chat.id, event.message_id))
    assert refused is not None and refused.status == 409
    assert "active connection" in refused.message
    # Without the check the chat goes, reply and all.
    assert await run(client.delete_chat(chat.id)) is True
    with pytest.raises(NotFoundError):
        await run(client.messages(chat.id))
