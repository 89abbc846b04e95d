"""Decoding NDJSON (an export: one chat per line) as its bytes arrive."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)


class ExportCutShort(Exception):
    """The body ended inside a line: the server aborted the export mid-way (it never ends
    a complete export without a final newline)."""


class NdjsonDecoder(Generic[ModelT]):
    """Bytes in, one parsed model per complete line out; blank lines are skipped."""

    def __init__(self, model: type[ModelT]) -> None:
        self._model = model
        # the start of the current line, in pieces: a chat's line can be megabytes long
        # and arrive in many chunks, which joining at every chunk would make quadratic
        self._pending: list[bytes] = []

    def feed(self, chunk: bytes) -> list[ModelT]:
        if b"\n" not in chunk:
            self._pending.append(chunk)
            return []
        first, *lines, rest = chunk.split(b"\n")
        lines.insert(0, b"".join(self._pending) + first)
        self._pending = [rest]
        return [self._model.model_validate_json(line) for line in lines if line.strip()]

    def finish(self) -> list[ModelT]:
        rest = b"".join(self._pending)
        if rest.strip():
            raise ExportCutShort(f"the export ended inside a line of {len(rest)} bytes")
        return []
