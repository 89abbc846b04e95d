"""Generated replies (docs/generation.md): generate, resume and stop, described once for
both APIs. `chat_path` is the chat's route in either API; `envelope` the key that wraps a
single message in that API's answers (`chatMessage` or `data`)."""

from __future__ import annotations

from .calls import Call, Request, StreamCall, body
from .events import ReplyEvent, ReplyEventDecoder
from .models import Message


def _generate_body(
    message: str | None,
    parent_id: int | None,
    model: str | None,
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
    stream: bool,
) -> dict[str, object]:
    return body(
        message=None if message is None else {"content": message, "role": "user"},
        parent_id=parent_id,
        model=model,
        system=system,
        temperature=temperature,
        max_tokens=max_tokens,
        stream=stream,
    )


def generate(
    chat_path: str,
    message: str | None,
    parent_id: int | None,
    model: str | None,
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
) -> StreamCall[ReplyEvent]:
    payload = _generate_body(message, parent_id, model, system, temperature, max_tokens, True)
    return StreamCall(
        Request("POST", f"{chat_path}/generate", json=payload, headers=_EVENT_STREAM),
        ReplyEventDecoder,
    )


def generate_and_wait(
    chat_path: str,
    envelope: str,
    message: str | None,
    parent_id: int | None,
    model: str | None,
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
) -> Call[Message]:
    payload = _generate_body(message, parent_id, model, system, temperature, max_tokens, False)
    return Call(
        Request("POST", f"{chat_path}/generate", json=payload),
        lambda r: Message.model_validate(r.json()[envelope]),
    )


def resume(chat_path: str, message_id: int, after: int | None) -> StreamCall[ReplyEvent]:
    headers = dict(_EVENT_STREAM)
    if after is not None:
        headers["Last-Event-ID"] = str(after)
    return StreamCall(
        Request("GET", f"{chat_path}/messages/{int(message_id)}/stream", headers=headers),
        ReplyEventDecoder,
    )


def stop(chat_path: str, envelope: str, message_id: int) -> Call[Message]:
    return Call(
        Request("POST", f"{chat_path}/messages/{int(message_id)}/stop"),
        lambda r: Message.model_validate(r.json()[envelope]),
    )


_EVENT_STREAM = {"Accept": "text/event-stream"}
