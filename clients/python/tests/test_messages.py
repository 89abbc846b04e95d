"""User-API messages: posts with code files, pages, the tree, delete-last, search."""

from __future__ import annotations

import pytest
from helpers import run, unique_word

from confab_client import AsyncConfab, BadRequestError, Confab

pytestmark = pytest.mark.anyio

ANSWER = 'Use sorted:\n```python title="sort.py"\nprint(sorted([3, 1, 2]))\n```\nDone.'


async def test_post_and_list_with_files(client: Confab | AsyncConfab) -> None:
    chat = await run(client.create_chat("sorting"))
    question = await run(client.post_message(chat.id, "How do I sort a list? 🐍"))
    assert (question.actor, question.message, question.status) == (
        "user", "How do I sort a list? 🐍", "complete",
    )
    assert question.parent_id is None and question.files == []
    answer = await run(client.post_message(chat.id, ANSWER, actor="assistant"))
    assert answer.parent_id == question.id
    (file,) = answer.files
    assert (file.title, file.language, file.extension) == ("sort.py", "python", "py")
    assert file.text == "print(sorted([3, 1, 2]))\n"
    assert file.chat_conversation_message_id == answer.id

    listed = await run(client.messages(chat.id))
    assert [m.id for m in listed] == [question.id, answer.id]
    assert listed[1].files[0].id == file.id
    assert [m.id for m in await run(client.messages(chat.id, limit=1))] == [question.id]
    assert [m.id for m in await run(client.messages(chat.id, after=question.id))] == [answer.id]

    batch = await run(
        client.post_messages(
            chat.id,
            [{"role": "user", "content": "And reversed?"},
             {"role": "assistant", "content": "sorted(xs, reverse=True)"}],
        )
    )
    assert [(m.actor, m.parent_id) for m in batch] == [
        ("user", answer.id), ("assistant", batch[0].id),
    ]

    with pytest.raises(BadRequestError):
        await run(client.post_message(chat.id, "who?", actor="robot"))  # type: ignore[arg-type]


async def test_edit_tree_and_branch_switch(client: Confab | AsyncConfab) -> None:
    chat = await run(client.create_chat("branches"))
    question = await run(client.post_message(chat.id, "first question"))
    answer = await run(client.post_message(chat.id, "first answer", actor="assistant"))

    edited = await run(client.edit_message(chat.id, question.id, "second question"))
    assert edited.id not in (question.id, answer.id)
    assert edited.parent_id is None and edited.message == "second question"
    assert edited.sibling_ids == [question.id, edited.id]

    tree = await run(client.tree(chat.id))
    assert sorted(m.id for m in tree.messages) == sorted([question.id, answer.id, edited.id])
    assert tree.current_message_id == edited.id
    assert [m.id for m in await run(client.messages(chat.id))] == [edited.id]

    path = await run(client.set_current(chat.id, question.id))
    assert [m.id for m in path] == [question.id, answer.id]
    assert (await run(client.tree(chat.id))).current_message_id == answer.id

    with pytest.raises(BadRequestError):
        await run(client.set_current(chat.id, answer.id + 10_000_000))


async def test_delete_last_exchange(client: Confab | AsyncConfab) -> None:
    chat = await run(client.create_chat("delete last"))
    kept = await run(client.post_message(chat.id, "kept"))
    question = await run(client.post_message(chat.id, "q"))
    answer = await run(client.post_message(chat.id, "a", actor="assistant"))
    trailing = await run(client.post_message(chat.id, "unanswered"))

    result = await run(client.delete_last(chat.id))
    assert result.assistant_message is not None and result.user_message is not None
    assert (result.user_message.id, result.assistant_message.id) == (question.id, answer.id)
    assert result.deleted_ids == [trailing.id] and result.failed_ids == []
    assert sorted(result.all_deleted_ids) == sorted([question.id, answer.id, trailing.id])
    assert [m.id for m in await run(client.messages(chat.id))] == [kept.id]

    only = await run(client.delete_last(chat.id))
    assert only.assistant_message is None and only.deleted_ids == [kept.id]


async def test_search_finds_a_posted_message(client: Confab | AsyncConfab) -> None:
    word = unique_word()
    chat = await run(client.create_chat("search"))
    posted = await run(client.post_message(chat.id, f"Where is the best café for {word}?"))
    other = await run(client.post_message(chat.id, f"{word} {word} again"))

    page = await run(client.search(word, limit=1))
    assert len(page.data) == 1 and page.next_cursor is not None
    rest = await run(client.search(word, limit=1, cursor=page.next_cursor))
    hits = page.data + rest.data
    assert sorted(h.message_id or 0 for h in hits) == sorted([posted.id, other.id])
    assert rest.next_cursor is None
    hit = next(h for h in hits if h.message_id == posted.id)
    assert (hit.chat_id, hit.chat_name, hit.actor) == (chat.id, "search", "user")
    assert [hit.snippet[start:end] for start, end in hit.highlights] == [word]
