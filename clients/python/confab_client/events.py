"""The events of a generated reply's stream (docs/generation.md), typed, and the decoder
that turns the bytes of a `text/event-stream` answer into them."""

from __future__ import annotations

from typing import Literal

from .models import ConfabModel, Message, ReplyError
from .sse import SseEvent, SseParser


class MessageCreated(ConfabModel):
    """The user message (if the request had one), then the reply, `generating`."""

    type: Literal["message.created"] = "message.created"
    message: Message


class MessageDelta(ConfabModel):
    """A chunk of the reply's text; `seq` counts from 1 and is the SSE event id."""

    type: Literal["message.delta"] = "message.delta"
    message_id: int
    seq: int
    text: str


class MessageCompleted(ConfabModel):
    """The end: the final message, `complete` or `stopped`."""

    type: Literal["message.completed"] = "message.completed"
    message: Message


class MessageFailed(ConfabModel):
    """The end: the reply `failed`, was `interrupted`, or was `deleted` while followed."""

    type: Literal["message.failed"] = "message.failed"
    message_id: int
    status: str
    error: ReplyError


class StreamError(ConfabModel):
    """The stream itself failed (the reply is unaffected: resume it)."""

    type: Literal["error"] = "error"
    code: str
    message: str


class UnknownEvent(ConfabModel):
    """An event this client does not know, passed on as it came."""

    type: Literal["unknown"] = "unknown"
    event: str
    data: str
    id: str = ""
    """The SSE event id in force."""


class ReplyStreamCut(Exception):
    """A reply's stream ended before the reply's end event (`message.completed` or
    `message.failed`): the connection was cut. The reply goes on on the server; `resume`
    it with `message_id` (None when the stream was cut before the reply was created)
    after `last_seq` (0 before the first delta)."""

    def __init__(self, message_id: int | None, last_seq: int) -> None:
        super().__init__(
            f"the reply stream ended before the reply's end event (reply {message_id}, "
            f"last delta {last_seq})"
        )
        self.message_id = message_id
        self.last_seq = last_seq


ReplyEvent = (
    MessageCreated | MessageDelta | MessageCompleted | MessageFailed | StreamError | UnknownEvent
)
"""Any event of a reply's stream; tell them apart by `type` (or `isinstance`)."""

def reply_event(sse: SseEvent) -> ReplyEvent:
    """The typed form of one SSE event of a reply stream."""
    if sse.event in ("message.created", "message.completed"):
        message = Message.model_validate_json(sse.data)
        if sse.event == "message.created":
            return MessageCreated(message=message)
        return MessageCompleted(message=message)
    if sse.event == "message.delta":
        return MessageDelta.model_validate_json(sse.data)
    if sse.event == "message.failed":
        return MessageFailed.model_validate_json(sse.data)
    if sse.event == "error":
        return StreamError.model_validate_json(sse.data)
    return UnknownEvent(event=sse.event, data=sse.data, id=sse.id)


class ReplyEventDecoder:
    """Bytes of a reply stream in, typed events out (shared by both clients). A stream
    that ends without an end event raises `ReplyStreamCut`; a `StreamError` is an end
    too, one that says itself why the stream stopped."""

    def __init__(self) -> None:
        self._parser = SseParser()
        self._ended = False
        self._reply_id: int | None = None
        self._last_seq = 0

    def feed(self, chunk: bytes) -> list[ReplyEvent]:
        return self._noted([reply_event(e) for e in self._parser.feed(chunk)])

    def finish(self) -> list[ReplyEvent]:
        events = self._noted([reply_event(e) for e in self._parser.close()])
        if not self._ended:
            raise ReplyStreamCut(self._reply_id, self._last_seq)
        return events

    def _noted(self, events: list[ReplyEvent]) -> list[ReplyEvent]:
        """Keeps what a `ReplyStreamCut` reports: the reply, its last delta, the end."""
        for event in events:
            if isinstance(event, MessageCreated) and event.message.status == "generating":
                self._reply_id = event.message.id
            elif isinstance(event, MessageDelta):
                self._reply_id, self._last_seq = event.message_id, event.seq
            elif isinstance(event, (MessageCompleted, MessageFailed, StreamError)):
                self._ended = True
        return events
