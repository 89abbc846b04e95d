"""The SSE parser and the typed reply-event decoder, fed a stream split at every point."""

from __future__ import annotations

import pytest

from confab_client import (
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    MessageFailed,
    ReplyStreamCut,
    StreamError,
)
from confab_client.events import ReplyEventDecoder, UnknownEvent
from confab_client.sse import SseEvent, SseParser

# Every line-end kind, comments, multi-line data, ids, a BOM, a field without a colon,
# an event without data (never dispatched) and characters of 2, 3 and 4 UTF-8 bytes.
SAMPLE = (
    "\ufeff: keep-alive comment\n"
    "event: first\r\n"
    "data: café\r\n"
    "id: 1\r\n"
    "\r\n"
    "data:no space\r"
    "data: second line 東京\r"
    "\r"
    "event: only-a-type\n"
    "\n"
    "data\n"
    "data:  two spaces 🎉\n"
    "retry: 1500\n"
    "id: bad\0id\n"
    ":another comment\n"
    "\n"
    "event: last\n"
    "data: {\"x\": 1}\n"
    "\n"
).encode("utf-8")

EXPECTED = [
    SseEvent(event="first", data="café", id="1", retry=None),
    SseEvent(event="message", data="no space\nsecond line 東京", id="1", retry=None),
    SseEvent(event="message", data="\n two spaces 🎉", id="1", retry=1500),
    SseEvent(event="last", data='{"x": 1}', id="1", retry=1500),
]


def parse_in_pieces(*pieces: bytes) -> list[SseEvent]:
    parser = SseParser()
    events: list[SseEvent] = []
    for piece in pieces:
        events.extend(parser.feed(piece))
    events.extend(parser.close())
    return events


def test_whole_stream() -> None:
    assert parse_in_pieces(SAMPLE) == EXPECTED


@pytest.mark.parametrize("split", range(len(SAMPLE) + 1))
def test_split_at_every_byte(split: int) -> None:
    assert parse_in_pieces(SAMPLE[:split], SAMPLE[split:]) == EXPECTED


def test_split_at_every_pair_of_bytes() -> None:
    for first in range(0, len(SAMPLE), 7):
        for second in range(first, len(SAMPLE) + 1):
            pieces = (SAMPLE[:first], SAMPLE[first:second], SAMPLE[second:])
            assert parse_in_pieces(*pieces) == EXPECTED, (first, second)


def test_one_byte_at_a_time() -> None:
    assert parse_in_pieces(*(SAMPLE[i : i + 1] for i in range(len(SAMPLE)))) == EXPECTED


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    # Were `\r` and `\n` two line ends, the empty line between them would dispatch "a".
    assert parse_in_pieces(b"data: a\r", b"\ndata: b\r\n\r\n") == [
        SseEvent(event="message", data="a\nb", id="", retry=None)
    ]


def test_cr_alone_ends_lines() -> None:
    assert [e.data for e in parse_in_pieces(b"data: a\r\rdata: b\r\r")] == ["a", "b"]


def test_event_without_blank_line_at_the_end_is_dropped() -> None:
    assert parse_in_pieces(b"data: done\n\ndata: cut") == [
        SseEvent(event="message", data="done", id="", retry=None)
    ]


def test_invalid_utf8_becomes_replacement_character() -> None:
    assert parse_in_pieces(b"data: a\xffb\n\n")[0].data == "a\ufffdb"


def test_bom_only_stripped_at_the_start() -> None:
    bom = "\ufeff".encode()
    events = parse_in_pieces(bom[:1], bom[1:] + b"data: x\n\ndata: " + bom + b"\n\n")
    assert [e.data for e in events] == ["x", "\ufeff"]


# A reply stream as confab sends it (docs/generation.md), with a keep-alive comment.
MESSAGE = (
    '{"id":2,"chat_conversation_id":1,"actor":"assistant","message":"%s",'
    '"created_at":"2026-11-30T05:00:25.517131Z","updated_at":"2026-11-30T05:00:25.517131Z",'
    '"parent_id":1,"sibling_ids":[2],"status":"%s","model":"echo","files":[]}'
)
REPLY_STREAM = (
    "event: message.created\ndata: " + MESSAGE % ("", "generating") + "\n\n"
    + 'event: message.delta\ndata: {"message_id":2,"seq":1,"text":"Grüße "}\nid: 1\n\n'
    + ": keep-alive\n\n"
    + 'event: message.delta\ndata: {"message_id":2,"seq":2,"text":"🌍"}\nid: 2\n\n'
    + "event: message.completed\ndata: " + MESSAGE % ("Grüße 🌍", "complete") + "\n\n"
    + 'event: message.failed\ndata: {"message_id":3,"status":"failed",'
    + '"error":{"code":"llm_timeout","message":"late"}}\n\n'
    + "event: something.new\ndata: {}\n\n"
).encode("utf-8")


@pytest.mark.parametrize("split", range(0, len(REPLY_STREAM) + 1, 3))
def test_reply_events_typed(split: int) -> None:
    decoder = ReplyEventDecoder()
    events = decoder.feed(REPLY_STREAM[:split]) + decoder.feed(REPLY_STREAM[split:])
    events += decoder.finish()
    created, delta1, delta2, completed, failed, unknown = events
    assert isinstance(created, MessageCreated) and created.message.status == "generating"
    assert isinstance(delta1, MessageDelta) and (delta1.seq, delta1.text) == (1, "Grüße ")
    assert isinstance(delta2, MessageDelta) and (delta2.seq, delta2.text) == (2, "🌍")
    assert isinstance(completed, MessageCompleted)
    assert completed.message.message == delta1.text + delta2.text
    assert completed.message.model == "echo"
    assert isinstance(failed, MessageFailed) and failed.error.code == "llm_timeout"
    assert isinstance(unknown, UnknownEvent) and unknown.event == "something.new"


def test_reply_stream_cut_before_its_end_event_raises() -> None:
    # The connection ends after the second delta, without `message.completed`.
    cut = REPLY_STREAM[: REPLY_STREAM.index(b"event: message.completed")]
    decoder = ReplyEventDecoder()
    events = decoder.feed(cut)
    assert [type(e) for e in events] == [MessageCreated, MessageDelta, MessageDelta]
    with pytest.raises(ReplyStreamCut) as raised:
        decoder.finish()
    assert (raised.value.message_id, raised.value.last_seq) == (2, 2)


def test_reply_stream_cut_before_the_reply_was_created_raises() -> None:
    decoder = ReplyEventDecoder()
    assert decoder.feed(b": keep-alive\n\n") == []
    with pytest.raises(ReplyStreamCut) as raised:
        decoder.finish()
    assert (raised.value.message_id, raised.value.last_seq) == (None, 0)


@pytest.mark.parametrize(
    "end",
    [
        'event: message.failed\ndata: {"message_id":2,"status":"interrupted",'
        '"error":{"code":"node_lost","message":"gone"}}\n\n',
        'event: error\ndata: {"code":"internal","message":"the database could not be read"}\n\n',
    ],
)
def test_reply_stream_ending_failed_or_with_an_error_event_is_not_cut(end: str) -> None:
    decoder = ReplyEventDecoder()
    events = decoder.feed(REPLY_STREAM[: REPLY_STREAM.index(b"event: message.completed")])
    events += decoder.feed(end.encode()) + decoder.finish()
    assert isinstance(events[-1], (MessageFailed, StreamError))
