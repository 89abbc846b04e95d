"""Tenant export (NDJSON, read as it streams) and import of a tiny confab NDJSON file."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from helpers import collect, run

from confab_client import AsyncConfab, BadRequestError, Confab, NotFoundError

pytestmark = pytest.mark.anyio

WHEN = "2024-03-20T10:00:00.250000Z"


def confab_line(chat_id: uuid.UUID, name: str) -> dict[str, object]:
    """One chat of confab's export format: a question and its answer."""

    def message(id: int, actor: str, text: str, parent: int | None) -> dict[str, object]:
        return {
            "id": id, "chat_conversation_id": 1, "actor": actor, "message": text,
            "created_at": WHEN, "updated_at": WHEN, "parent_id": parent,
            "sibling_ids": [id], "status": "complete", "files": [],
        }

    return {
        "chat": {
            "id": str(chat_id), "name": name, "model": "gpt-4o", "user_id": None,
            "metadata": {"imported": True}, "created_at": WHEN, "updated_at": WHEN,
            "current_message_id": 2, "archived": False, "pinned": True, "tags": ["old"],
        },
        "source_id": None,
        "messages": [
            message(1, "user", "What is NDJSON?", None),
            message(2, "assistant", "One JSON value per line.", 1),
        ],
    }


async def test_export_lines(client: Confab | AsyncConfab) -> None:
    chat = await run(client.tenant.create_chat(name="exported", metadata={"n": 1}))
    await run(
        client.tenant.post_messages(
            chat.id,
            [{"role": "user", "content": "Q"},
             {"role": "assistant", "content": "```sh\necho hi\n```"}],
        )
    )
    lines = await collect(client.tenant.export())
    (line,) = [line for line in lines if line.chat.id == chat.id]
    assert line.source_id is None and line.chat.metadata == {"n": 1}
    assert [(m.actor, m.message) for m in line.messages] == [
        ("user", "Q"), ("assistant", "```sh\necho hi\n```"),
    ]
    assert line.messages[1].files[0].language == "sh"
    assert line.chat.current_message_id == line.messages[1].id
    assert len({line.chat.id for line in lines}) == len(lines)


async def test_user_export(client: Confab | AsyncConfab) -> None:
    chat = await run(client.create_chat("my export"))
    posted = await run(client.post_message(chat.id, "mine to keep"))
    lines = await collect(client.export())
    (line,) = [line for line in lines if line.chat.id == chat.uuid]
    assert [(m.id, m.message) for m in line.messages] == [(posted.id, "mine to keep")]
    assert line.chat.metadata is None and line.chat.user_id == chat.neptun_user_id


async def test_import_a_confab_file(client: Confab | AsyncConfab, tmp_path: Path) -> None:
    chat_id = uuid.uuid4()
    file = tmp_path / "chats.ndjson"
    file.write_text(json.dumps(confab_line(chat_id, "Imported")) + "\n", encoding="utf-8")

    dry = await run(client.tenant.import_file(file, format="confab", dry_run=True))
    assert (dry.chats_imported, dry.messages_imported, dry.errors) == (1, 2, [])
    with pytest.raises(NotFoundError):
        await run(client.tenant.get_chat(chat_id))

    report = await run(client.tenant.import_file(file, format="confab"))
    assert (report.chats_imported, report.messages_imported, report.skipped_duplicates) == (
        1, 2, 0,
    )
    chat = await run(client.tenant.get_chat(chat_id))
    assert (chat.name, chat.message_count, chat.tags, chat.pinned) == ("Imported", 2, ["old"], True)
    messages = (await run(client.tenant.messages(chat_id))).data
    assert [m.message for m in messages] == ["What is NDJSON?", "One JSON value per line."]
    assert messages[0].created_at.microsecond == 250000

    again = await run(client.tenant.import_file(file.read_bytes(), format="confab"))
    assert (again.chats_imported, again.skipped_duplicates) == (0, 1)

    with pytest.raises(BadRequestError) as broken:
        await run(client.tenant.import_file(b'{"chat": ', format="confab"))
    assert broken.value.code == "invalid_json"
