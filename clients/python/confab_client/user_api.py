"""The user API (`/api/auth/*`, `/api/users/{user_id}/...`): a session cookie, kept by
httpx's cookie jar, and integer ids. Each method describes its call once; `Confab` runs
it synchronously, `AsyncConfab` asynchronously (see operations.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import httpx

from . import replies
from .calls import Call, Request, StreamCall, body, path, query
from .events import ReplyEvent
from .models import (
    Actor,
    ArchivedFilter,
    Chat,
    DeleteLastResult,
    ExportLine,
    Message,
    Page,
    SearchHit,
    Share,
    Tree,
    User,
)
from .ndjson import NdjsonDecoder
from .operations import operation, streaming


class UserApi:
    user: User | None = None
    """The signed-in user (set by `sign_up` and `log_in`, cleared by `log_out`)."""

    def _root(self) -> str:
        if self.user is None:
            raise RuntimeError("sign up or log in first: the user API needs the user's id")
        return path("api", "users", self.user.id)

    def _chat(self, chat_id: int) -> str:
        return f"{self._root()}/chats/{int(chat_id)}"

    def _signed_in(self, response: httpx.Response) -> User:
        self.user = User.model_validate(response.json()["user"])
        return self.user

    # -- session --------------------------------------------------------------------

    @operation
    def sign_up(self, email: str, password: str, tenant_id: str | None = None) -> Call[User]:
        """Create an account (in the default tenant, or `tenant_id`'s) and sign in."""
        payload = body(email=email, password=password, tenant_id=tenant_id)
        return Call(Request("POST", "/api/auth/sign-up", json=payload), self._signed_in)

    @operation
    def log_in(self, email: str, password: str, tenant_id: str | None = None) -> Call[User]:
        payload = body(email=email, password=password, tenant_id=tenant_id)
        return Call(Request("POST", "/api/auth/login", json=payload), self._signed_in)

    @operation
    def log_out(self) -> Call[bool]:
        """Revoke the session on the server; the cookie is cleared."""

        def parse(response: httpx.Response) -> bool:
            self.user = None
            return bool(response.json())

        return Call(Request("POST", "/api/auth/logout"), parse)

    # -- chats ----------------------------------------------------------------------

    @operation
    def chats(
        self,
        order_by: str | None = None,
        archived: ArchivedFilter | bool | None = None,
        tag: str | None = None,
        limit: int | None = None,
        before: int | None = None,
        after: int | None = None,
    ) -> Call[list[Chat]]:
        """The user's chats, `updated_at:desc` unless `order_by` says otherwise
        (`"pinned:desc,updated_at:desc"`); archived ones only with `archived`."""
        params = query(
            order_by=order_by, archived=archived, tag=tag, limit=limit, before=before, after=after
        )
        return Call(
            Request("GET", f"{self._root()}/chats", params=params),
            lambda r: [Chat.model_validate(c) for c in r.json()["chats"]],
        )

    @operation
    def create_chat(self, name: str, model: str | None = None) -> Call[Chat]:
        return Call(
            Request("POST", f"{self._root()}/chats", json=body(name=name, model=model)),
            _chat_of,
        )

    @operation
    def update_chat(
        self,
        chat_id: int,
        *,
        name: str | None = None,
        archived: bool | None = None,
        pinned: bool | None = None,
        tags: Sequence[str] | None = None,
    ) -> Call[Chat]:
        """Set the fields given (at least one), leave the others alone."""
        payload = body(
            name=name, archived=archived, pinned=pinned, tags=None if tags is None else list(tags)
        )
        return Call(Request("PATCH", self._chat(chat_id), json=payload), _chat_of)

    @operation
    def delete_chat(self, chat_id: int, check_connections: bool = False) -> Call[bool]:
        """Delete the chat (live connections get `chat.deleted`). With
        `check_connections`, a chat open elsewhere (or with a reply being generated) is
        refused with 409 instead."""
        params = query(check_connections=True) if check_connections else None
        return Call(
            Request("DELETE", self._chat(chat_id), params=params), lambda r: bool(r.json())
        )

    @operation
    def share(self, chat_id: int) -> Call[Share]:
        """A read-only snapshot of the active path, readable by anyone with its `url`."""
        return Call(
            Request("POST", f"{self._chat(chat_id)}/share"),
            lambda r: Share.model_validate(r.json()),
        )

    # -- messages -------------------------------------------------------------------

    @operation
    def messages(
        self,
        chat_id: int,
        limit: int | None = None,
        before: int | None = None,
        after: int | None = None,
    ) -> Call[list[Message]]:
        """The active path, oldest first, each message with its files."""
        params = query(limit=limit, before=before, after=after)
        return Call(
            Request("GET", f"{self._chat(chat_id)}/messages", params=params), _messages_of
        )

    @operation
    def post_message(
        self, chat_id: int, text: str, actor: Actor = "user", parent_id: int | None = None
    ) -> Call[Message]:
        """Append a message under the current leaf (or `parent_id`); it becomes current."""
        payload = body(message=text, actor=actor, parent_id=parent_id)
        return Call(
            Request("POST", f"{self._chat(chat_id)}/messages", json=payload),
            lambda r: Message.model_validate(r.json()["chatMessage"]),
        )

    @operation
    def post_messages(
        self,
        chat_id: int,
        messages: Sequence[Mapping[str, str]],
        parent_id: int | None = None,
    ) -> Call[list[Message]]:
        """A batch, stored atomically in order: `[{"role": ..., "content": ...}, ...]`."""
        payload = body(messages=[dict(m) for m in messages], parent_id=parent_id)
        return Call(
            Request("POST", f"{self._chat(chat_id)}/messages", json=payload), _messages_of
        )

    @operation
    def edit_message(self, chat_id: int, message_id: int, text: str) -> Call[Message]:
        """A new sibling of the message with this text, made the current leaf."""
        return Call(
            Request(
                "PATCH", f"{self._chat(chat_id)}/messages/{int(message_id)}", json={"message": text}
            ),
            lambda r: Message.model_validate(r.json()["chatMessage"]),
        )

    @operation
    def tree(self, chat_id: int) -> Call[Tree]:
        """Every message of every branch, and the current leaf."""

        def parse(response: httpx.Response) -> Tree:
            answer = response.json()
            return Tree(
                messages=answer["chatMessages"],
                current_message_id=answer.get("current_message_id"),
            )

        return Call(Request("GET", f"{self._chat(chat_id)}/tree"), parse)

    @operation
    def set_current(self, chat_id: int, message_id: int) -> Call[list[Message]]:
        """Make the newest leaf under `message_id` current; answers the new active path."""
        payload = {"message_id": int(message_id)}
        return Call(Request("PUT", f"{self._chat(chat_id)}/current", json=payload), _messages_of)

    @operation
    def delete_last(self, chat_id: int) -> Call[DeleteLastResult]:
        """Delete the last exchange (and any unanswered user messages after it)."""
        return Call(
            Request("DELETE", f"{self._chat(chat_id)}/messages/last"),
            lambda r: DeleteLastResult.model_validate(r.json()),
        )

    # -- search and export ----------------------------------------------------------

    @operation
    def search(
        self, q: str, limit: int | None = None, cursor: str | None = None
    ) -> Call[Page[SearchHit[int]]]:
        """Messages and chat names of the user's chats matching `q`, best first."""

        def parse(response: httpx.Response) -> Page[SearchHit[int]]:
            answer = response.json()
            return Page[SearchHit[int]](
                data=answer["results"], next_cursor=answer.get("next_cursor")
            )

        params = query(q=q, limit=limit, cursor=cursor)
        return Call(Request("GET", f"{self._root()}/search", params=params), parse)

    @streaming
    def export(self, since: datetime | str | None = None) -> StreamCall[ExportLine]:
        """Every live chat of the user, one `ExportLine` per chat, read as it arrives."""
        return StreamCall(
            Request("GET", f"{self._root()}/export", params=query(since=since)),
            lambda: NdjsonDecoder(ExportLine),
        )

    # -- generated replies ----------------------------------------------------------

    @streaming
    def generate(
        self,
        chat_id: int,
        message: str | None = None,
        parent_id: int | None = None,
        model: str | None = None,
        system: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> StreamCall[ReplyEvent]:
        """Append `message` (if given) and generate the reply, as a stream of events.
        Without `message`: regenerate, a new reply under `parent_id` (or the leaf)."""
        return replies.generate(
            self._chat(chat_id), message, parent_id, model, system, temperature, max_tokens
        )

    @operation
    def generate_and_wait(
        self,
        chat_id: int,
        message: str | None = None,
        parent_id: int | None = None,
        model: str | None = None,
        system: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Call[Message]:
        """Like `generate`, but wait for the end and answer the final reply."""
        return replies.generate_and_wait(
            self._chat(chat_id), "chatMessage", message, parent_id, model, system,
            temperature, max_tokens,
        )

    @streaming
    def resume(
        self, chat_id: int, message_id: int, after: int | None = None
    ) -> StreamCall[ReplyEvent]:
        """A reply's stream again: the deltas after `after` (a `seq`), then live ones."""
        return replies.resume(self._chat(chat_id), message_id, after)

    @operation
    def stop(self, chat_id: int, message_id: int) -> Call[Message]:
        """Stop a reply being generated; it keeps its text and ends `stopped`."""
        return replies.stop(self._chat(chat_id), "chatMessage", message_id)


def _chat_of(response: httpx.Response) -> Chat:
    return Chat.model_validate(response.json()["chat"])


def _messages_of(response: httpx.Response) -> list[Message]:
    return [Message.model_validate(m) for m in response.json()["chatMessages"]]
