"""Typed views of what confab answers, written from its OpenAPI document
(crates/confab/tests/api/snapshots/openapi.json) and docs/api.md.

Every model keeps fields it does not know (`extra="allow"`), so a newer server that adds
fields does not break an older client; the known ones are typed and checked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

Actor = Literal["user", "assistant", "system"]
"""Who wrote a message."""

ArchivedFilter = Literal["false", "true", "all"]
"""A chat list's `archived`: leave archived chats out (the default), only them, or all."""

ChatIdT = TypeVar("ChatIdT", int, UUID)
ItemT = TypeVar("ItemT")


class ConfabModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class User(ConfabModel):
    id: int
    email: str
    created_at: datetime
    updated_at: datetime


class Chat(ConfabModel):
    """A chat as the user API shows it: an integer `id`; `uuid` names it in `/api/v1`."""

    id: int
    uuid: UUID
    name: str
    model: str
    neptun_user_id: int | None = None
    created_at: datetime
    updated_at: datetime
    current_message_id: int | None = None
    archived: bool = False
    pinned: bool = False
    tags: list[str] = Field(default_factory=list)
    trashed_at: datetime | None = None
    """Only in trash lists."""


class TenantChat(ConfabModel):
    """A chat as the tenant API shows it: `id` is the uuid."""

    id: UUID
    name: str
    model: str
    user_id: int | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime
    current_message_id: int | None = None
    archived: bool = False
    pinned: bool = False
    tags: list[str] = Field(default_factory=list)
    message_count: int | None = None
    """Only from `GET /api/v1/chats/{chat_id}`."""
    active_connections: int | None = None
    """Only from `GET /api/v1/chats/{chat_id}`."""
    trashed_at: datetime | None = None


class File(ConfabModel):
    """A fenced code block of an assistant message."""

    id: int
    title: str
    text: str
    language: str
    extension: str
    neptun_user_id: int | None = None
    chat_conversation_id: int
    chat_conversation_message_id: int
    created_at: datetime
    updated_at: datetime


class Usage(ConfabModel):
    prompt_tokens: int
    completion_tokens: int


class ReplyError(ConfabModel):
    """Why a reply failed: `llm_upstream_error`, `llm_timeout`, `reply_too_long`,
    `node_lost`, ..."""

    code: str
    message: str


class Message(ConfabModel):
    id: int
    chat_conversation_id: int
    actor: Actor
    message: str
    created_at: datetime
    updated_at: datetime
    parent_id: int | None = None
    sibling_ids: list[int] = Field(default_factory=list)
    status: str = "complete"
    """`complete` for posted messages; a generated reply is `generating` until it is
    `complete`, `stopped`, `failed` or `interrupted`."""
    files: list[File] = Field(default_factory=list)
    """Empty in delete-last answers, which carry no files."""
    model: str | None = None
    usage: Usage | None = None
    error: ReplyError | None = None


class Tree(ConfabModel):
    """Every message of a chat (all branches) and the leaf of the active one."""

    messages: list[Message]
    current_message_id: int | None = None


class DeleteLastResult(ConfabModel):
    """What delete-last removed: the exchange (`assistant_message`, `user_message`)
    and/or the trailing user messages' ids (`deleted_ids`)."""

    assistant_message: Message | None = Field(None, alias="maybeAssistantMessageToDelete")
    user_message: Message | None = Field(None, alias="maybeUserMessageToDelete")
    deleted_ids: list[int] = Field(default_factory=list, alias="deletedSuccessfully")
    failed_ids: list[int] = Field(default_factory=list, alias="failedToDelete")

    @property
    def all_deleted_ids(self) -> list[int]:
        """Every message id the call deleted."""
        pair = [m.id for m in (self.user_message, self.assistant_message) if m is not None]
        return pair + self.deleted_ids


class SearchHit(ConfabModel, Generic[ChatIdT]):
    """A hit on a message, or on a chat's name (`message_id` and `actor` are then None).
    `chat_id` is an int on the user API and a UUID on the tenant API."""

    chat_id: ChatIdT
    chat_name: str
    message_id: int | None = None
    actor: Actor | None = None
    created_at: datetime
    snippet: str
    highlights: list[tuple[int, int]]
    """`[start, end)` offsets in code points into `snippet`."""


class Page(ConfabModel, Generic[ItemT]):
    """One page of a keyset-paged list; pass `next_cursor` back for the next one
    (None on the last page)."""

    data: list[ItemT]
    next_cursor: str | None = None


class Share(ConfabModel):
    share_id: str
    url: str


class ChatDeleted(ConfabModel):
    success: bool
    message: str
    deleted_at: datetime


class ImportFailure(ConfabModel):
    source_id: str
    message: str


class ImportReport(ConfabModel):
    chats_imported: int
    messages_imported: int
    skipped_duplicates: int
    errors: list[ImportFailure]


class ExportLine(ConfabModel):
    """One chat of an NDJSON export, with its whole message tree."""

    chat: TenantChat
    source_id: str | None = None
    messages: list[Message]
