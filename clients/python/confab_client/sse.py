"""An incremental parser of `text/event-stream`, as the WHATWG HTML standard defines it.

It is fed raw bytes in whatever pieces the network delivers, so a line, a line end
(`\\r` + `\\n`) or a UTF-8 character may be split between two chunks. The sync and the
async client feed the same parser.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event: its type (`message` when the stream named none), its data
    lines joined with `\\n`, the last event id seen so far ("" when none) and the
    reconnection time the stream asked for, if any."""

    event: str
    data: str
    id: str
    retry: int | None


class SseParser:
    """Turns chunks of bytes into `SseEvent`s; see `feed` and `close`."""

    def __init__(self) -> None:
        # "replace" as the standard says: a broken byte becomes U+FFFD, the stream goes on.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line = ""
        self._after_cr = False
        self._at_start = True
        self._event = ""
        self._data: list[str] = []
        self._last_id = ""
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events completed by this chunk (possibly none)."""
        return self._feed_text(self._decoder.decode(chunk))

    def close(self) -> list[SseEvent]:
        """End of stream. An event not yet ended by a blank line is dropped, as the
        standard says; only a complete event left in the decoder comes out."""
        return self._feed_text(self._decoder.decode(b"", final=True))

    def _feed_text(self, text: str) -> list[SseEvent]:
        if not text:
            return []
        if self._at_start:
            self._at_start = False
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._after_cr and text.startswith("\n"):
            # the `\n` of a `\r\n` that the previous chunk ended inside
            text = text[1:]
        events: list[SseEvent] = []
        start = 0
        for end in _LINE_END.finditer(text):
            line = self._line + text[start : end.start()]
            self._line = ""
            start = end.end()
            event = self._take_line(line)
            if event is not None:
                events.append(event)
        self._line += text[start:]
        self._after_cr = text.endswith("\r")
        return events

    def _take_line(self, line: str) -> SseEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: keep-alives are sent this way
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry":
            if _DIGITS.fullmatch(value):
                self._retry = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        event_type, data = self._event, self._data
        self._event, self._data = "", []
        if not data:
            return None
        return SseEvent(
            event=event_type or "message",
            data="\n".join(data),
            id=self._last_id,
            retry=self._retry,
        )
