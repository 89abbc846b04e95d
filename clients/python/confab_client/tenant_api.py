"""The tenant API (`/api/v1/...`): the key in `X-API-Key`, chats named by uuid, keyset
pages. Reached as `client.tenant`; each method describes its call once (operations.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import httpx

from . import replies
from .calls import Call, Request, StreamCall, Upload, body, path, query
from .events import ReplyEvent
from .models import (
    Actor,
    ArchivedFilter,
    ChatDeleted,
    ExportLine,
    ImportReport,
    Message,
    Page,
    SearchHit,
    TenantChat,
)
from .ndjson import NdjsonDecoder
from .operations import operation, streaming

ChatId = UUID | str
ImportFormat = Literal["chatgpt", "openwebui", "confab"]


def _chat(chat_id: ChatId) -> str:
    return path("api", "v1", "chats", chat_id)


def _tenant_chat(response: httpx.Response) -> TenantChat:
    return TenantChat.model_validate(response.json())


class TenantApi:
    # -- chats ----------------------------------------------------------------------

    @operation
    def create_chat(
        self,
        name: str | None = None,
        model: str | None = None,
        user_id: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Call[TenantChat]:
        """A chat of the tenant; with `user_id` it is that user's (and in their list)."""
        payload = body(
            name=name,
            model=model,
            user_id=user_id,
            metadata=None if metadata is None else dict(metadata),
        )
        return Call(Request("POST", "/api/v1/chats", json=payload), _tenant_chat)

    @operation
    def get_chat(self, chat_id: ChatId) -> Call[TenantChat]:
        """The chat with its `message_count` and `active_connections`."""
        return Call(Request("GET", _chat(chat_id)), _tenant_chat)

    @operation
    def chats(
        self,
        limit: int | None = None,
        cursor: str | None = None,
        archived: ArchivedFilter | bool | None = None,
        tag: str | None = None,
    ) -> Call[Page[TenantChat]]:
        """One page of the tenant's chats, newest first."""
        params = query(limit=limit, cursor=cursor, archived=archived, tag=tag)
        return Call(
            Request("GET", "/api/v1/chats", params=params),
            lambda r: Page[TenantChat].model_validate(r.json()),
        )

    @operation
    def update_chat(
        self,
        chat_id: ChatId,
        *,
        name: str | None = None,
        archived: bool | None = None,
        pinned: bool | None = None,
        tags: Sequence[str] | None = None,
    ) -> Call[TenantChat]:
        payload = body(
            name=name, archived=archived, pinned=pinned, tags=None if tags is None else list(tags)
        )
        return Call(Request("PATCH", _chat(chat_id), json=payload), _tenant_chat)

    @operation
    def delete_chat(self, chat_id: ChatId, force: bool = False) -> Call[ChatDeleted]:
        """Delete the chat; a chat with live connections (or a reply being generated)
        is refused with 409 `chat_has_active_connections` unless `force`."""
        params = query(force=True) if force else None
        return Call(
            Request("DELETE", _chat(chat_id), params=params),
            lambda r: ChatDeleted.model_validate(r.json()),
        )

    # -- messages -------------------------------------------------------------------

    @operation
    def messages(
        self, chat_id: ChatId, after: str | None = None, limit: int | None = None
    ) -> Call[Page[Message]]:
        """One page of the active path, oldest first; `after` is a `next_cursor`."""
        return Call(
            Request("GET", f"{_chat(chat_id)}/messages", params=query(after=after, limit=limit)),
            lambda r: Page[Message].model_validate(r.json()),
        )

    @operation
    def post_messages(
        self,
        chat_id: ChatId,
        messages: Sequence[Mapping[str, str]],
        parent_id: int | None = None,
    ) -> Call[list[Message]]:
        """A batch, stored atomically in order: `[{"role": ..., "content": ...}, ...]`."""
        payload = body(messages=[dict(m) for m in messages], parent_id=parent_id)
        return Call(
            Request("POST", f"{_chat(chat_id)}/messages", json=payload),
            lambda r: [Message.model_validate(m) for m in r.json()["data"]],
        )

    # -- search, export, import -----------------------------------------------------

    @operation
    def search(
        self,
        q: str,
        chat_id: ChatId | None = None,
        user_id: int | None = None,
        actor: Actor | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Call[Page[SearchHit[UUID]]]:
        """Messages and chat names of the tenant matching `q`, best first, filtered."""
        params = query(
            q=q, chat_id=chat_id, user_id=user_id, actor=actor, since=since, until=until,
            limit=limit, cursor=cursor,
        )
        return Call(
            Request("GET", "/api/v1/search", params=params),
            lambda r: Page[SearchHit[UUID]].model_validate(r.json()),
        )

    @streaming
    def export(
        self, user_id: int | None = None, since: datetime | str | None = None
    ) -> StreamCall[ExportLine]:
        """Every live chat of the tenant (or of one user), one `ExportLine` per chat."""
        return StreamCall(
            Request("GET", "/api/v1/export", params=query(user_id=user_id, since=since)),
            lambda: NdjsonDecoder(ExportLine),
        )

    @operation
    def import_file(
        self,
        source: Upload,
        format: ImportFormat,
        user_id: int | None = None,
        dry_run: bool = False,
    ) -> Call[ImportReport]:
        """Import a ChatGPT, Open WebUI or confab export: `source` is the file's path
        (streamed from disk) or its bytes."""
        params = query(format=format, user_id=user_id, dry_run=dry_run)
        return Call(
            Request("POST", "/api/v1/import", params=params, upload=source),
            lambda r: ImportReport.model_validate(r.json()),
        )

    # -- generated replies ----------------------------------------------------------

    @streaming
    def generate(
        self,
        chat_id: ChatId,
        message: str | None = None,
        parent_id: int | None = None,
        model: str | None = None,
        system: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> StreamCall[ReplyEvent]:
        """Append `message` (if given) and generate the reply, as a stream of events."""
        return replies.generate(
            _chat(chat_id), message, parent_id, model, system, temperature, max_tokens
        )

    @operation
    def generate_and_wait(
        self,
        chat_id: ChatId,
        message: str | None = None,
        parent_id: int | None = None,
        model: str | None = None,
        system: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Call[Message]:
        return replies.generate_and_wait(
            _chat(chat_id), "data", message, parent_id, model, system, temperature, max_tokens
        )

    @streaming
    def resume(
        self, chat_id: ChatId, message_id: int, after: int | None = None
    ) -> StreamCall[ReplyEvent]:
        return replies.resume(_chat(chat_id), message_id, after)

    @operation
    def stop(self, chat_id: ChatId, message_id: int) -> Call[Message]:
        return replies.stop(_chat(chat_id), "data", message_id)
